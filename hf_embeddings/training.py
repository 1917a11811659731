"""Trainer glue shared by every family: a sparse-aware `Trainer`, plain SGD over sparse gradients, linear
learning-rate decay to a floor (gensim's alpha -> min_alpha), float64 loss per epoch and words/s."""

from __future__ import annotations

import math
import time

import torch
from transformers import Trainer, TrainerCallback

__all__ = ["EmbeddingTrainer", "SparseSGD", "TrainingData", "linear_to_floor"]


class SparseSGD(torch.optim.Optimizer):
    """SGD that applies sparse gradients with one `index_add_` and never coalesces them.

    `nn.Embedding(sparse=True)` hands back uncoalesced (index, row) gradients; coalescing (a sort) costs
    more than the update itself, and `index_add_` sums duplicate rows anyway, exactly what sequential
    per-pair SGD would add up to (minus the intermediate reads). Dense gradients get a plain SGD step.
    """

    def __init__(self, params, lr: float = 0.025):
        if lr < 0:
            raise ValueError(f"learning rate must be >= 0, got {lr}")
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            lr = group["lr"]
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if g.is_sparse:
                    p.index_add_(0, g._indices()[0], g._values().to(p.dtype), alpha=-lr)
                else:
                    p.add_(g, alpha=-lr)
        return loss


def linear_to_floor(optimizer: torch.optim.Optimizer, total_steps: int, floor: float) -> torch.optim.lr_scheduler.LambdaLR:
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
            ds.set_epoch(int(round(state.epoch or 0)))
        self.trainer._epoch_start()

    def on_epoch_end(self, args, state, control, **kwargs):
        self.trainer._epoch_end(state)


class EmbeddingTrainer(Trainer):
    """`Trainer` for embedding models with sparse gradients and per-word learning-rate schedules.

    - gradient norms/clipping understand sparse gradients (the stock Trainer crashes on them);
    - with `sparse_sgd=True` (default when the model has sparse parameters) the optimiser is `SparseSGD`
      with `args.learning_rate`, decayed linearly to `min_learning_rate`;
    - the loss of each epoch is accumulated in float64 on the device (no per-step sync) and logged as
      `epoch_loss` (sum) and `epoch_loss_per_item`, with `words_per_second` from the batches' `num_words`.
    """

    def __init__(self, *args, min_learning_rate: float | None = None, sparse_sgd: bool | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.min_learning_rate = min_learning_rate
        self.sparse_sgd = sparse_sgd
        self.epoch_history: list[dict] = []
        self._epoch_loss = None
        self._epoch_items = 0
        self._epoch_words = None
        self._epoch_t0 = 0.0
        self.add_callback(_EpochCallback(self))

    # --- optimiser / schedule -------------------------------------------------------------------------
    def _model_is_sparse(self) -> bool:
        return any(getattr(m, "sparse", False) for m in self.model.modules() if isinstance(m, torch.nn.Embedding))

    def create_optimizer(self, model=None):
        use_sparse = self.sparse_sgd if self.sparse_sgd is not None else self._model_is_sparse()
        if self.optimizer is None and use_sparse:
            params = [p for p in (model or self.model).parameters() if p.requires_grad]
            self.optimizer = SparseSGD(params, lr=self.args.learning_rate)
            return self.optimizer
        return super().create_optimizer(model) if model is not None else super().create_optimizer()

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.lr_scheduler is None and self.min_learning_rate is not None:
            self.lr_scheduler = linear_to_floor(optimizer or self.optimizer, num_training_steps, self.min_learning_rate)
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
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        with torch.no_grad():
            d = loss.detach().to(torch.float64)
            self._epoch_loss = d if self._epoch_loss is None else self._epoch_loss + d
            n = getattr(outputs, "num_pairs", None) if not isinstance(outputs, dict) else outputs.get("num_pairs")
            if n is not None:
                self._epoch_items = self._epoch_items + n
            if words is not None:
                self._epoch_words = words if self._epoch_words is None else self._epoch_words + words
        return (loss, outputs) if return_outputs else loss

    def _epoch_start(self) -> None:
        self._epoch_loss, self._epoch_items, self._epoch_words = None, 0, None
        self._epoch_t0 = time.perf_counter()

    def _epoch_end(self, state) -> None:
        seconds = time.perf_counter() - self._epoch_t0
        loss = float(self._epoch_loss) if self._epoch_loss is not None else float("nan")
        items = int(self._epoch_items) if self._epoch_items is not None else 0
        words = int(self._epoch_words) if self._epoch_words is not None else 0
        record = {
            "epoch": round(state.epoch or 0),
            "epoch_loss": loss,
            "epoch_loss_per_item": loss / items if items else float("nan"),
            "epoch_seconds": seconds,
        }
        if words:
            record["words_per_second"] = words / seconds if seconds > 0 else float("nan")
            record["epoch_words"] = words
        self.epoch_history.append(record)
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


class TrainingData:
    """What a family's `build_training_data` returns: datasets, collator and Trainer/argument overrides."""

    def __init__(self, train_dataset, data_collator=None, eval_dataset=None, trainer_kwargs=None, training_overrides=None):
        self.train_dataset = train_dataset
        self.data_collator = data_collator
        self.eval_dataset = eval_dataset
        self.trainer_kwargs = dict(trainer_kwargs or {})
        self.training_overrides = dict(training_overrides or {})
