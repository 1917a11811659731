"""PPMI-SVD model: word vectors W = U S^p (and context vectors C = V S^p) of a truncated SVD of shifted PPMI.

The factorisation itself is computed by the family's data path (`ppmi_svd.py`, from `data_svd.py`): this
module only holds its result, so that it can be bundled as remote code with torch and transformers alone.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutput
from transformers.utils import ModelOutput

from ...vectors.keyed_vectors import tensor_key
from ...vectors.static_model import StaticEmbeddingHeadMixin, StaticEmbeddingMixin
from ..modeling_base import StrictLoadingMixin
from .configuration_svd import SvdConfig


@dataclass
class SvdFactorizationOutput(ModelOutput):
    """`loss` is the share of the PPMI matrix's squared Frobenius norm that the rank-d factors miss,
    1 - sum(s_i^2) / ||M||_F^2 (0: the factors reproduce the matrix exactly)."""

    loss: torch.FloatTensor | None = None


class SvdPreTrainedModel(StrictLoadingMixin, PreTrainedModel):
    config_class = SvdConfig
    base_model_prefix = "svd"
    main_input_name = "input_ids"

    def _init_weights(self, module: nn.Module) -> None:
        # nothing to learn from a random start: the tables are zero until the factorisation is copied in
        if isinstance(module, nn.Embedding):
            init.zeros_(module.weight)


class SvdModel(StaticEmbeddingMixin, SvdPreTrainedModel):
    """PPMI-SVD word vectors. `get_input_embeddings()` is W = U S^eig, `context_embeddings` C = V S^eig
    (present when `config.add_context` or `config.keep_context`), `singular_values` the spectrum S;
    `forward(input_ids)` returns the word vectors of the query API (`model.wv`): W + C with
    `add_context`, else W. Another eigenvalue weighting p' is W * S^(p' - eig).

    Example:
        >>> model = SvdModel(SvdConfig(vocab_size=10, vector_size=8))
        >>> model(torch.tensor([[4, 5]])).last_hidden_state.shape
        torch.Size([1, 2, 8])
    """

    def __init__(self, config: SvdConfig):
        super().__init__(config)
        self.embeddings = nn.Embedding(config.vocab_size, config.vector_size)
        self.context_embeddings = (
            nn.Embedding(config.vocab_size, config.vector_size) if config.has_context_table else None
        )
        self.register_buffer("singular_values", torch.zeros(config.vector_size))
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings = value

    def word_table(self) -> torch.Tensor:
        """The word vectors of the query API: W + C (`add_context`) or W."""
        w = self.embeddings.weight
        return w + self.context_embeddings.weight if self.config.add_context else w

    def word_table_version(self) -> Hashable:
        tables = [self.embeddings] + (
            [self.context_embeddings] if self.context_embeddings is not None else []
        )
        return (self.config.add_context, *(tensor_key(m.weight) for m in tables))

    @torch.no_grad()
    def set_factors(
        self,
        word_vectors: torch.Tensor,
        singular_values: torch.Tensor,
        context_vectors: torch.Tensor | None = None,
    ) -> SvdModel:
        """Copy a factorisation in: W (vocab, d), S (d,) and, when the model keeps it, C (vocab, d)."""
        self.embeddings.weight.copy_(word_vectors)
        self.singular_values.copy_(singular_values)
        if self.context_embeddings is not None:
            if context_vectors is None:
                raise ValueError("this model keeps the context table: give context_vectors too")
            self.context_embeddings.weight.copy_(context_vectors)
        return self

    def forward(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None, **kwargs
    ) -> BaseModelOutput:
        hidden = self.embeddings(input_ids)
        if self.config.add_context:
            hidden = hidden + self.context_embeddings(input_ids)
        if attention_mask is not None:
            hidden = hidden * attention_mask.unsqueeze(-1).to(hidden.dtype)
        return BaseModelOutput(last_hidden_state=hidden)


class SvdForFactorization(StaticEmbeddingHeadMixin, SvdPreTrainedModel):
    """The training head: the factorisation has a closed form, so "training" is one step whose batch is
    the solution (computed by the family's data path) and whose forward copies it into the model.

    The loss is the factorisation's objective at that solution: the share of the matrix's squared norm the
    factors miss (`residual`), plus 0.5 ||theta - theta*||^2 over the tables, which is zero with a zero
    gradient once theta* is copied in, so the optimiser step that follows leaves the tables as they are.
    """

    def __init__(self, config: SvdConfig):
        super().__init__(config)
        self.svd = SvdModel(config)
        self.post_init()

    def forward(
        self,
        word_vectors: torch.Tensor,
        singular_values: torch.Tensor,
        residual: torch.Tensor,
        context_vectors: torch.Tensor | None = None,
        return_loss: bool = True,
    ) -> SvdFactorizationOutput:
        base = self.svd
        base.set_factors(word_vectors, singular_values, context_vectors)
        pairs = [(base.embeddings.weight, word_vectors)]
        if base.context_embeddings is not None:
            pairs.append((base.context_embeddings.weight, context_vectors))
        loss = residual.to(word_vectors.dtype).reshape(())
        for table, target in pairs:
            loss = loss + 0.5 * (table - target.to(table.dtype)).pow(2).sum()
        return SvdFactorizationOutput(loss=loss)
