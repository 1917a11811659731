"""Word2Vec model: input table W (the word vectors) and output table W' trained with negative sampling."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutput
from transformers.utils import ModelOutput

from ...keyed_vectors import StaticEmbeddingMixin
from .configuration_word2vec import Word2VecConfig


@dataclass
class Word2VecTrainingOutput(ModelOutput):
    """`loss` is the SGNS / CBOW-NS loss summed over the batch (SGD on a sum is what gensim does per pair);
    `num_pairs` the number of (input, output) rows it sums over."""

    loss: torch.FloatTensor | None = None
    num_pairs: torch.LongTensor | None = None


class Word2VecPreTrainedModel(PreTrainedModel):
    config_class = Word2VecConfig
    base_model_prefix = "word2vec"
    main_input_name = "input_ids"
    accepts_loss_kwargs = False  # the loss is a sum by design; never rescale it

    def _init_weights(self, module: nn.Module) -> None:
        # gensim: input vectors uniform in +-0.5/d, output vectors zero
        base = getattr(self, "word2vec", self)
        if module is getattr(base, "embeddings", None):
            bound = 0.5 / self.config.vector_size
            init.uniform_(module.weight, -bound, bound)
        elif module is getattr(base, "output_embeddings", None):
            init.zeros_(module.weight)


class Word2VecModel(StaticEmbeddingMixin, Word2VecPreTrainedModel):
    """Word vectors: `forward(input_ids)` returns W[input_ids]; `model.wv` is the query API.

    Example:
        >>> model = Word2VecModel(Word2VecConfig(vocab_size=10, vector_size=8))
        >>> model(torch.tensor([[4, 5]])).last_hidden_state.shape
        torch.Size([1, 2, 8])
    """

    def __init__(self, config: Word2VecConfig):
        super().__init__(config)
        # sparse gradients: a batch touches a few thousand rows of a (possibly huge) table
        self.embeddings = nn.Embedding(config.vocab_size, config.vector_size, sparse=True)
        self.output_embeddings = nn.Embedding(config.vocab_size, config.vector_size, sparse=True)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings = value

    def forward(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None, **kwargs) -> BaseModelOutput:
        hidden = self.embeddings(input_ids)
        if attention_mask is not None:
            hidden = hidden * attention_mask.unsqueeze(-1).to(hidden.dtype)
        return BaseModelOutput(last_hidden_state=hidden)

    def negative_sampling_loss(
        self,
        hidden: torch.Tensor,
        outputs: torch.LongTensor,
        negatives: torch.LongTensor,
    ) -> torch.Tensor:
        """Sum over rows of -log s(h.w'_o) - sum_k log s(-h.w'_k); negatives equal to the target are
        skipped, as the C tool skips them."""
        targets = torch.cat([outputs.unsqueeze(1), negatives], dim=1)
        out = self.output_embeddings(targets)  # (P, 1+K, d)
        scores = torch.bmm(out, hidden.unsqueeze(2)).squeeze(2)
        sign = torch.ones_like(scores)
        sign[:, 1:] = -1
        weight = torch.ones_like(scores)
        weight[:, 1:] = (negatives != outputs.unsqueeze(1)).to(scores.dtype)
        return -(nn.functional.logsigmoid(sign * scores) * weight).sum()


class Word2VecForNegativeSampling(StaticEmbeddingMixin, Word2VecPreTrainedModel):
    """The training head: skip-gram or CBOW with negative sampling; forward returns the summed loss."""

    def __init__(self, config: Word2VecConfig):
        super().__init__(config)
        self.word2vec = Word2VecModel(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.word2vec.embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.word2vec.embeddings = value

    def forward(
        self,
        outputs: torch.LongTensor,
        negatives: torch.LongTensor,
        inputs: torch.LongTensor | None = None,
        context: torch.LongTensor | None = None,
        context_mask: torch.Tensor | None = None,
        num_words: torch.Tensor | None = None,
        return_loss: bool = True,
    ) -> Word2VecTrainingOutput:
        """Skip-gram rows give `inputs` (one context word each); CBOW rows give `context` + `context_mask`."""
        emb = self.word2vec.embeddings
        if self.config.architecture == "skipgram":
            if inputs is None:
                raise ValueError("skip-gram batches need `inputs`")
            hidden = emb(inputs)
        else:
            if context is None or context_mask is None:
                raise ValueError("CBOW batches need `context` and `context_mask`")
            mask = context_mask.to(emb.weight.dtype).unsqueeze(-1)
            total = (emb(context) * mask).sum(1)
            if self.config.cbow_mean:
                # forward uses the mean, but every context word receives the full error (the C tool and
                # gensim add neu1e unscaled to each context vector)
                count = mask.sum(1).clamp_min(1)
                hidden = total.detach() / count + (total - total.detach())
            else:
                # summed context: gensim divides the error by the number of context words
                count = mask.sum(1).clamp_min(1)
                hidden = total.detach() + (total - total.detach()) / count
        loss = self.word2vec.negative_sampling_loss(hidden, outputs, negatives)
        return Word2VecTrainingOutput(loss=loss, num_pairs=torch.tensor(outputs.shape[0]))
