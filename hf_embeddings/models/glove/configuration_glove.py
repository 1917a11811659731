"""Configuration of GloVe (Pennington, Socher & Manning 2014): weighted least squares on log co-occurrences."""

from ..configuration_base import EmbeddingConfig

COMBINE = ("sum", "word")
#: the co-occurrence matrix a trained model folder carries (see `GloVeModel.attach_cooccurrence`)
COOCCURRENCE_FILE = "cooccurrence.npz"


class GloVeConfig(EmbeddingConfig):
    """Configuration of a GloVe model: weighted least squares on the log co-occurrence counts, minimising
    the sum over non-zero X_ij of f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2 with
    f(x) = min(1, (x / x_max)^alpha), trained by AdaGrad over the shuffled entries. The defaults are the
    Stanford C tool's (`glove.c`, `cooccur.c`). Other keyword arguments go to `EmbeddingConfig` (the
    folder format version) and `PretrainedConfig`.

    Args:
        vocab_size (`int`, *optional*, defaults to 4):
            Rows of W and W~: the tokenizer's size (the 4 special tokens, then the words).
        vector_size (`int`, *optional*, defaults to 100):
            Size of the word vectors.
        window_size (`int`, *optional*, defaults to 10):
            Co-occurrence window, in words.
        symmetric (`bool`, *optional*, defaults to `True`):
            Count left and right context (else left context only).
        distance_weighting (`bool`, *optional*, defaults to `True`):
            Weight each co-occurring pair 1/distance (else 1).
        x_max (`float`, *optional*, defaults to 100.0):
            Count at which the weighting function f reaches 1.
        alpha (`float`, *optional*, defaults to 0.75):
            Exponent of the weighting function f.
        learning_rate (`float`, *optional*, defaults to 0.05):
            Initial AdaGrad learning rate.
        epochs (`int`, *optional*, defaults to 25):
            Passes over the shuffled co-occurrence entries.
        entries_per_batch (`int`, *optional*, defaults to `None`):
            Co-occurrence entries per optimisation step (`None`: a device-dependent default).
        combine (`str`, *optional*, defaults to `"sum"`):
            The word vectors of the query API: `"sum"` (W + W~, as the reference demo) or `"word"` (W).
        min_count (`int`, *optional*, defaults to 5):
            Words seen fewer times were left out of the vocabulary (recorded from the counted corpus).
        max_vocab_size (`int`, *optional*, defaults to `None`):
            Cap on the vocabulary size the corpus was counted with (recorded from the counted corpus;
            `None`: no cap).
        memory (`float`, *optional*, defaults to 4.0):
            Soft limit of the co-occurrence counting, in GB (`cooccur -memory`).
        pad_token_id (`int`, *optional*, defaults to 1):
            Id of the `<pad>` token.

    Example:
        >>> GloVeConfig(vocab_size=1000, vector_size=50, x_max=10).window_size
        10
    """

    model_type = "hfe_glove"

    def __init__(
        self,
        vocab_size: int = 4,
        vector_size: int = 100,
        window_size: int = 10,
        symmetric: bool = True,
        distance_weighting: bool = True,
        x_max: float = 100.0,
        alpha: float = 0.75,
        learning_rate: float = 0.05,
        epochs: int = 25,
        entries_per_batch: int | None = None,
        combine: str = "sum",
        min_count: int = 5,
        max_vocab_size: int | None = None,
        memory: float = 4.0,
        pad_token_id: int = 1,
        **kwargs,
    ):
        if combine not in COMBINE:
            raise ValueError(f"combine must be one of {COMBINE}, got {combine!r}")
        for name, value in (
            ("vocab_size", vocab_size),
            ("vector_size", vector_size),
            ("window_size", window_size),
            ("epochs", epochs),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if entries_per_batch is not None and (
            not isinstance(entries_per_batch, int) or entries_per_batch < 1
        ):
            raise ValueError(
                f"entries_per_batch must be a positive integer or None, got {entries_per_batch!r}"
            )
        for name, value in (("x_max", x_max), ("learning_rate", learning_rate), ("memory", memory)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise ValueError(f"{name} must be a number > 0, got {value!r}")
        if not isinstance(alpha, (int, float)) or alpha < 0:
            raise ValueError(f"alpha must be a number >= 0, got {alpha!r}")
        self.vocab_size = vocab_size
        self.vector_size = vector_size
        self.window_size = window_size
        self.symmetric = bool(symmetric)
        self.distance_weighting = bool(distance_weighting)
        self.x_max = float(x_max)
        self.alpha = float(alpha)
        self.learning_rate = float(learning_rate)
        self.epochs = epochs
        self.entries_per_batch = entries_per_batch
        self.combine = combine
        self.min_count = min_count
        self.max_vocab_size = max_vocab_size
        self.memory = float(memory)
        super().__init__(pad_token_id=pad_token_id, **kwargs)
