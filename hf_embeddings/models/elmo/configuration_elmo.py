"""Configuration of ELMo (Peters et al. 2018): character CNN + highway + projection, then a biLSTM language
model with projections and clipping, mixed into task representations by learned scalar weights."""

from __future__ import annotations

from numbers import Real

from ..configuration_base import EmbeddingConfig, check_adaptive_softmax

#: the released bilm-tf/AllenNLP character CNN (every released size uses it)
ORIGINAL_FILTERS = [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]]

#: presets: the released sizes ("small" = 2x1024_128_2048cnn_1xhighway, "medium" = 2x2048_256_2048cnn_1xhighway,
#: "original" = 2x4096_512_2048cnn_2xhighway) and a tiny one that trains on a CPU in minutes. Tiny's projection
#: is 128 (it was 64): 1.2x the time per token, and ahead of the NNLM at equal CPU time (bench/elmo.py)
#: the largest float32: clip bounds beyond it cannot be applied to the model's tensors
FLOAT32_MAX = 3.4028234663852886e38

PRESETS: dict[str, dict] = {
    "tiny": {
        "char_embedding_dim": 8,
        "filters": [[1, 16], [2, 16], [3, 32], [4, 64]],
        "n_highway": 1,
        "projection_dim": 128,
        "lstm_dim": 256,
    },
    "small": {"filters": ORIGINAL_FILTERS, "n_highway": 1, "projection_dim": 128, "lstm_dim": 1024},
    "medium": {"filters": ORIGINAL_FILTERS, "n_highway": 1, "projection_dim": 256, "lstm_dim": 2048},
    "original": {"filters": ORIGINAL_FILTERS, "n_highway": 2, "projection_dim": 512, "lstm_dim": 4096},
}


#: the most character slots per token a config may declare: every released model has 50 (48 UTF-8 bytes +
#: BOW + EOW); each token is a row of this many ids, so a huge value is an allocation bomb
MAX_CHARACTERS_PER_TOKEN = 1024


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


