"""Trainer glue shared by every family: a sparse-aware `Trainer`, plain SGD over sparse gradients, linear
learning-rate decay to a floor (gensim's alpha -> min_alpha), float64 loss per epoch and words/s."""

from __future__ import annotations

import functools
import inspect
import json
import math
import os
import time
from pathlib import Path

import torch
from transformers import Trainer, TrainerCallback

# what families return (kept in the registry so importing a family does not import the Trainer)
from ..models.family import PREBUILT_BATCH_ARGS, TrainingData, unwrap_batch
from .checkpoints import EMBEDDING_TRAINER_STATE
from .distributed import ReplicaSync

__all__ = [
    "PREBUILT_BATCH_ARGS",
    "EmbeddingTrainer",
    "SparseSGD",
    "TrainingData",
    "linear_to_floor",
    "unwrap_batch",
]


class SparseSGD(torch.optim.Optimizer):
    """SGD that applies sparse gradients with one `index_add_` and never coalesces them.

    Sparse gradients (`nn.Embedding(sparse=True)`, the fused Word2Vec kernel) come as uncoalesced
    (index, row) pairs; coalescing (a sort) costs more than the update itself, and `index_add_` sums
    duplicate rows anyway, exactly what sequential per-example SGD adds up to, minus the intermediate
    reads. Those missing reads matter for rows that occur many times in one batch (a frequent word used
    as a negative thousands of times): all their terms are computed at the same stale value and their
    coherent sum can overshoot far beyond where sequential SGD would have gone, and diverge. Per-row
    guards against that:

    - `max_row_step=tau`: a trust region. A row whose update could be longer than tau
      (lr * sum of its occurrences' gradient norms > tau) is scaled down to that bound; rows that move
      less (nearly all) get exactly the SGD step.
    - `max_row_updates=T`: a row seen n > T times in the gradient moves as if it had been seen T times.

    Dense gradients get a plain SGD step.
    """

    def __init__(
        self,
        params,
        lr: float = 0.025,
        max_row_updates: float | None = None,
        max_row_step: float | None = None,
    ):
        if lr < 0:
            raise ValueError(f"learning rate must be >= 0, got {lr}")
        if max_row_updates is not None and not max_row_updates > 0:
            raise ValueError(f"max_row_updates must be > 0 or None, got {max_row_updates}")
        if max_row_step is not None and not max_row_step > 0:
            raise ValueError(f"max_row_step must be > 0 or None, got {max_row_step}")
        super().__init__(params, {"lr": lr, "max_row_updates": max_row_updates, "max_row_step": max_row_step})

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            lr = group["lr"]
            cap, tau = group.get("max_row_updates"), group.get("max_row_step")
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if not g.is_sparse:
                    p.add_(g, alpha=-lr)
                    continue
                idx, vals = g._indices()[0], g._values()
                scale = row_update_scale(idx, p.shape[0], cap) if cap else None
                if tau and lr > 0:
                    bound = row_step_scale(idx, vals, p.shape[0], tau / lr, scale)
                    scale = bound if scale is None else scale * bound
                if scale is not None:
                    vals = vals * scale.unsqueeze(1).to(vals.dtype)
                p.index_add_(0, idx, vals.to(p.dtype), alpha=-lr)
        return loss


def row_update_scale(idx: torch.Tensor, num_rows: int, cap: float) -> torch.Tensor:
    """Per-occurrence factor min(1, cap / occurrences of its row): a row seen n > cap times in one sparse
    gradient moves as if it had been seen `cap` times (mean of its n gradient rows times cap)."""
    counts = torch.bincount(idx, minlength=num_rows)
    factor = (cap / counts.clamp_min(1).to(torch.float32)).clamp_max_(1.0)
    return factor[idx]


