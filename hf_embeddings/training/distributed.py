"""Several processes (`torchrun`, `accelerate launch`; gloo on CPUs, NCCL on GPUs) for the families whose
updates are sparse rows applied locally (Word2Vec's compiled kernel updates its tables in place; GloVe and
the Word2Vec tensor path step sparse gradients).

DistributedDataParallel does not fit them: the CPU kernel leaves no gradient to reduce, NCCL cannot reduce
sparse gradients, and a rank whose batch misses a table gets "Expected sparse gradient to be defined".
Instead every process trains its own replica on its own shard of the batches (accelerate shards the
DataLoader) and `ReplicaSync` all-reduces the *sum* of the replicas' updates every `every` steps:

    W <- W_sync + sum_r (W_r - W_sync)

which is what one process would have applied after seeing every rank's examples, with each rank's
examples evaluated against weights up to `every` steps stale. Summing keeps gensim's per-word learning
rate: each rank's schedule runs over its share of the steps, so the rate at a corpus position is the
rate one process would use there. Averaging instead (Spark MLlib's merge) divides every update by the
number of workers, which is why MLlib loses accuracy as partitions grow; BlazingText and Ji et al. 2016
keep quality by exchanging updates rather than averaged models at a short interval, which this does
(measured in bench/distributed.py). The optimiser's per-row state (GloVe's AdaGrad sums) is summed the
same way, so every replica divides by the squares of every rank's updates.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from transformers import TrainerCallback


def world_size() -> int:
    """Number of processes of the launch (`WORLD_SIZE` as torchrun and accelerate set it; 1 otherwise)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size()
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def is_main_process() -> bool:
    """Whether this process writes folders, cards and logs (global rank 0, or no launcher)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank() == 0
    return os.environ.get("RANK", "0") == "0"


class ReplicaSync(TrainerCallback):
    """Sum the replicas' updates across processes every `every` optimiser steps, before every checkpoint
    and at the end of training (see the module docstring). A no-op with one process."""

    def __init__(self, every: int = 1):
        if every < 1:
            raise ValueError(f"replica sync interval must be >= 1 step, got {every}")
        self.every = every
        self._tensors: list[torch.Tensor] = []
        self._anchors: list[torch.Tensor] = []

    @staticmethod
    def active() -> bool:
        return torch.distributed.is_available() and torch.distributed.is_initialized() and world_size() > 1

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        if not self.active():
            return
        inner = getattr(optimizer, "optimizer", optimizer)  # accelerate's wrapper
        if hasattr(inner, "init_state"):  # per-row optimiser state must exist before it can be anchored
            inner.init_state()
        tensors = [p.data for p in model.parameters()]
        for p in model.parameters():
            for value in getattr(inner, "state", {}).get(p, {}).values():
                if torch.is_tensor(value) and value.shape == p.shape:
                    tensors.append(value)
        for t in tensors:  # every replica starts from rank 0's weights (a resumed run loaded the same files)
            torch.distributed.broadcast(t, src=0)
        self._tensors = tensors
        self._anchors = [t.detach().clone() for t in tensors]

    def on_step_end(self, args, state, control, **kwargs):
        if self._tensors and (state.global_step % self.every == 0 or control.should_save):
            self.sync()

    def on_train_end(self, args, state, control, **kwargs):
        if self._tensors:
            self.sync()

    @torch.no_grad()
    def sync(self) -> None:
        for t, anchor in zip(self._tensors, self._anchors):
            delta = t - anchor
            torch.distributed.all_reduce(delta, op=torch.distributed.ReduceOp.SUM)
            anchor.add_(delta)
            t.copy_(anchor)


def process_state(device: str):
    """accelerate's `PartialState` when launched as several processes (initialises the process group:
    gloo for CPUs, NCCL for GPUs), else None."""
    if world_size() == 1:
        return None
    from accelerate import PartialState

    state = PartialState(cpu=device == "cpu")
    global _EXIT_HOOK
    if not _EXIT_HOOK:
        # a process group still alive when the interpreter exits can abort a rank in gloo's destructor
        # ("terminate called without an active exception", exit -6) after its work is done
        atexit.register(_destroy_process_group)
        _EXIT_HOOK = True
    return state


_EXIT_HOOK = False


def _destroy_process_group() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


@contextmanager
def main_process_first(state) -> Iterator[None]:
    """Run the block on the main process first, then on the others (they find its caches: the corpus's
    token ids and vocabulary, GloVe's co-occurrence counts, so those are built once and are identical)."""
    if state is None:
        yield
        return
    with state.main_process_first():
        yield


def local_device(device: str) -> str:
    """The device of this process: under a multi-process launch plain "cuda" means this rank's GPU."""
    if device == "cuda" and world_size() > 1:
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return device
