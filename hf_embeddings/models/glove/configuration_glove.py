"""Configuration of GloVe (Pennington, Socher & Manning 2014): weighted least squares on log co-occurrences."""

from ..configuration_base import EmbeddingConfig

COMBINE = ("sum", "word")
#: the co-occurrence matrix a trained model folder carries (see `GloVeModel.attach_cooccurrence`)
COOCCURRENCE_FILE = "cooccurrence.npz"


class GloVeConfig(EmbeddingConfig):
    """Hyperparameters of a GloVe model; defaults are the Stanford C tool's (`glove.c`, `cooccur.c`).

    Co-occurrence: `window_size` words (`symmetric`: left and right context, else left only), each pair
    weighted 1/distance when `distance_weighting`; `memory` is the counting soft limit in GB (`-memory`).
    Objective: sum over non-zero X_ij of f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2 with
    f(x) = min(1, (x / x_max)^alpha), trained by AdaGrad from `learning_rate` for `epochs` passes over the
    shuffled entries, `entries_per_batch` entries per step (None: a device-dependent default).
    `combine` picks the word vectors of the query API: "sum" (W + W~, as the reference demo) or "word" (W).

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