def row_step_scale(
    idx: torch.Tensor, vals: torch.Tensor, num_rows: int, bound: float, scale: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-occurrence factor min(1, bound / sum of the row's gradient-row norms) (times `scale` first)."""
    norms = torch.linalg.vector_norm(vals, dim=1).float()
    if scale is not None:
        norms = norms * scale
    total = torch.zeros(num_rows, dtype=norms.dtype, device=norms.device).index_add_(0, idx, norms)
    return (bound / total.clamp_min_(1e-30)).clamp_max_(1.0)[idx]


def linear_to_floor(
    optimizer: torch.optim.Optimizer, total_steps: int, floor: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear decay from each group's lr to `floor` over `total_steps` (gensim's alpha -> min_alpha)."""
    starts = [g["lr"] for g in optimizer.param_groups]

    def factor(step: int, start: float) -> float:
        if start <= 0:
            return 0.0
        frac = min(step / max(total_steps, 1), 1.0)
        return (start - (start - floor) * frac) / start

    return torch.optim.lr_scheduler.LambdaLR(optimizer, [lambda s, a=a: factor(s, a) for a in starts])


def _has_sparse_grads(model: torch.nn.Module) -> bool:
    return any(p.grad is not None and p.grad.is_sparse for p in model.parameters())


class _EpochCallback(TrainerCallback):
    def __init__(self, trainer: EmbeddingTrainer):
        self.trainer = trainer

    def on_epoch_begin(self, args, state, control, **kwargs):
        ds = self.trainer.train_dataset
        if hasattr(ds, "set_epoch"):
            # floor, not round: a run resumed in the middle of epoch 2 has state.epoch 1.5 here
            ds.set_epoch(math.floor((state.epoch or 0) + 1e-9))
        self.trainer._epoch_start(resumed=True)

    def on_epoch_end(self, args, state, control, **kwargs):
        self.trainer._epoch_end(state)


def has_sparse_rows(model: torch.nn.Module) -> bool:
    """Whether the model's tables take sparse row updates (Word2Vec, GloVe) rather than dense gradients."""
    return any(getattr(m, "sparse", False) for m in model.modules() if isinstance(m, torch.nn.Embedding))


class EmbeddingTrainer(Trainer):
    """`Trainer` for embedding models with sparse gradients and per-word learning-rate schedules.

    - gradient norms/clipping understand sparse gradients (the stock Trainer crashes on them);
    - with `sparse_sgd=True` (default when the model has sparse parameters) the optimiser is `SparseSGD`
      with `args.learning_rate`, decayed linearly to `min_learning_rate`, and the per-row guards
      `max_row_step` / `max_row_updates`;
    - a model whose forward takes `learning_rate` gets the rate of the SGD step that will apply its
      gradient (Word2Vec uses it to train the sub-batches of a batch one after the other);
    - the loss of each epoch is accumulated in float64 on the device (no per-step sync) and logged as
      `epoch_loss` (sum) and `epoch_loss_per_item` (models that report their examples) or
      `epoch_mean_batch_loss` (models whose loss is a per-batch mean), with `words_per_second` from the batches' `num_words`.
    """

    def __init__(
        self,
        *args,
        min_learning_rate: float | None = None,
        sparse_sgd: bool | None = None,
        max_row_updates: float | None = None,
        max_row_step: float | None = None,
        replica_sync: str | int | None = "auto",
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.min_learning_rate = min_learning_rate
        self.sparse_sgd = sparse_sgd
        self.max_row_updates = max_row_updates
        self.max_row_step = max_row_step
        self.epoch_history: list[dict] = []
        self._resumed_epoch: dict | None = None
        #: what a checkpoint must match to continue this run (fit sets it)
        self.run_identity: dict | None = None
        #: `(model) -> {metric: number}` run at every epoch's end (fit's `eval_every_epoch`), or None
        self.epoch_evaluation = None
        self._takes_lr: bool | None = None
        self._takes_lr_end = False
        self._epoch_start()  # the per-epoch accumulators (reset again at every epoch's start)
        self.replica_sync: ReplicaSync | None = None
        if replica_sync == "auto":  # sparse row updates: replicas summed by their updates (see ReplicaSync)
            replica_sync = "adaptive" if has_sparse_rows(self.model) else None
        if replica_sync is not None:  # before the epoch records: an epoch's end sees the merged replicas
            self.replica_sync = ReplicaSync(every=None if replica_sync == "adaptive" else int(replica_sync))
            self.add_callback(self.replica_sync)
        self.add_callback(_EpochCallback(self))

    # --- checkpoints: what Trainer does not keep (per-epoch records, the current epoch's accumulators) ---
    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        if self.args.should_save:
            folder = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
            loss = self._epoch_loss
            record = {
                "run": self.run_identity,
                "epoch_history": self.epoch_history,
                # a checkpoint at an epoch's end has no epoch in progress to carry over
                "current_epoch": None
                if self._epoch_closed
                else {
                    "loss": None if loss is None else float(loss),
                    "items": int(self._epoch_items),
                    "batches": int(self._epoch_batches),
                    "words": None if self._epoch_words is None else int(self._epoch_words),
                    "seconds": time.perf_counter() - self._epoch_t0,
                },
            }
            # written after trainer_state.json: a checkpoint without it was cut short (see checkpoint_is_complete)
            tmp = folder / (EMBEDDING_TRAINER_STATE + ".tmp")
            tmp.write_text(json.dumps(record), encoding="utf-8")
            os.replace(tmp, folder / EMBEDDING_TRAINER_STATE)

    def train(self, resume_from_checkpoint=None, *args, **kwargs):
        if isinstance(resume_from_checkpoint, (str, os.PathLike)):
            saved = json.loads(
                (Path(resume_from_checkpoint) / EMBEDDING_TRAINER_STATE).read_text(encoding="utf-8")
            )
            self.epoch_history = list(saved["epoch_history"])
            self._resumed_epoch = saved["current_epoch"]
        return super().train(resume_from_checkpoint, *args, **kwargs)

    # --- several processes: replicas synchronised by their updates instead of DDP (sparse families) ------
    def _prepare_for_training(self, *args, **kwargs):
        if self.replica_sync is None or not self.replica_sync.active():
            return super()._prepare_for_training(*args, **kwargs)
        # the model must not be wrapped in DistributedDataParallel: its updates are applied locally (often
        # in place, by a kernel) and summed across processes by `ReplicaSync`; accelerate still places it
        # on the device and shards the DataLoader
        self.accelerator.prepare_model = functools.partial(
            self.accelerator.prepare_model, evaluation_mode=True
        )
        try:
            return super()._prepare_for_training(*args, **kwargs)
        finally:
            del self.accelerator.prepare_model  # back to the class's method

    # --- optimiser / schedule -------------------------------------------------------------------------
    def create_optimizer(self, model=None):
        use_sparse = self.sparse_sgd if self.sparse_sgd is not None else has_sparse_rows(self.model)
        if self.optimizer is None and use_sparse:
            params = [p for p in (model or self.model).parameters() if p.requires_grad]
            self.optimizer = SparseSGD(
                params,
                lr=self.args.learning_rate,
                max_row_updates=self.max_row_updates,
                max_row_step=self.max_row_step,
            )
            return self.optimizer
        return super().create_optimizer(model) if model is not None else super().create_optimizer()

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.lr_scheduler is None and self.min_learning_rate is not None:
            self.lr_scheduler = linear_to_floor(
                optimizer or self.optimizer, num_training_steps, self.min_learning_rate
            )
            return self.lr_scheduler
        return super().create_scheduler(num_training_steps, optimizer)

    # --- sparse-aware gradient norm (private Trainer hooks, pinned by tests) ---------------------------
    def _clip_grad_norm(self, model):
        if not _has_sparse_grads(model):
            return super()._clip_grad_norm(model)
        norm = _sparse_aware_norm(model)
        clip = self.args.max_grad_norm
        if clip and clip > 0 and math.isfinite(clip) and norm > clip:
            scale = clip / (norm + 1e-6)
            for p in model.parameters():
                if p.grad is not None:
                    p.grad.mul_(scale)
        return norm

    def _get_grad_norm(self, model, grad_norm=None):
        if grad_norm is None and _has_sparse_grads(model):
            return None  # a norm over millions of sparse rows per step is not worth its cost
        return super()._get_grad_norm(model, grad_norm=grad_norm)

    # --- loss / throughput accounting ------------------------------------------------------------------
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        words = inputs.get("num_words")
        if model.training and self._forward_takes_learning_rate(model) and self.optimizer is not None:
            # the rate of the SGD step that will apply this gradient (Word2Vec's sequential sub-batches),
            # and the next step's (the CPU kernel decays the rate across its batch)
            inputs = {**inputs, "learning_rate": self.optimizer.param_groups[0]["lr"]}
            if self._takes_lr_end:
                inputs["learning_rate_end"] = self._next_learning_rate(inputs["learning_rate"])
        loss, outputs = super().compute_loss(
            model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch
        )
        if not model.training:  # evaluation (prediction_step) is not part of the epoch's training loss
            return (loss, outputs) if return_outputs else loss
        with torch.no_grad():
            self._epoch_batches += 1
            d = loss.detach().to(torch.float64)
            self._epoch_loss = d if self._epoch_loss is None else self._epoch_loss + d
            n = (
                getattr(outputs, "num_pairs", None)
                if not isinstance(outputs, dict)
                else outputs.get("num_pairs")
            )
            if n is not None:
                self._epoch_items = self._epoch_items + n
            if words is not None:
                self._epoch_words = words if self._epoch_words is None else self._epoch_words + words
        return (loss, outputs) if return_outputs else loss

    def _forward_takes_learning_rate(self, model) -> bool:
        if self._takes_lr is None:
            base = self.accelerator.unwrap_model(model) if hasattr(self, "accelerator") else model
            try:
                params = inspect.signature(base.forward).parameters
            except (TypeError, ValueError):
                params = {}
            # only meaningful when the step is plain SGD with that rate
            self._takes_lr = "learning_rate" in params and isinstance(
                getattr(self.optimizer, "optimizer", self.optimizer), SparseSGD
            )
            self._takes_lr_end = self._takes_lr and "learning_rate_end" in params
        return self._takes_lr

    def _next_learning_rate(self, current: float) -> float:
        """The rate the scheduler will give the next step (the current one when it cannot tell)."""
        sched = getattr(self.lr_scheduler, "scheduler", self.lr_scheduler)  # accelerate's wrapper
        if isinstance(sched, torch.optim.lr_scheduler.LambdaLR) and sched.base_lrs:
            return float(sched.base_lrs[0] * sched.lr_lambdas[0](sched.last_epoch + 1))
        return current

    def _epoch_start(self, resumed: bool = False) -> None:
        self._epoch_loss, self._epoch_items, self._epoch_words, self._epoch_batches = None, 0, None, 0
        self._epoch_t0 = time.perf_counter()
        self._epoch_closed = False
        if resumed and self._resumed_epoch is not None:  # the accumulators of the epoch a checkpoint cut
            saved, self._resumed_epoch = self._resumed_epoch, None
            self._epoch_loss = (
                torch.tensor(saved["loss"], dtype=torch.float64) if saved["loss"] is not None else None
            )
            self._epoch_items, self._epoch_batches = saved["items"], saved["batches"]
            self._epoch_words = torch.tensor(saved["words"]) if saved["words"] is not None else None
            self._epoch_t0 -= saved["seconds"]

    def _epoch_end(self, state) -> None:
        seconds = time.perf_counter() - self._epoch_t0
        loss = float(self._epoch_loss) if self._epoch_loss is not None else float("nan")
        items = int(self._epoch_items) if self._epoch_items is not None else 0
        words = int(self._epoch_words) if self._epoch_words is not None else 0
        batches = self._epoch_batches
        if ReplicaSync.active():  # the epoch of the whole run: every process's share, summed
            totals = torch.tensor([loss, items, words, batches], dtype=torch.float64, device=self.args.device)
            torch.distributed.all_reduce(totals)
            loss, items, words, batches = totals[0].item(), *(int(v) for v in totals[1:].tolist())
        record = {"epoch": round(state.epoch or 0), "epoch_loss": loss}
        if items:  # models whose loss is a sum over examples (Word2Vec, GloVe) report how many
            record["epoch_loss_per_item"] = loss / items
        elif batches:  # models whose loss is already a per-batch mean (NNLM, ELMo)
            record["epoch_mean_batch_loss"] = loss / batches
        record["epoch_seconds"] = seconds
        if words:
            record["words_per_second"] = words / seconds if seconds > 0 else float("nan")
            record["epoch_words"] = words
        if self.epoch_evaluation is not None and self.is_world_process_zero():
            # per-epoch benchmark scores (--eval-every-epoch), on the weights as they are after this epoch
            record.update({f"eval_{k}": v for k, v in self.epoch_evaluation(self.model).items()})
        self.epoch_history.append(record)
        self._epoch_closed = True
        self.log(record)


def _sparse_aware_norm(model: torch.nn.Module) -> float:
    total = 0.0
    for p in model.parameters():
        g = p.grad
        if g is None:
            continue
        if g.is_sparse:
            g = g.coalesce()._values()
        total += float(g.double().pow(2).sum())
    return math.sqrt(total)
