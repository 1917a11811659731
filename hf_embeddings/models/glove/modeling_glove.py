"""GloVe model: word vectors W, context vectors W~ and their biases b, b~, fitted to log co-occurrences."""

from __future__ import annotations

import os
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutput
from transformers.utils import ModelOutput

from ...vectors.keyed_vectors import tensor_key
from ...vectors.static_model import StaticEmbeddingHeadMixin, StaticEmbeddingMixin
from ..modeling_base import StrictLoadingMixin
from .configuration_glove import COOCCURRENCE_FILE, GloVeConfig


@dataclass
class GloVeTrainingOutput(ModelOutput):
    """`loss` is glove.c's cost of the batch, 0.5 * sum f(X_ij) (w_i.w~_j + b_i + b~_j - log X_ij)^2 (a sum:
    glove.c prints its mean per entry, our `epoch_loss_per_item`); `num_pairs` the entries it sums over."""

    loss: torch.FloatTensor | None = None
    num_pairs: torch.LongTensor | None = None


def weighting(x: torch.Tensor, x_max: float, alpha: float) -> torch.Tensor:
    """GloVe's weighting function f(x) = min(1, (x / x_max)^alpha)."""
    return (x / x_max).pow(alpha).clamp_max(1.0)


def reference_glove_loss(w, w_ctx, b, b_ctx, rows, cols, log_x, f_x) -> torch.Tensor:
    """Plain-autograd 0.5 * sum f (w_i.w~_j + b_i + b~_j - log x)^2 (the definition the fused one is tested on)."""
    diff = (w[rows] * w_ctx[cols]).sum(-1) + b.view(-1)[rows] + b_ctx.view(-1)[cols] - log_x
    return 0.5 * (f_x * diff * diff).sum()


class _GloVeLoss(torch.autograd.Function):
    """Fused GloVe cost with its gradient in closed form, returned as uncoalesced sparse rows (one per entry
    and table, as glove.c applies them); no autograd graph is built over the gathers."""

    @staticmethod
    def forward(ctx, w, w_ctx, b, b_ctx, rows, cols, log_x, f_x):
        wi = w.index_select(0, rows)
        wj = w_ctx.index_select(0, cols)
        diff = torch.linalg.vecdot(wi, wj)
        diff += b.view(-1).index_select(0, rows)
        diff += b_ctx.view(-1).index_select(0, cols)
        diff -= log_x
        fdiff = f_x * diff
        loss = 0.5 * torch.dot(fdiff.double(), diff.double())
        ctx.saved = (wi, wj, fdiff, rows, cols)
        ctx.shapes = (w.shape, w_ctx.shape, b.shape, b_ctx.shape)
        return loss.to(w.dtype)

    @staticmethod
    def backward(ctx, grad_loss):
        wi, wj, fdiff, rows, cols = ctx.saved
        del ctx.saved
        if not (grad_loss.device.type == "cpu" and float(grad_loss) == 1.0):
            fdiff = fdiff * grad_loss.to(fdiff.dtype)
        need = ctx.needs_input_grad
        coef = fdiff.unsqueeze(1)
        # d/dw_i = fdiff * w~_j and d/dw~_j = fdiff * w_i: scale the gathered rows in place (they are ours)
        values = (wj.mul_(coef) if need[0] else None, wi.mul_(coef) if need[1] else None, coef, coef)
        grads = []
        for k, (idx, shape) in enumerate(zip((rows, cols, rows, cols), ctx.shapes)):
            if not need[k]:
                grads.append(None)
                continue
            grads.append(torch.sparse_coo_tensor(idx.unsqueeze(0), values[k], shape, check_invariants=False))
        return (*grads, None, None, None, None)


def glove_loss(w, w_ctx, b, b_ctx, rows, cols, log_x, f_x) -> torch.Tensor:
    """GloVe cost of a batch of entries (see `reference_glove_loss`), computed by the fused kernel."""
    return _GloVeLoss.apply(w, w_ctx, b, b_ctx, rows, cols, log_x, f_x)


