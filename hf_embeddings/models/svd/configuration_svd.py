"""Configuration of PPMI-SVD word vectors (Levy, Goldberg & Dagan 2015): co-occurrences -> PPMI -> truncated SVD."""

import math

from ..configuration_base import EmbeddingConfig

DISTANCE_WEIGHTING = ("harmonic", "none")
SVD_SOLVERS = ("randomized", "arpack")


def _positive_int(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _number(name: str, value, *, minimum: float, strict: bool) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (value > minimum if strict else value >= minimum):
        bound = f"> {minimum}" if strict else f">= {minimum}"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


class SvdConfig(EmbeddingConfig):
    """Configuration of count-based word vectors: the word-context co-occurrence matrix of a corpus, turned
    into shifted positive pointwise mutual information (PPMI) and factorised by a truncated SVD, with the
    hyperparameters of Levy, Goldberg & Dagan (2015). With row sums #w, column sums #c and
    Z = sum_c #c^cds, the matrix is M[w, c] = max(0, log(X[w, c] Z / (#w #c^cds)) - log neg); its rank-d
    truncated SVD M ~ U S V^T gives the word vectors W = U S^eig and the context vectors C = V S^eig, and
    the model's word vectors are W + C (`add_context`) or W. The defaults are the paper's recommendations
    for SVD. Other keyword arguments go to `EmbeddingConfig` (the folder format version) and
    `PretrainedConfig`.

    Args:
        vocab_size (`int`, *optional*, defaults to 4):
            Rows of the word table: the tokenizer's size (the 4 special tokens, then the words).
        vector_size (`int`, *optional*, defaults to 500):
            Size of the word vectors: the rank d of the truncated SVD (at most the number of words).
        window_size (`int`, *optional*, defaults to 2):
            Co-occurrence window, in words on each side (never across a line).
        distance_weighting (`str`, *optional*, defaults to `"harmonic"`):
            Weight of a pair at distance k: `"harmonic"` 1/k (as GloVe counts) or `"none"` 1.
        min_count (`int`, *optional*, defaults to 5):
            Words seen fewer times were left out of the vocabulary (recorded from the counted corpus).
        max_vocab_size (`int`, *optional*, defaults to `None`):
            Cap on the vocabulary size the corpus was counted with (recorded from the counted corpus;
            `None`: no cap).
        cds (`float`, *optional*, defaults to 0.75):
            Context-distribution smoothing: the context counts are raised to this power in the PMI's
            denominator (1: plain PMI).
        neg (`float`, *optional*, defaults to 1.0):
            Shifted PPMI: log(neg) is subtracted before clipping at 0 (1: no shift; k of SGNS's k negatives).
        eig (`float`, *optional*, defaults to 0.5):
            Eigenvalue weighting p of W = U S^p: 0 keeps U alone, 1 is the "correct" U S.
        add_context (`bool`, *optional*, defaults to `True`):
            The word vectors are W + C (else W alone).
        keep_context (`bool`, *optional*, defaults to `False`):
            Save the context table C (`context_embeddings`) even when `add_context` is off (with
            `add_context` it is always kept).
        svd (`str`, *optional*, defaults to `"randomized"`):
            Solver of the truncated SVD: `"randomized"` (Halko, Martinsson & Tropp 2011, with power
            iterations; on the training device, GPU included) or `"arpack"` (scipy's Lanczos `svds`, CPU).
        n_iter (`int`, *optional*, defaults to 5):
            Power iterations of the randomized solver.
        n_oversamples (`int`, *optional*, defaults to 10):
            Extra random directions of the randomized solver (its sketch has vector_size + n_oversamples).
        seed (`int`, *optional*, defaults to `None`):
            Seed of the SVD's random start; `None` takes the run's seed, which training records here.
        memory (`float`, *optional*, defaults to 4.0):
            Soft limit of the co-occurrence counting, in GB (as GloVe's `memory`).
        pad_token_id (`int`, *optional*, defaults to 1):
            Id of the `<pad>` token.

    Example:
        >>> config = SvdConfig(vocab_size=1000, vector_size=50, window_size=5, distance_weighting="none")
        >>> config.cds, config.neg, config.eig, config.add_context
        (0.75, 1.0, 0.5, True)
    """

    model_type = "hfe_svd"

    def __init__(
        self,
        vocab_size: int = 4,
        vector_size: int = 500,
        window_size: int = 2,
        distance_weighting: str = "harmonic",
        min_count: int = 5,
        max_vocab_size: int | None = None,
        cds: float = 0.75,
        neg: float = 1.0,
        eig: float = 0.5,
        add_context: bool = True,
        keep_context: bool = False,
        svd: str = "randomized",
        n_iter: int = 5,
        n_oversamples: int = 10,
        seed: int | None = None,
        memory: float = 4.0,
        pad_token_id: int = 1,
        **kwargs,
    ):
        for name, value in (
            ("vocab_size", vocab_size),
            ("vector_size", vector_size),
            ("window_size", window_size),
        ):
            _positive_int(name, value)
        # the command line reads "none"/"true" as None/True: accept them for the two spellings
        distance_weighting = {None: "none", False: "none", True: "harmonic"}.get(
            distance_weighting, distance_weighting
        )
        if distance_weighting not in DISTANCE_WEIGHTING:
            raise ValueError(
                f"distance_weighting must be one of {DISTANCE_WEIGHTING}, got {distance_weighting!r}"
            )
        if svd not in SVD_SOLVERS:
            raise ValueError(f"svd must be one of {SVD_SOLVERS}, got {svd!r}")
        for name, value in (("n_iter", n_iter), ("n_oversamples", n_oversamples)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
            raise ValueError(f"seed must be an integer >= 0 or None, got {seed!r}")
        self.vocab_size = vocab_size
        self.vector_size = vector_size
        self.window_size = window_size
        self.distance_weighting = distance_weighting
        self.min_count = min_count
        self.max_vocab_size = max_vocab_size
        self.cds = _number("cds", cds, minimum=0, strict=True)
        self.neg = _number("neg", neg, minimum=1, strict=False)
        self.eig = _number("eig", eig, minimum=0, strict=False)
        self.add_context = bool(add_context)
        self.keep_context = bool(keep_context)
        self.svd = svd
        self.n_iter = n_iter
        self.n_oversamples = n_oversamples
        self.seed = seed
        self.memory = _number("memory", memory, minimum=0, strict=True)
        super().__init__(pad_token_id=pad_token_id, **kwargs)

    @property
    def has_context_table(self) -> bool:
        """Whether the model holds the context table C (for `add_context`, or kept by `keep_context`)."""
        return self.add_context or self.keep_context
