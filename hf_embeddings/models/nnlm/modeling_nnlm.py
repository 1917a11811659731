"""NNLM (Bengio, Ducharme, Vincent & Jauvin 2003): y = b + W x + U tanh(d + H x).

x is the concatenation of the word vectors C(w) of the `context_size` words before the one predicted
(oldest first); a sequence shorter than that is left-padded with `<s>`. Both classes read sequences: the
output at position t is about the word at t + 1, computed from tokens t - context_size + 1 .. t, so any
input length works (only the last `context_size` tokens matter for the last position), which is what
`generate()` needs.

Layout: the two classes are flat (no `model.nnlm.` submodule) and share parameter names, so a causal-LM
checkpoint loads into `NNLMModel` (the head is ignored) and a base checkpoint into `NNLMForCausalLM` (the
head is initialised), and whatever the generic saving code picks as "the base model" of the LM is the
whole LM.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import CausalLMOutput
from transformers.utils import ModelOutput

from ...vectors.static_model import StaticEmbeddingMixin
from ..modeling_base import StrictLoadingMixin
from .configuration_nnlm import NNLMConfig

IGNORE_INDEX = -100
#: keyword arguments `generate()` (or a Trainer) may send that this model has no use for
_IGNORED_KWARGS = frozenset(
    {
        "use_cache",
        "cache",
        "past_key_values",
        "position_ids",
        "output_attentions",
        "output_hidden_states",
        "return_dict",
        "token_type_ids",
        "cache_position",
    }
)


@dataclass
class NNLMModelOutput(ModelOutput):
    """`last_hidden_state`: tanh(d + H x) at every position (batch, seq, hidden_size), or x itself when
    hidden_size is 0; `context_embeddings`: x (batch, seq, context_size * embedding_dim)."""

    last_hidden_state: torch.FloatTensor | None = None
    context_embeddings: torch.FloatTensor | None = None


def _check_kwargs(kwargs: dict) -> None:
    unknown = sorted(set(kwargs) - _IGNORED_KWARGS)
    if unknown:
        raise TypeError(f"NNLM forward() got unexpected keyword argument(s): {', '.join(unknown)}")


class NNLMPreTrainedModel(StrictLoadingMixin, PreTrainedModel):
    config_class = NNLMConfig
    # flat layout: no attribute of this name exists, so `base_model` is the model itself (see module doc)
    base_model_prefix = "nnlm"
    main_input_name = "input_ids"
    accepts_loss_kwargs = False  # the loss is a mean over predicted tokens
    _no_split_modules: list[str] = []

    def _init_weights(self, module: nn.Module) -> None:
        # transformers calls this only for modules that own parameters directly, and leaves a parameter
        # missing from a checkpoint that no branch here handles as uninitialised memory: so dispatch on
        # leaf modules. C ~ N(0, initializer_range); linear layers uniform in +-1/sqrt(fan_in) (torch's
        # default scale), biases (d, b) zero. The adaptive softmax is made of nn.Linear leaves too.
        if isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
        elif isinstance(module, nn.Linear):
            bound = module.in_features**-0.5
            init.uniform_(module.weight, -bound, bound)
            if module.bias is not None:
                init.zeros_(module.bias)

    # --- the shared body: C, H, d -------------------------------------------------------------------------
    def _build_body(self, config: NNLMConfig) -> None:
        self.embeddings = nn.Embedding(config.vocab_size, config.embedding_dim)
        self.hidden = nn.Linear(config.feature_size, config.hidden_size) if config.hidden_size > 0 else None
        self.dropout = nn.Dropout(config.dropout)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings = value

    def _check_input_ids(self, input_ids: torch.Tensor | None) -> torch.Tensor:
        if input_ids is None:
            raise ValueError(
                "NNLM needs input_ids (inputs_embeds are not supported: the model is a word lookup)"
            )
        if input_ids.dim() == 1:
            input_ids = input_ids.unsqueeze(0)
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be (batch, sequence), got shape {tuple(input_ids.shape)}")
        if input_ids.shape[1] == 0:
            raise ValueError(
                "empty input: give at least one token (to predict the first word of a sentence, pass the "
                f"<s> token, id {self.config.bos_token_id})"
            )
        if input_ids.dtype.is_floating_point:
            raise ValueError(f"input_ids must be integer token ids, got {input_ids.dtype}")
        if not self.training:  # a clear message instead of an index error deep inside nn.Embedding
            lo, hi = int(input_ids.min()), int(input_ids.max())
            if lo < 0 or hi >= self.config.vocab_size:
                raise ValueError(
                    f"token id {lo if lo < 0 else hi} is outside the vocabulary (0..{self.config.vocab_size - 1})"
                )
        return input_ids

    def context_windows(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(batch, seq, context_size) ids of the words each position's prediction conditions on: tokens
        t - context_size + 1 .. t, with `<s>` before the start and in masked-out (padding) positions."""
        n = self.config.context_size
        bos = self.config.bos_token_id
        if attention_mask is not None:
            input_ids = torch.where(attention_mask.to(torch.bool), input_ids, torch.full_like(input_ids, bos))
        pad = torch.full((input_ids.shape[0], n - 1), bos, dtype=input_ids.dtype, device=input_ids.device)
        return torch.cat([pad, input_ids], dim=1).unfold(1, n, 1)

    def features(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(x, tanh(d + H x)) for context windows (..., context_size); the hidden part is None when
        hidden_size is 0. Dropout (training only) applies to both."""
        x = self.dropout(self.embeddings(windows).flatten(-2))
        if self.hidden is None:
            return x, None
        return x, self.dropout(torch.tanh(self.hidden(x)))


class NNLMModel(StaticEmbeddingMixin, NNLMPreTrainedModel):
    """The word vectors C and the tanh hidden layer; `model.wv` is the query API over C.

    Example:
        >>> model = NNLMModel(NNLMConfig(vocab_size=10, context_size=2, embedding_dim=4, hidden_size=3))
        >>> model(torch.tensor([[4, 5, 6]])).last_hidden_state.shape
        torch.Size([1, 3, 3])
    """

    # a causal-LM checkpoint loads into the base model: its output layer is not needed here
    _keys_to_ignore_on_load_unexpected = [r"^lm_head\.", r"^direct\.", r"^adaptive_head\."]

    def __init__(self, config: NNLMConfig):
        super().__init__(config)
        self._build_body(config)
        self.post_init()

    def forward(
        self, input_ids: torch.LongTensor | None = None, attention_mask: torch.Tensor | None = None, **kwargs
    ) -> NNLMModelOutput:
        _check_kwargs(kwargs)
        input_ids = self._check_input_ids(input_ids)
        x, h = self.features(self.context_windows(input_ids, attention_mask))
        return NNLMModelOutput(last_hidden_state=x if h is None else h, context_embeddings=x)


class NNLMForCausalLM(StaticEmbeddingMixin, NNLMPreTrainedModel, GenerationMixin):
    """NNLM with its output layer: y = b + W x + U tanh(d + H x), softmax over the vocabulary (or an
    adaptive softmax), cross-entropy on the next word.

    `forward(input_ids, labels=...)` follows transformers' causal-LM convention: `labels` has the shape of
    `input_ids` and is shifted inside (position t is scored on labels[:, t + 1]; -100 is ignored). Only the
    labelled positions go through the output layer, so a batch of (context + target) windows labelled on
    the target alone costs one output row per window; `logits` are then not returned unless
    `return_logits=True`. With the adaptive softmax `logits` are log-probabilities.

    Example:
        >>> cfg = NNLMConfig(vocab_size=10, context_size=2, embedding_dim=4, hidden_size=3)
        >>> model = NNLMForCausalLM(cfg)
        >>> model(torch.tensor([[4, 5, 6]])).logits.shape
        torch.Size([1, 3, 10])
    """

    _keys_to_ignore_on_load_unexpected = None
    _tied_weights_keys = {"lm_head.weight": "embeddings.weight"}  # only when config.tie_word_embeddings

    def __init__(self, config: NNLMConfig):
        super().__init__(config)
        self._build_body(config)
        self.lm_head = self.direct = self.adaptive_head = None
        if config.adaptive_softmax:
            in_features = config.hidden_size + (config.feature_size if config.direct_connections else 0)
            self.adaptive_head = nn.AdaptiveLogSoftmaxWithLoss(
                in_features,
                config.vocab_size,
                cutoffs=list(config.adaptive_softmax_cutoffs),
                div_value=config.adaptive_softmax_div_value,
                head_bias=True,
            )
        else:
            if config.hidden_size > 0:
                self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)  # U and b
            if config.direct_connections:  # W (the bias b lives in lm_head unless there is no hidden layer)
                self.direct = nn.Linear(config.feature_size, config.vocab_size, bias=config.hidden_size == 0)
        self.post_init()
        if self.generation_config is not None and self.generation_config.suppress_tokens is None:
            # never generate padding or a sentence start (the model still scores them: they are in the softmax)
            self.generation_config.suppress_tokens = [
                t for t in (config.pad_token_id, config.bos_token_id) if t is not None
            ]
        self._suppress_unk()

    def _suppress_unk(self) -> None:
        """Put `<unk>` in the generation config's `suppress_tokens` unless `config.generate_unk`: a
        generated `<unk>` says only "some rare word", and on a real corpus it is among the likeliest."""
        unk = self.config.unk_token_id
        gc = self.generation_config
        if gc is None or unk is None or getattr(self.config, "generate_unk", False):
            return
        suppressed = list(gc.suppress_tokens or [])
        if unk not in suppressed:
            gc.suppress_tokens = [*suppressed, unk]

    def adjust_generation_fn(self, generation_config, *args, **kwargs):
        """transformers' loading of `generation_config.json`, then `<unk>` suppressed as at creation
        (folders saved before it was written there); a `generation_config` passed to `from_pretrained` is
        kept as given."""
        super().adjust_generation_fn(generation_config, *args, **kwargs)
        if generation_config is None:
            self._suppress_unk()

    # --- transformers plumbing ------------------------------------------------------------------------
    def get_output_embeddings(self) -> nn.Linear | None:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        return False  # nothing to cache: each step re-reads its last context_size tokens

    def prepare_inputs_for_generation(
        self, input_ids: torch.LongTensor, attention_mask=None, **kwargs
    ) -> dict:
        """Only the last `context_size` tokens matter: pass those (and their mask) to forward."""
        n = self.config.context_size
        inputs = {"input_ids": input_ids[:, -n:], "logits_to_keep": 1}
        if attention_mask is not None:
            inputs["attention_mask"] = attention_mask[:, -n:]
        return inputs

    # --- output layer ---------------------------------------------------------------------------------
    def _head_input(self, x: torch.Tensor, h: torch.Tensor | None) -> torch.Tensor:
        if h is None:
            return x
        return torch.cat([h, x], dim=-1) if self.config.direct_connections else h

    def output_logits(self, x: torch.Tensor, h: torch.Tensor | None) -> torch.Tensor:
        """Scores of every word from the features of `features()`: b + W x + U h (full softmax), or the
        adaptive softmax's log-probabilities."""
        if self.adaptive_head is not None:
            z = self._head_input(x, h)
            return self.adaptive_head.log_prob(z.reshape(-1, z.shape[-1])).view(*z.shape[:-1], -1)
        logits = self.lm_head(h) if h is not None else None
        if self.direct is not None:
            direct = self.direct(x)
            logits = direct if logits is None else logits + direct
        return logits

    def _nll(self, x: torch.Tensor, h: torch.Tensor | None, targets: torch.Tensor) -> torch.Tensor:
        """Per-row NLL (nats) of `targets` (N,) from flat features x (N, n*m), h (N, hidden) or None."""
        if self.adaptive_head is not None:
            return -self.adaptive_head(self._head_input(x, h), targets).output
        return nn.functional.cross_entropy(self.output_logits(x, h).float(), targets, reduction="none")

    def next_token_nll(self, windows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood (nats) of each target given its context window: windows (N,
        context_size), targets (N,) -> (N,). No reduction, no dropout in eval mode."""
        return self._nll(*self.features(windows), targets)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        return_logits: bool | None = None,
        num_items_in_batch: torch.Tensor | float | None = None,
        num_words: torch.Tensor | None = None,
        **kwargs,
    ) -> CausalLMOutput:
        """Next-word scores for every position, or the last `logits_to_keep` positions (a tensor: the
        positions it lists); with `labels`, the mean cross-entropy of the labelled positions among them,
        or their summed NLL divided by `num_items_in_batch` when given (transformers' convention; the
        evaluation batches use it so that Trainer's unweighted mean over batches is the exact per-token
        mean).

        Without `logits_to_keep`, the labelled positions are found with `nonzero` (one host sync); the
        training batches name their one scored position in `logits_to_keep` instead, which keeps a GPU
        step free of syncs. `num_words` (ignored) is the word count the batches carry for the log."""
        _check_kwargs(kwargs)
        input_ids = self._check_input_ids(input_ids)
        T = input_ids.shape[1]
        windows = self.context_windows(input_ids, attention_mask)  # (B, T, n), a view
        kept = None
        if isinstance(logits_to_keep, torch.Tensor):
            kept = logits_to_keep.to(device=input_ids.device, dtype=torch.long).reshape(-1)
        elif logits_to_keep:
            kept = torch.arange(max(T - int(logits_to_keep), 0), T, device=input_ids.device)
        loss = None
        if labels is not None:
            if labels.shape != input_ids.shape:
                raise ValueError(
                    f"labels must have the shape of input_ids {tuple(input_ids.shape)}, got {tuple(labels.shape)}"
                )
            if kept is None:  # any labelled position: gather them (sync)
                targets = labels[:, 1:]
                rows, cols = (targets != IGNORE_INDEX).nonzero(as_tuple=True)
                if rows.numel() == 0:
                    raise ValueError("labels has no position to score (all -100, or a single token per row)")
                nll = self._nll(*self.features(windows[rows, cols]), targets[rows, cols])
                count = nll.new_tensor(float(rows.numel()))
            else:  # the kept positions only, masked (no sync)
                nxt = kept + 1
                tgt = (
                    labels[:, nxt.clamp(max=T - 1)].masked_fill((nxt >= T)[None, :], IGNORE_INDEX).reshape(-1)
                )
                valid = tgt != IGNORE_INDEX
                x, h = self.features(windows[:, kept].reshape(-1, windows.shape[-1]))
                nll = self._nll(x, h, tgt.clamp_min(0)) * valid
                count = valid.sum()
            loss = nll.sum() / (count if num_items_in_batch is None else num_items_in_batch)
            if return_logits is None:
                return_logits = False
        logits = None
        if return_logits is None or return_logits:
            logits = self.output_logits(*self.features(windows if kept is None else windows[:, kept]))
        return CausalLMOutput(loss=loss, logits=logits)