class GloVePreTrainedModel(StrictLoadingMixin, PreTrainedModel):
    config_class = GloVeConfig
    base_model_prefix = "glove"
    main_input_name = "input_ids"
    accepts_loss_kwargs = False  # the loss is a sum by design; never rescale it

    def _init_weights(self, module: nn.Module) -> None:
        # glove.c: every vector and bias uniform in (-0.5, 0.5) / vector_size
        if isinstance(module, nn.Embedding):
            bound = 0.5 / self.config.vector_size
            init.uniform_(module.weight, -bound, bound)


class GloVeModel(StaticEmbeddingMixin, GloVePreTrainedModel):
    """GloVe vectors. `forward(input_ids)` returns the word vectors of `config.combine` (W + W~ or W), the
    table `model.wv` queries; `get_input_embeddings()` is W itself, `context_embeddings` W~.

    Example:
        >>> model = GloVeModel(GloVeConfig(vocab_size=10, vector_size=8))
        >>> model(torch.tensor([[4, 5]])).last_hidden_state.shape
        torch.Size([1, 2, 8])
    """

    def __init__(self, config: GloVeConfig):
        super().__init__(config)
        # sparse gradients: a batch touches a small part of (possibly huge) tables
        self.embeddings = nn.Embedding(config.vocab_size, config.vector_size, sparse=True)
        self.context_embeddings = nn.Embedding(config.vocab_size, config.vector_size, sparse=True)
        self.biases = nn.Embedding(config.vocab_size, 1, sparse=True)
        self.context_biases = nn.Embedding(config.vocab_size, 1, sparse=True)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings = value

    def word_table(self) -> torch.Tensor:
        """The word vectors of the query API: W + W~ (`combine="sum"`) or W (`"word"`)."""
        w = self.embeddings.weight
        return w + self.context_embeddings.weight if self.config.combine == "sum" else w

    def word_table_version(self) -> Hashable:
        return (
            self.config.combine,
            *(tensor_key(t) for t in (self.embeddings.weight, self.context_embeddings.weight)),
        )

    def attach_cooccurrence(self, cooccurrence) -> GloVeModel:
        """Keep the `Cooccurrence` the model was trained on: `save_pretrained` writes it beside the weights
        (`cooccurrence.npz`, read back with `load_cooccurrence(folder)`) so training can resume without
        counting again. Returns `self`."""
        self.__dict__["_cooccurrence"] = cooccurrence
        return self

    def save_pretrained(self, save_directory: str | os.PathLike, *args, **kwargs):
        out = super().save_pretrained(save_directory, *args, **kwargs)
        cooccurrence = self.__dict__.get("_cooccurrence")
        if cooccurrence is not None and kwargs.get("is_main_process", True):
            cooccurrence.save(Path(save_directory) / COOCCURRENCE_FILE)
        return out

    def forward(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None, **kwargs
    ) -> BaseModelOutput:
        hidden = self.embeddings(input_ids)
        if self.config.combine == "sum":
            hidden = hidden + self.context_embeddings(input_ids)
        if attention_mask is not None:
            hidden = hidden * attention_mask.unsqueeze(-1).to(hidden.dtype)
        return BaseModelOutput(last_hidden_state=hidden)


class GloVeForWeightedLeastSquares(StaticEmbeddingHeadMixin, GloVePreTrainedModel):
    """The training head: forward takes a batch of co-occurrence entries and returns glove.c's cost."""

    def __init__(self, config: GloVeConfig):
        super().__init__(config)
        self.glove = GloVeModel(config)
        self.post_init()

    def forward(
        self,
        rows: torch.LongTensor,
        cols: torch.LongTensor,
        log_values: torch.Tensor,
        weights: torch.Tensor,
        return_loss: bool = True,
    ) -> GloVeTrainingOutput:
        """Entries X[rows[k], cols[k]], given as log X (`log_values`) and f(X) (`weights`)."""
        g = self.glove
        loss = glove_loss(
            g.embeddings.weight,
            g.context_embeddings.weight,
            g.biases.weight,
            g.context_biases.weight,
            rows,
            cols,
            log_values,
            weights,
        )
        return GloVeTrainingOutput(loss=loss, num_pairs=torch.tensor(rows.shape[0], device=rows.device))
