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
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from transformers import TrainerCallback

from ..errors import HFEmbeddingsError


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
    """Sum the replicas' updates across processes every `every` optimiser steps, before every checkpoint,
    at every epoch's end and at the end of training (see the module docstring). A no-op with one process.

    `every=None` (the default) picks the interval from the first steps: the smallest one that keeps the
    exchange (a dense all-reduce of every table: its cost grows with vocabulary x dimension, not with the
    step) under `overhead` of the training time, at most `max_every` steps: GloVe's quality holds at that.
    Word2Vec's does not (summing 2-4 steps of replicas' updates cost analogy accuracy), so its family asks
    for an exchange every 131,072 words per process (`trainer_kwargs["replica_sync"]`). Under
    `full_determinism` the interval is 1 unless given (timings would make runs differ).
    """

    PROBE_STEPS = 3
    #: elements exchanged per all-reduce call: the buffer is reused (no allocation per exchange) and bounded
    CHUNK = 1 << 24

    def __init__(self, every: int | None = None, *, overhead: float = 0.05, max_every: int = 64):
        if every is not None and every < 1:
            raise ValueError(f"replica sync interval must be >= 1 step, got {every}")
        self.every = every
        self.overhead, self.max_every = overhead, max_every
        self._tensors: list[torch.Tensor] = []
        self._anchors: list[torch.Tensor] = []
        self._buffers: dict[tuple, torch.Tensor] = {}  # (dtype, device) -> reused exchange buffer
        self._interval = every
        self._since = 0
        self._step_t0 = 0.0
        self._probe: list[tuple[float, float]] = []  # (step seconds, sync seconds) of the first steps

    @property
    def interval(self) -> int | None:
        """The interval in effect (steps between exchanges; None while the first steps are still timed)."""
        return self._interval

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
        for t in tensors:
            if not t.is_contiguous():  # exchanged through flat views, which must write into the tensor
                raise ValueError(f"ReplicaSync: a table of shape {tuple(t.shape)} is not contiguous")
        self._tensors = tensors
        self._anchors = [t.detach().clone() for t in tensors]
        self._buffers = {}
        for t in tensors:
            key = (t.dtype, t.device)
            size = min(max(t.numel(), self._buffers[key].numel() if key in self._buffers else 0), self.CHUNK)
            self._buffers[key] = torch.empty(size, dtype=t.dtype, device=t.device)
        if getattr(args, "full_determinism", False):
            self._interval = self.every or 1
        self._since, self._probe = 0, []

    def on_step_begin(self, args, state, control, **kwargs):
        self._step_t0 = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if not self._tensors:
            return
        self._since += 1
        if self._interval is None:  # probing: sync after each step, timing both
            step = time.perf_counter() - self._step_t0
            t0 = time.perf_counter()
            self.sync()
            self._probe.append((step, time.perf_counter() - t0))
            if len(self._probe) == self.PROBE_STEPS:
                self._interval = self._choose_interval()
            return
        if self._since >= self._interval or control.should_save:
            self.sync()

    def _choose_interval(self) -> int:
        """Rank 0's choice from the probe (the first step, with its warm-up, left out), sent to all."""
        probe = self._probe[1:] or self._probe
        step = min(s for s, _ in probe)
        exchange = sorted(x for _, x in probe)[len(probe) // 2]
        wanted = math.ceil(exchange / max(self.overhead * step, 1e-9))
        choice = torch.tensor(
            [min(max(wanted, 1), self.max_every)], dtype=torch.int64, device=self._tensors[0].device
        )
        torch.distributed.broadcast(choice, src=0)
        return int(choice.item())

    def on_epoch_end(self, args, state, control, **kwargs):
        if self._tensors and self._since:  # an epoch's evaluation and records see the merged model
            self.sync()

    def on_train_end(self, args, state, control, **kwargs):
        if self._tensors:
            self.sync()

    @torch.no_grad()
    def sync(self) -> None:
        for t, anchor in zip(self._tensors, self._anchors):
            buffer = self._buffers[(t.dtype, t.device)]
            flat, base = t.view(-1), anchor.view(-1)
            for lo in range(0, flat.numel(), buffer.numel()):
                hi = min(lo + buffer.numel(), flat.numel())
                delta = buffer[: hi - lo]
                torch.sub(flat[lo:hi], base[lo:hi], out=delta)
                torch.distributed.all_reduce(delta, op=torch.distributed.ReduceOp.SUM)
                base[lo:hi].add_(delta)
                flat[lo:hi].copy_(base[lo:hi])
        self._since = 0


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
        rank, gpus = int(os.environ.get("LOCAL_RANK", "0")), torch.cuda.device_count()
        if rank >= gpus:  # NCCL refuses two processes on one GPU; say so before anything is built
            raise HFEmbeddingsError(
                f"process {rank} of this node has no GPU of its own: the node has {gpus} "
                f"(one process per GPU): launch with --nproc-per-node {max(gpus, 1)} or fewer"
            )
        return f"cuda:{rank}"
    return device