class ElmoConfig(EmbeddingConfig):
    """Configuration of an ELMo biLM and of its scalar mixes: a context-independent token layer (character
    CNN, highway layers, projection to P), then forward and backward biLSTMs, independent stacks of
    `n_layers` layers, whose L + 1 layers are mixed into task representations by learned scalar weights;
    `ElmoForLanguageModeling` adds the softmax over the words, and the downstream heads a task-specific
    mix. The defaults are the released "original" size (see `from_preset` for the others). Other keyword
    arguments go to `EmbeddingConfig` (the folder format version) and `PretrainedConfig`.

    Args:
        char_embedding_dim (`int`, *optional*, defaults to 16):
            D, size of the character embeddings (262 ids: 0 = no token, 1..261 = raw + 1).
        filters (`list[list[int]]`, *optional*, defaults to `ORIGINAL_FILTERS`):
            `[[width, count], ...]` of the character convolutions; F = sum of counts.
        n_highway (`int`, *optional*, defaults to 2):
            Highway layers (width F, relu) after the convolutions.
        activation (`str`, *optional*, defaults to `"relu"`):
            `"relu"` or `"tanh"`, applied after the max over character positions.
        max_characters_per_token (`int`, *optional*, defaults to 50):
            50 in every released model (48 UTF-8 bytes + BOW + EOW); 3 to `MAX_CHARACTERS_PER_TOKEN` (1024).
        projection_dim (`int`, *optional*, defaults to 512):
            P, width of the token embedding and of every LSTM output.
        lstm_dim (`int`, *optional*, defaults to 4096):
            C, the LSTM cell size (projected down to P); `dim` in the original options.
        n_layers (`int`, *optional*, defaults to 2):
            L, layers of each of the forward and backward LSTM stacks.
        cell_clip (`float`, *optional*, defaults to 3.0):
            Clip the cell state to +-value (`None`: no clipping).
        proj_clip (`float`, *optional*, defaults to 3.0):
            Clip the projected state to +-value (`None`: no clipping).
        use_skip_connections (`bool`, *optional*, defaults to `True`):
            Residual connection around layers >= 1.
        forget_bias (`float`, *optional*, defaults to 1.0):
            Added to the forget gate pre-activation (TensorFlow's LSTMCell default, 1.0).
        num_output_representations (`int`, *optional*, defaults to 1):
            Learned scalar mixes of the L + 1 layers (`ElmoModel` returns each).
        do_layer_norm (`bool`, *optional*, defaults to `False`):
            Normalise each layer (over its unmasked positions) before mixing.
        dropout (`float`, *optional*, defaults to 0.1):
            Dropout on the LSTM inputs and outputs while training the biLM.
        vocab_size (`int`, *optional*, defaults to 4):
            Language model: words the softmax predicts (the tokenizer's vocabulary; ids >= vocab_size count
            as `<unk>`).
        adaptive_softmax (`bool`, *optional*, defaults to `None`):
            Language model: an adaptive softmax instead of the full one (`None`: when vocab_size > 10,000).
        adaptive_softmax_cutoffs (`list[int]`, *optional*, defaults to `None`):
            The adaptive softmax's cluster boundaries (`None`: `default_cutoffs(vocab_size)`).
        adaptive_softmax_div_value (`float`, *optional*, defaults to 4.0):
            The shrink factor of each tail cluster's projection (P / div, P / div^2, ...).
        max_sequence_length (`int`, *optional*, defaults to 100):
            Training sentences longer than this are cut into pieces.
        batch_size (`int`, *optional*, defaults to 64):
            Sentences per training step. This and the next four fields are read by the family's
            `build_training_data` (`hf-embeddings train elmo --epochs 3 ...`).
        learning_rate (`float`, *optional*, defaults to 2e-3):
            Learning rate of the biLM training.
        weight_decay (`float`, *optional*, defaults to 0.0):
            Weight decay of the biLM training.
        epochs (`int`, *optional*, defaults to 3):
            Passes over the training sentences.
        validation_fraction (`float`, *optional*, defaults to 0.0):
            Lines held out for the per-epoch forward/backward perplexity (0 = none).
        freeze_elmo (`bool`, *optional*, defaults to `True`):
            Downstream heads: train the mix and head only.
        classifier_dropout (`float`, *optional*, defaults to 0.1):
            Downstream heads: dropout before the task head.
        initializer_range (`float`, *optional*, defaults to 0.1):
            Standard deviation of the normal initialisation of embedding tables other than the character
            embeddings.
        unk_token_id (`int`, *optional*, defaults to 0):
            Id of the `<unk>` word.
        pad_token_id (`int`, *optional*, defaults to 1):
            Id of the `<pad>` word.
        bos_token_id (`int`, *optional*, defaults to 2):
            Id of the `<s>` word.
        eos_token_id (`int`, *optional*, defaults to 3):
            Id of the `</s>` word.

    Example:
        >>> ElmoConfig.from_preset("small").lstm_dim
        1024
    """

    model_type = "hfe_elmo"

    def __init__(
        self,
        char_embedding_dim: int = 16,
        filters: list[list[int]] | None = None,
        n_highway: int = 2,
        activation: str = "relu",
        max_characters_per_token: int = 50,
        projection_dim: int = 512,
        lstm_dim: int = 4096,
        n_layers: int = 2,
        cell_clip: float | None = 3.0,
        proj_clip: float | None = 3.0,
        use_skip_connections: bool = True,
        forget_bias: float = 1.0,
        num_output_representations: int = 1,
        do_layer_norm: bool = False,
        dropout: float = 0.1,
        vocab_size: int = 4,
        adaptive_softmax: bool | None = None,
        adaptive_softmax_cutoffs: list[int] | None = None,
        adaptive_softmax_div_value: float = 4.0,
        max_sequence_length: int = 100,
        batch_size: int = 64,
        learning_rate: float = 2e-3,
        weight_decay: float = 0.0,
        epochs: int = 3,
        validation_fraction: float = 0.0,
        freeze_elmo: bool = True,
        classifier_dropout: float = 0.1,
        initializer_range: float = 0.1,
        unk_token_id: int = 0,
        pad_token_id: int = 1,
        bos_token_id: int = 2,
        eos_token_id: int = 3,
        **kwargs,
    ):
        filters = filters if filters is not None else ORIGINAL_FILTERS
        if (
            not isinstance(filters, (list, tuple))
            or not filters
            or any(
                not isinstance(f, (list, tuple))
                or len(f) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in f)
                for f in filters
            )
        ):
            raise ValueError(
                f"filters must be a non-empty list of [width, count] positive integers, got {filters!r}"
            )
        filters = [list(f) for f in filters]
        for name, value in (
            ("char_embedding_dim", char_embedding_dim),
            ("projection_dim", projection_dim),
            ("lstm_dim", lstm_dim),
            ("n_layers", n_layers),
            ("num_output_representations", num_output_representations),
            ("vocab_size", vocab_size),
            ("max_sequence_length", max_sequence_length),
            ("batch_size", batch_size),
            ("epochs", epochs),
        ):
            _positive_int(name, value)
        if isinstance(n_highway, bool) or not isinstance(n_highway, int) or n_highway < 0:
            raise ValueError(f"n_highway must be an integer >= 0, got {n_highway!r}")
        if activation not in ("relu", "tanh"):
            raise ValueError(f"activation must be 'relu' or 'tanh', got {activation!r}")
        if (
            isinstance(max_characters_per_token, bool)
            or not isinstance(max_characters_per_token, int)
            or not 3 <= max_characters_per_token <= MAX_CHARACTERS_PER_TOKEN
        ):
            raise ValueError(
                f"max_characters_per_token must be an integer from 3 to {MAX_CHARACTERS_PER_TOKEN} (the released "
                f"models use 50), got {max_characters_per_token!r}"
            )
        if max(w for w, _ in filters) > max_characters_per_token:
            raise ValueError(
                f"the widest filter ({max(w for w, _ in filters)}) is wider than max_characters_per_token "
                f"({max_characters_per_token})"
            )
        for name, value in (("cell_clip", cell_clip), ("proj_clip", proj_clip)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, Real) or not 0 < value <= FLOAT32_MAX
            ):
                # the clip is applied to float32 tensors: a larger bound overflows inside torch
                raise ValueError(f"{name} must be a number in (0, {FLOAT32_MAX:.4g}] or None, got {value!r}")
        for name, value in (("dropout", dropout), ("classifier_dropout", classifier_dropout)):
            if not 0.0 <= float(value) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        if not 0.0 <= float(validation_fraction) < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction!r}")
        if adaptive_softmax is None:
            adaptive_softmax = vocab_size > 10_000
        if adaptive_softmax:
            adaptive_softmax_cutoffs = check_adaptive_softmax(
                vocab_size, adaptive_softmax_cutoffs, adaptive_softmax_div_value
            )
        self.char_embedding_dim = char_embedding_dim
        self.filters = filters
        self.n_highway = n_highway
        self.activation = activation
        self.max_characters_per_token = max_characters_per_token
        self.projection_dim = projection_dim
        self.lstm_dim = lstm_dim
        self.n_layers = n_layers
        self.cell_clip = None if cell_clip is None else float(cell_clip)
        self.proj_clip = None if proj_clip is None else float(proj_clip)
        self.use_skip_connections = bool(use_skip_connections)
        self.forget_bias = float(forget_bias)
        self.num_output_representations = num_output_representations
        self.do_layer_norm = bool(do_layer_norm)
        self.dropout = float(dropout)
        self.vocab_size = vocab_size
        self.adaptive_softmax = bool(adaptive_softmax)
        self.adaptive_softmax_cutoffs = adaptive_softmax_cutoffs
        self.adaptive_softmax_div_value = float(adaptive_softmax_div_value)
        self.max_sequence_length = max_sequence_length
        self.batch_size = batch_size
        self.learning_rate = float(learning_rate)
        self.weight_decay = float(weight_decay)
        self.epochs = epochs
        self.validation_fraction = float(validation_fraction)
        self.freeze_elmo = bool(freeze_elmo)
        self.classifier_dropout = float(classifier_dropout)
        self.initializer_range = float(initializer_range)
        self.unk_token_id = unk_token_id
        super().__init__(
            pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs
        )

    @classmethod
    def from_preset(cls, name: str, **overrides) -> ElmoConfig:
        """Return the config of a named size ("tiny", "small", "medium", "original"), with `overrides`."""
        if name not in PRESETS:
            raise ValueError(f"unknown ELMo preset {name!r} (presets: {', '.join(PRESETS)})")
        return cls(**{**PRESETS[name], **overrides})

    @property
    def num_filters(self) -> int:
        """F, the width of the character CNN output and of the highway layers."""
        return sum(n for _, n in self.filters)

    @property
    def num_layers_out(self) -> int:
        """Layers `ElmoModel` returns: the token layer plus one per biLSTM layer."""
        return self.n_layers + 1
