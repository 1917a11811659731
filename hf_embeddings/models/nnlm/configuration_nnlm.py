"""Configuration of the neural probabilistic language model of Bengio et al. (2003)."""

from __future__ import annotations

from ..configuration_base import EmbeddingConfig, check_adaptive_softmax, default_cutoffs

__all__ = ["NNLMConfig", "default_cutoffs"]


class NNLMConfig(EmbeddingConfig):
    """Configuration of an NNLM: y = b + W x + U tanh(d + H x), x the concatenated vectors C(w) of the
    `context_size` previous words (the paper's n - 1). The training fields (`batch_size`, `learning_rate`,
    `weight_decay`, `epochs`, `validation_fraction`) are read by the family's `build_training_data`
    (`hf-embeddings train nnlm --epochs 5 ...`). Other keyword arguments go to `EmbeddingConfig` (the
    folder format version) and `PretrainedConfig`.

    Args:
        vocab_size (`int`, *optional*, defaults to 4):
            Rows of C: the tokenizer's size (ids sorted by frequency after the 4 special tokens).
        context_size (`int`, *optional*, defaults to 5):
            Previous words the model looks at (the paper's n - 1); shorter contexts are left-padded with
            `<s>`.
        embedding_dim (`int`, *optional*, defaults to 60):
            m, the word-vector size.
        hidden_size (`int`, *optional*, defaults to 100):
            h, the tanh layer's size; 0 removes the hidden layer (the paper's h = 0 models: then direct
            connections are required).
        direct_connections (`bool`, *optional*, defaults to `True`):
            The paper's W, from the word vectors straight to the output.
        dropout (`float`, *optional*, defaults to 0.0):
            Dropout on the word vectors and on the hidden layer (0 in the paper).
        tie_word_embeddings (`bool`, *optional*, defaults to `False`):
            Share U with C (needs `hidden_size == embedding_dim` and a full softmax).
        adaptive_softmax (`bool`, *optional*, defaults to `False`):
            A `torch.nn.AdaptiveLogSoftmaxWithLoss` output layer, for large vocabularies.
        adaptive_softmax_cutoffs (`list[int]`, *optional*, defaults to `None`):
            The adaptive softmax's cluster boundaries (`None`: `default_cutoffs(vocab_size)`).
        adaptive_softmax_div_value (`float`, *optional*, defaults to 4.0):
            The shrink factor of each tail cluster's projection.
        initializer_range (`float`, *optional*, defaults to 0.1):
            Standard deviation of the initial word vectors.
        batch_size (`int`, *optional*, defaults to 256):
            n-gram windows per optimiser step.
        learning_rate (`float`, *optional*, defaults to 1e-3):
            AdamW's learning rate.
        weight_decay (`float`, *optional*, defaults to 0.0):
            AdamW's weight decay.
        epochs (`int`, *optional*, defaults to 5):
            Passes over the training windows.
        validation_fraction (`float`, *optional*, defaults to 0.0):
            Lines held out for the per-epoch held-out perplexity (0 = none).
        generate_unk (`bool`, *optional*, defaults to `False`):
            Let `generate()` produce `<unk>`. By default `<unk>` is in the generation config's
            `suppress_tokens` (with `<pad>` and `<s>`), set when the model is created or loaded; for one call,
            `model.generate(..., suppress_tokens=[1, 2])` allows it too.
        unk_token_id (`int`, *optional*, defaults to 0):
            Id of the `<unk>` token.
        pad_token_id (`int`, *optional*, defaults to 1):
            Id of the `<pad>` token.
        bos_token_id (`int`, *optional*, defaults to 2):
            Id of the `<s>` token.
        eos_token_id (`int`, *optional*, defaults to 3):
            Id of the `</s>` token.

    Example:
        >>> NNLMConfig(vocab_size=1000).context_size
        5
    """

    model_type = "hfe_nnlm"

    def __init__(
        self,
        vocab_size: int = 4,
        context_size: int = 5,
        embedding_dim: int = 60,
        hidden_size: int = 100,
        direct_connections: bool = True,
        dropout: float = 0.0,
        tie_word_embeddings: bool = False,
        adaptive_softmax: bool = False,
        adaptive_softmax_cutoffs: list[int] | None = None,
        adaptive_softmax_div_value: float = 4.0,
        initializer_range: float = 0.1,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        epochs: int = 5,
        validation_fraction: float = 0.0,
        generate_unk: bool = False,
        unk_token_id: int = 0,
        pad_token_id: int = 1,
        bos_token_id: int = 2,
        eos_token_id: int = 3,
        **kwargs,
    ):
        for name, value in (
            ("vocab_size", vocab_size),
            ("context_size", context_size),
            ("embedding_dim", embedding_dim),
            ("batch_size", batch_size),
            ("epochs", epochs),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(hidden_size, bool) or not isinstance(hidden_size, int) or hidden_size < 0:
            raise ValueError(f"hidden_size must be an integer >= 0, got {hidden_size!r}")
        if hidden_size == 0 and not direct_connections:
            raise ValueError(
                "hidden_size=0 needs direct_connections=True (the model would have no output path)"
            )
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if not 0.0 <= float(validation_fraction) < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction!r}")
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
        if tie_word_embeddings:
            if adaptive_softmax:
                raise ValueError("tie_word_embeddings needs the full softmax (adaptive_softmax=False)")
            if hidden_size != embedding_dim:
                raise ValueError(
                    f"tie_word_embeddings shares U (vocab x hidden_size) with C (vocab x embedding_dim): "
                    f"needs hidden_size == embedding_dim, got {hidden_size} and {embedding_dim}"
                )
        if adaptive_softmax:
            adaptive_softmax_cutoffs = check_adaptive_softmax(
                vocab_size, adaptive_softmax_cutoffs, adaptive_softmax_div_value
            )
        self.vocab_size = vocab_size
        self.context_size = context_size
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.direct_connections = bool(direct_connections)
        self.dropout = float(dropout)
        self.tie_word_embeddings = bool(tie_word_embeddings)
        self.adaptive_softmax = bool(adaptive_softmax)
        self.adaptive_softmax_cutoffs = adaptive_softmax_cutoffs
        self.adaptive_softmax_div_value = float(adaptive_softmax_div_value)
        self.initializer_range = float(initializer_range)
        self.batch_size = batch_size
        self.learning_rate = float(learning_rate)
        self.weight_decay = float(weight_decay)
        self.epochs = epochs
        self.validation_fraction = float(validation_fraction)
        self.generate_unk = bool(generate_unk)
        self.unk_token_id = unk_token_id
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            **kwargs,
        )

    @property
    def feature_size(self) -> int:
        """Size of x, the concatenated context word vectors: context_size * embedding_dim."""
        return self.context_size * self.embedding_dim
