"""ELMo (Peters et al. 2018): a character-CNN token layer and a biLSTM language model whose layers, mixed by
learned scalar weights, are contextual word representations.

Forward semantics follow bilm-tf / AllenNLP exactly (see docs/elmo-format.md in the project): character
embedding -> valid Conv1d per width -> max over positions -> activation -> highway (sigmoid(carry) gates the
relu branch) -> projection = token embedding x; sentence boundaries added at the character level; L LSTM
layers per direction, forward and backward independent stacks, each LSTM
    z = x W_ih + h W_hh + b   (TensorFlow gate order i, j, f, o; forget_bias added to f)
    c = clip(sigmoid(f) c + sigmoid(i) tanh(j)),  h = clip((sigmoid(o) tanh(c)) W_proj)
with a residual around layers >= 1; layer 0 = [x, x]; boundaries removed from the outputs.

This module holds the models and heads; the character CNN, the token cache and the scalar mix are in
`layers_elmo.py`, the biLSTM layer and its recurrence in `lstm_elmo.py` (where its speed is described).
The character CNN runs once per distinct word of a batch (boundaries included) and only over the
character columns that some word uses (plus the widest filter), both exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import SequenceClassifierOutput, TokenClassifierOutput
from transformers.utils import ModelOutput

from ..modeling_base import StrictLoadingMixin
from .configuration_elmo import ElmoConfig
from .layers_elmo import (
    ElmoCharacterEncoder,
    ElmoHighway,
    ElmoScalarMix,
    ElmoTokenCache,
    hash_multipliers,
    row_hash,
)
from .lstm_elmo import ElmoBiLstmLayer, reverse_within_lengths
from .tokenization_elmo import NUM_CHAR_IDS, bos_char_ids, eos_char_ids, words_to_char_ids

IGNORE_INDEX = -100


# ------------------------------------------------------------------------------------------------------
# models
# ------------------------------------------------------------------------------------------------------
@dataclass
class ElmoModelOutput(ModelOutput):
    """`last_hidden_state`: the first scalar mix (B, T, 2P); `elmo_representations`: every scalar mix;
    `hidden_states`: the L + 1 layers (token layer duplicated, then [forward, backward] of each biLSTM
    layer), each (B, T, 2P); `mask`: (B, T) true at real tokens. Boundaries removed, padding zero."""

    last_hidden_state: torch.FloatTensor | None = None
    elmo_representations: tuple[torch.FloatTensor, ...] | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    mask: torch.BoolTensor | None = None


@dataclass
class ElmoLanguageModelOutput(ModelOutput):
    """`loss`: mean of the forward and backward next-word NLLs; `forward_nll` / `backward_nll`: summed
    NLL (nats) of each direction; `num_targets`: targets per direction (words + one boundary per sentence)."""

    loss: torch.FloatTensor | None = None
    forward_nll: torch.FloatTensor | None = None
    backward_nll: torch.FloatTensor | None = None
    num_targets: torch.Tensor | None = None


@dataclass
class BiLMOutput:
    """What the biLM computes, sentence boundaries included (length T + 2)."""

    token_embeddings: torch.Tensor  # (B, T+2, P)
    layers: list[tuple[torch.Tensor, torch.Tensor]]  # per LSTM layer: (forward, backward), each (B, T+2, P)
    mask: torch.Tensor  # (B, T+2) bool, boundaries included
    token_mask: torch.Tensor  # (B, T) bool
    lengths: torch.Tensor  # (B,) number of real tokens


class ElmoPreTrainedModel(StrictLoadingMixin, PreTrainedModel):
    config_class = ElmoConfig
    base_model_prefix = "elmo"
    main_input_name = "char_ids"
    accepts_loss_kwargs = False
    _no_split_modules: list[str] = []

    def _init_weights(self, module: nn.Module) -> None:
        # transformers calls this only for modules that own parameters directly, and leaves a parameter
        # no branch handles as uninitialised memory: so every leaf module with parameters has a branch here.
        std = self.config.initializer_range
        if isinstance(module, nn.Embedding):
            if module.num_embeddings == NUM_CHAR_IDS:  # characters: uniform(-1, 1) as bilm-tf, id 0 zero
                init.uniform_(module.weight, -1.0, 1.0)
                with torch.no_grad():
                    module.weight[0].zero_()
            else:
                init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.Conv1d):
            init.normal_(module.weight, mean=0.0, std=(module.in_channels * module.kernel_size[0]) ** -0.5)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            bound = module.in_features**-0.5
            init.uniform_(module.weight, -bound, bound)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, ElmoHighway):
            init.normal_(module.weight, mean=0.0, std=module.width**-0.5)
            init.zeros_(module.bias)
            with torch.no_grad():
                module.bias[module.width :].fill_(-2.0)  # carry bias -2: start close to the identity
        elif isinstance(module, ElmoBiLstmLayer):
            bound = module.weight_hh.shape[-1] ** -0.5
            for p in (module.weight_ih, module.weight_hh):
                init.uniform_(p, -bound, bound)
            init.uniform_(module.weight_proj, -(module.cell_dim**-0.5), module.cell_dim**-0.5)
            init.zeros_(module.bias)
        elif isinstance(module, ElmoScalarMix):
            init.zeros_(module.scalar_parameters)
            init.ones_(module.gamma)
        elif isinstance(module, nn.AdaptiveLogSoftmaxWithLoss):
            pass  # made of nn.Linear leaves, handled above

    # --- the shared body ----------------------------------------------------------------------------------
    def _build_body(self, config: ElmoConfig) -> None:
        self.char_encoder = ElmoCharacterEncoder(config)
        self.lstm_layers = nn.ModuleList(
            ElmoBiLstmLayer(config.projection_dim, config.lstm_dim, config.projection_dim)
            for _ in range(config.n_layers)
        )
        self.lstm_dropout = nn.Dropout(config.dropout)
        self.token_cache: ElmoTokenCache | None = None

    def boundary_char_ids(self, device=None) -> torch.Tensor:
        """(2, max_chars): the character ids of the sentence start and end tokens. Not a buffer: a
        non-persistent buffer would come back uninitialised from `from_pretrained`."""
        n = self.config.max_characters_per_token
        return torch.as_tensor(np.stack([bos_char_ids(n), eos_char_ids(n)]), dtype=torch.long, device=device)

    def _check_char_ids(self, char_ids: torch.Tensor | None) -> torch.Tensor:
        if char_ids is None:
            raise ValueError(
                "ELMo reads char_ids (batch, tokens, max_characters_per_token): see tokenizer.encode_sentences"
            )
        if char_ids.dim() == 2:
            char_ids = char_ids.unsqueeze(0)
        n = self.config.max_characters_per_token
        if char_ids.dim() != 3 or char_ids.shape[-1] != n:
            raise ValueError(f"char_ids must be (batch, tokens, {n}), got shape {tuple(char_ids.shape)}")
        if char_ids.dtype.is_floating_point:
            raise ValueError(f"char_ids must be integer ids, got {char_ids.dtype}")
        # a clear message instead of an index error in nn.Embedding (not while training: it syncs a GPU)
        if (
            not self.training
            and char_ids.numel()
            and (int(char_ids.min()) < 0 or int(char_ids.max()) >= NUM_CHAR_IDS)
        ):
            raise ValueError(f"character ids must be in 0..{NUM_CHAR_IDS - 1}")
        return char_ids.long()

    # --- token layer, with the optional cache ---------------------------------------------------------
    def token_embeddings(self, char_ids: torch.Tensor) -> torch.Tensor:
        """(N, max_chars) -> (N, P), from the cache where possible (inference only)."""
        cache = self.token_cache
        if cache is None or self.training or len(char_ids) == 0:
            return self._encode_unique(char_ids)
        hit, pos = cache.lookup(char_ids)
        out = cache.embeddings[pos].to(self.char_encoder.projection.weight.dtype)
        miss = ~hit
        if bool(miss.any()):
            out = out.clone()
            out[miss] = self._encode_unique(char_ids[miss])
        return out

    def _encode_unique(self, char_ids: torch.Tensor) -> torch.Tensor:
        """The character CNN over the distinct rows of char_ids only, gathered back: a batch of sentences
        repeats its frequent words (about half of a 64-sentence batch's tokens are repeats), and the
        gradient of a gathered row sums over its copies, as it would through separate copies."""
        if len(char_ids) < 2:
            return self.char_encoder(char_ids)
        mult = hash_multipliers(char_ids.shape[1], char_ids.device)
        keys, inverse = torch.unique(row_hash(char_ids, mult), return_inverse=True)
        if len(keys) == len(char_ids):
            return self.char_encoder(char_ids)
        first = torch.empty_like(keys).scatter_(0, inverse, torch.arange(len(char_ids), device=keys.device))
        rows = char_ids[first]
        if not bool((rows[inverse] == char_ids).all()):  # a hash collision: no shortcut
            return self.char_encoder(char_ids)
        return self.char_encoder(rows)[inverse]

    @torch.no_grad()
    def set_token_cache(self, words: list[str] | None, batch_size: int = 4096) -> None:
        """Precompute the token layer for `words` (plus the sentence boundaries); inference then looks
        tokens up instead of running the character CNN. `None` removes the cache. Recompute after any
        change of the weights (training clears nothing by itself; the cache is not used in training mode)."""
        if words is None:
            self.token_cache = None
            return
        n = self.config.max_characters_per_token
        device = self.char_encoder.projection.weight.device
        chars = torch.as_tensor(
            words_to_char_ids(list(dict.fromkeys(words)), n), dtype=torch.long, device=device
        )
        chars = torch.unique(torch.cat([chars, self.boundary_char_ids(device)]), dim=0)
        was_training = self.training
        self.eval()
        self.token_cache = None
        embeddings = torch.cat(
            [self.char_encoder(chars[i : i + batch_size]) for i in range(0, len(chars), batch_size)]
        )
        self.train(was_training)
        self.token_cache = ElmoTokenCache(chars, embeddings)

    # --- the biLM ---------------------------------------------------------------------------------------
    def bilm(self, char_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> BiLMOutput:
        """Token embeddings and both directions of every LSTM layer, sentence boundaries included."""
        char_ids = self._check_char_ids(char_ids)
        token_mask = (char_ids > 0).any(dim=-1)
        if attention_mask is not None:
            if attention_mask.shape != token_mask.shape:
                raise ValueError(
                    f"attention_mask shape {tuple(attention_mask.shape)} does not match char_ids {tuple(token_mask.shape)}"
                )
            token_mask = token_mask & attention_mask.bool()
        lengths = token_mask.sum(dim=1)
        B, T = token_mask.shape
        if not self.training and not bool(
            (token_mask == (torch.arange(T, device=lengths.device) < lengths[:, None])).all()
        ):
            raise ValueError(
                "tokens must be left-aligned: a padding token (all-zero char_ids or attention_mask 0) is followed "
                "by a real token"
            )
        P = self.config.projection_dim
        dtype = self.char_encoder.projection.weight.dtype
        rows = torch.arange(B, device=char_ids.device)
        x = torch.zeros(B, T + 2, P, dtype=dtype, device=char_ids.device)
        # one pass of the character CNN for the sentence boundaries and every real token
        emb = self.token_embeddings(
            torch.cat([self.boundary_char_ids(char_ids.device), char_ids[token_mask]])
        )
        boundary = emb[:2]
        real = x[:, 1 : T + 1]
        real[token_mask] = emb[2:]
        x[:, 0] = boundary[0]
        x[rows, lengths + 1] = boundary[1]
        full_lengths = lengths + 2
        mask = torch.arange(T + 2, device=x.device)[None, :] < full_lengths[:, None]
        x = x * mask.unsqueeze(-1).to(dtype)

        cpu_lengths = full_lengths.cpu()
        fwd = pack_padded_sequence(x, cpu_lengths, batch_first=True, enforce_sorted=False)
        bwd = pack_padded_sequence(reverse_within_lengths(x, full_lengths), cpu_lengths, batch_first=True,
                                   enforce_sorted=False)  # fmt: skip
        batch_sizes = fwd.batch_sizes.tolist()
        h = torch.stack([fwd.data, bwd.data])  # (2, N, P)
        layers = []
        cfg = self.config
        for k, layer in enumerate(self.lstm_layers):
            inp = h
            out = layer(self.lstm_dropout(inp), batch_sizes, cfg.forget_bias, cfg.cell_clip, cfg.proj_clip)
            if k > 0 and cfg.use_skip_connections:
                out = out + inp
            h = out
            f, _ = pad_packed_sequence(fwd._replace(data=out[0]), batch_first=True, total_length=T + 2)
            b, _ = pad_packed_sequence(bwd._replace(data=out[1]), batch_first=True, total_length=T + 2)
            layers.append((f, reverse_within_lengths(b, full_lengths)))
        return BiLMOutput(x, layers, mask, token_mask, lengths)

    def layer_outputs(self, bilm: BiLMOutput) -> list[torch.Tensor]:
        """The L + 1 layers with boundaries, each (B, T+2, 2P): [x, x], then [forward, backward]."""
        x = bilm.token_embeddings
        return [torch.cat([x, x], dim=-1)] + [torch.cat(pair, dim=-1) for pair in bilm.layers]

    @staticmethod
    def remove_boundaries(t: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        """(B, T+2, ...) with boundaries -> (B, T, ...) of the real tokens, zero at padding."""
        T = token_mask.shape[1]
        return t[:, 1 : T + 1] * token_mask.view(*token_mask.shape, *([1] * (t.dim() - 2))).to(t.dtype)


class ElmoModel(ElmoPreTrainedModel):
    """ELMo: every layer, the mask and `num_output_representations` learned scalar mixes.

    Example:
        >>> from hf_embeddings.models.elmo import ElmoCharacterTokenizer
        >>> model = ElmoModel(ElmoConfig.from_preset("tiny"))
        >>> tok = ElmoCharacterTokenizer.from_vocabulary([])
        >>> out = model(**tok.encode_sentences(["a small test", "hi"]))
        >>> out.last_hidden_state.shape, len(out.hidden_states)  # (batch, words, 2 * projection_dim)
        (torch.Size([2, 3, 256]), 3)
    """

    _keys_to_ignore_on_load_unexpected = [r"^lm_head\.", r"^adaptive_head\."]
    # a biLM checkpoint has no scalar mixes: they start as the equal-weight average (not random)
    _keys_to_ignore_on_load_missing = [r"^scalar_mixes\."]

    def __init__(self, config: ElmoConfig):
        super().__init__(config)
        self._build_body(config)
        self.scalar_mixes = nn.ModuleList(
            ElmoScalarMix(config.num_layers_out, config.do_layer_norm)
            for _ in range(config.num_output_representations)
        )
        self.post_init()

    def scalar_mix_weights(self) -> list[tuple[list[float], float]]:
        """(softmax weights over the layers, gamma) of every scalar mix."""
        return [(m.weights().tolist(), m.gamma.item()) for m in self.scalar_mixes]

    def forward(
        self,
        char_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        input_ids: torch.Tensor | None = None,  # word ids from the tokenizer: not used by the model
        **kwargs,
    ) -> ElmoModelOutput:
        bilm = self.bilm(char_ids, attention_mask)
        layers = self.layer_outputs(bilm)
        mixes = tuple(
            self.remove_boundaries(mix(layers, bilm.mask), bilm.token_mask) for mix in self.scalar_mixes
        )
        hidden = tuple(self.remove_boundaries(layer, bilm.token_mask) for layer in layers)
        return ElmoModelOutput(
            last_hidden_state=mixes[0], elmo_representations=mixes, hidden_states=hidden, mask=bilm.token_mask
        )


class ElmoForLanguageModeling(ElmoPreTrainedModel):
    """The biLM training objective: the forward LSTM predicts the next word, the backward LSTM the previous
    one, from the top layer, through one softmax shared by both directions (full, or adaptive for large
    vocabularies); loss = mean of the two directions' mean NLL.

    Flat layout (no `model.elmo.` submodule) with ElmoModel's parameter names, so a checkpoint of this
    class loads into `ElmoModel` (the softmax is ignored) and the whole LM is what the generic code saves.
    `labels` are the word ids of the tokens (B, T) (-100: not scored); the sentence-start / end targets are
    added here. Ids >= vocab_size count as <unk>.
    """

    _keys_to_ignore_on_load_unexpected = [r"^scalar_mixes\."]
    # the original ELMo weights (and converted folders) ship without the softmax: pretraining goes on from
    # them with a fresh one
    _keys_to_ignore_on_load_missing = [r"^lm_head\.", r"^adaptive_head\."]

    def __init__(self, config: ElmoConfig):
        super().__init__(config)
        self._build_body(config)
        self.lm_head = self.adaptive_head = None
        if config.adaptive_softmax:
            self.adaptive_head = nn.AdaptiveLogSoftmaxWithLoss(
                config.projection_dim, config.vocab_size, cutoffs=list(config.adaptive_softmax_cutoffs),
                div_value=config.adaptive_softmax_div_value, head_bias=True,
            )  # fmt: skip
        else:
            self.lm_head = nn.Linear(config.projection_dim, config.vocab_size)
        self.post_init()

    def _nll(self, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.adaptive_head is not None:
            return -self.adaptive_head(h, targets).output
        return nn.functional.cross_entropy(self.lm_head(h).float(), targets, reduction="none")

    def forward(
        self,
        char_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        input_ids: torch.Tensor | None = None,
        num_items_in_batch: torch.Tensor | float | None = None,
        num_words: torch.Tensor | None = None,
        **kwargs,
    ) -> ElmoLanguageModelOutput:
        """`labels` default to `input_ids` (the tokenizer's word ids) where `attention_mask` is set.
        With `num_items_in_batch`, the loss is the summed NLL of both directions / 2 / num_items_in_batch
        (the evaluation batches use it so that Trainer's mean over batches is the exact per-target mean)."""
        bilm = self.bilm(char_ids, attention_mask)
        if labels is None:
            if input_ids is None:
                raise ValueError(
                    "ElmoForLanguageModeling needs labels (or input_ids): the word ids to predict"
                )
            labels = input_ids.masked_fill(~bilm.token_mask, IGNORE_INDEX)
        cfg = self.config
        B, T = bilm.token_mask.shape
        if labels.shape != (B, T):
            raise ValueError(f"labels must be (batch, tokens) = {(B, T)}, got {tuple(labels.shape)}")
        labels = labels.masked_fill(~bilm.token_mask, IGNORE_INDEX)
        labels = torch.where(labels >= cfg.vocab_size, torch.full_like(labels, cfg.unk_token_id), labels)
        # targets with boundaries: <s>, the words, </s> at len + 1
        tgt = torch.full((B, T + 2), IGNORE_INDEX, dtype=torch.long, device=labels.device)
        tgt[:, 0] = cfg.bos_token_id
        tgt[:, 1 : T + 1] = labels
        tgt[torch.arange(B, device=labels.device), bilm.lengths + 1] = cfg.eos_token_id
        valid = torch.arange(T + 1, device=labels.device)[None, :] <= bilm.lengths[:, None]  # (B, T+1)
        fwd_top, bwd_top = bilm.layers[-1]
        fwd_t, bwd_t = tgt[:, 1:], tgt[:, :-1]  # forward at p predicts p + 1; backward at p + 1 predicts p
        f_ok, b_ok = valid & (fwd_t != IGNORE_INDEX), valid & (bwd_t != IGNORE_INDEX)
        h = torch.cat([self.lstm_dropout(fwd_top[:, :-1][f_ok]), self.lstm_dropout(bwd_top[:, 1:][b_ok])])
        nll = self._nll(h, torch.cat([fwd_t[f_ok], bwd_t[b_ok]]))
        n_f = int(f_ok.sum())
        fwd_nll, bwd_nll = nll[:n_f].sum(), nll[n_f:].sum()
        count = f_ok.sum()
        if num_items_in_batch is not None:
            loss = (fwd_nll + bwd_nll) / 2 / num_items_in_batch
        else:
            loss = (fwd_nll / count.clamp_min(1) + bwd_nll / b_ok.sum().clamp_min(1)) / 2
        return ElmoLanguageModelOutput(loss=loss, forward_nll=fwd_nll.detach(), backward_nll=bwd_nll.detach(),
                                       num_targets=count)  # fmt: skip


class _ElmoTaskModel(ElmoPreTrainedModel):
    """An ElmoModel under `self.elmo` (frozen when config.freeze_elmo) plus a task-specific scalar mix."""

    # trained from a base (or language-model) checkpoint: the task's own parts start fresh
    _keys_to_ignore_on_load_missing = [r"^task_mix\.", r"^classifier\."]
    _keys_to_ignore_on_load_unexpected = [r"^lm_head\.", r"^adaptive_head\."]

    def __init__(self, config: ElmoConfig):
        super().__init__(config)
        self.elmo = ElmoModel(config)
        self.task_mix = ElmoScalarMix(config.num_layers_out, config.do_layer_norm)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(2 * config.projection_dim, config.num_labels)
        self.post_init()
        if config.freeze_elmo:
            self.elmo.requires_grad_(False)

    def mixed(self, char_ids, attention_mask) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.config.freeze_elmo):
            bilm = self.elmo.bilm(char_ids, attention_mask)
            layers = self.elmo.layer_outputs(bilm)
        mix = self.task_mix(layers, bilm.mask)
        return self.elmo.remove_boundaries(mix, bilm.token_mask), bilm.token_mask

    def scalar_mix_weights(self) -> list[tuple[list[float], float]]:
        return [(self.task_mix.weights().tolist(), self.task_mix.gamma.item())]


class ElmoForSequenceClassification(_ElmoTaskModel):
    """Sentence classification: task scalar mix -> mean over the tokens -> dropout -> linear."""

    def forward(self, char_ids=None, attention_mask=None, labels=None, input_ids=None, **kwargs):
        mix, mask = self.mixed(char_ids, attention_mask)
        m = mask.unsqueeze(-1).to(mix.dtype)
        pooled = (mix * m).sum(1) / m.sum(1).clamp_min(1)
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.float(), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)


class ElmoForTokenClassification(_ElmoTaskModel):
    """Tagging: task scalar mix -> dropout -> linear at every token; labels -100 are ignored."""

    def forward(self, char_ids=None, attention_mask=None, labels=None, input_ids=None, **kwargs):
        mix, mask = self.mixed(char_ids, attention_mask)
        logits = self.classifier(self.dropout(mix))
        loss = None
        if labels is not None:
            labels = labels.masked_fill(~mask, IGNORE_INDEX)
            loss = nn.functional.cross_entropy(
                logits.flatten(0, 1).float(), labels.reshape(-1), ignore_index=IGNORE_INDEX
            )
        return TokenClassifierOutput(loss=loss, logits=logits)
