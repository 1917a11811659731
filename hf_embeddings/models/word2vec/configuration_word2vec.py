"""Configuration of Word2Vec (Mikolov et al. 2013): skip-gram / CBOW with negative sampling."""

from ..configuration_base import EmbeddingConfig

ARCHITECTURES = ("skipgram", "cbow")
GPU_KERNELS = ("auto", "triton", "torch")


class Word2VecConfig(EmbeddingConfig):
    """Configuration of a Word2Vec model (skip-gram or CBOW, trained with negative sampling and/or
    hierarchical softmax); the defaults are gensim 4's. The vocabulary (and the word counts) live with the
    tokenizer, not here. Batches train on one of two paths: the compiled CPU kernel (per-example updates
    over corpus spans, as gensim) or the tensor path (a GPU, or `cpu_kernel="torch"`; see `data_word2vec`
    and `modeling_word2vec`), which alone reads `block_size`, `block_negatives`, `sub_batch_words`,
    `max_row_step` and `gpu_kernel` (the CPU kernel ignores these five fields). Other keyword arguments go to
    `EmbeddingConfig` (the folder format version) and `PretrainedConfig`.

    Args:
        vocab_size (`int`, *optional*, defaults to 4):
            Rows of the word-vector tables: the tokenizer's size (the 4 special tokens, then the words).
        vector_size (`int`, *optional*, defaults to 100):
            Size of the word vectors.
        window (`int`, *optional*, defaults to 5):
            Largest distance between a centre word and a context word.
        negative (`int`, *optional*, defaults to 5):
            Negative samples per example; 0 (with `hierarchical_softmax=True`) trains hierarchical
            softmax only.
        hierarchical_softmax (`bool`, *optional*, defaults to `False`):
            Also (or, with `negative=0`, only) train against the word's Huffman-tree path, as word2vec.c's
            `-hs`; the inner-node vectors live in `hs_embeddings`. Trained by the CPU kernel.
        ns_exponent (`float`, *optional*, defaults to 0.75):
            Exponent of the unigram distribution of the negative-sampling table.
        sample (`float`, *optional*, defaults to 1e-3):
            Frequent-word subsampling threshold, in [0, 1).
        architecture (`str`, *optional*, defaults to `"skipgram"`):
            `"skipgram"` (predict the context from the centre word) or `"cbow"` (predict the centre word
            from its context).
        cbow_mean (`bool`, *optional*, defaults to `True`):
            CBOW: average the context vectors (else sum them, gensim's `cbow_mean=0`).
        shrink_windows (`bool`, *optional*, defaults to `True`):
            Draw each centre word's effective window uniformly in [1, `window`], as gensim and word2vec.c;
            `False` always uses `window`.
        min_count (`int`, *optional*, defaults to 5):
            Words seen fewer times were left out of the vocabulary (recorded from the counted corpus).
        max_vocab_size (`int`, *optional*, defaults to `None`):
            Cap on the vocabulary size the corpus was counted with (recorded from the counted corpus;
            `None`: no cap).
        max_sentence_length (`int`, *optional*, defaults to 10000):
            Longer sentences are cut into pieces of this many words (gensim's `MAX_WORDS_IN_BATCH`).
        alpha (`float`, *optional*, defaults to 0.025):
            Initial learning rate of the linear schedule, decayed over all words of all epochs.
        min_alpha (`float`, *optional*, defaults to 1e-4):
            Final learning rate of that schedule (0 <= `min_alpha` <= `alpha`).
        epochs (`int`, *optional*, defaults to 5):
            Passes over the corpus.
        block_size (`int`, *optional*, defaults to 8):
            Tensor path: the centre words of a batch are grouped in blocks of `block_size` consecutive
            words whose examples share `block_negatives` negatives, each weighted negative /
            block_negatives, so the expected update is gensim's.
        block_negatives (`int`, *optional*, defaults to `None`):
            Tensor path: negatives shared by a block (`None`: 4 * `negative`, at least 1).
        sub_batch_words (`int`, *optional*, defaults to `None`):
            Tensor path: inside a batch, sub-batches of `sub_batch_words` centre words are trained one
            after the other (each sees the SGD updates of the previous ones), so training does not depend
            on the batch size. `None` picks by device: `CPU_SUB_BATCH_WORDS` (1024) on a CPU,
            `GPU_SUB_BATCH_WORDS` (16384) on an accelerator, where smaller sub-batches leave the GPU idle
            (bench/word2vec_vs_gensim.py on an H100, gcide, skip-gram: 1024 -> 1.7M words/s, 4096 -> 4.8M,
            16384 -> 12.7M words/s, WS-353 0.558 / 0.547 / 0.534).
        words_per_batch (`int`, *optional*, defaults to `None`):
            Corpus positions per optimisation step (the `--batch-size` of `train word2vec`). `None` picks
            by path: 262144 for the CPU kernel, 65536 for the tensor path on a CPU, 1048576 on an
            accelerator. It trades per-step overhead against memory and progress reports, not quality.
        cpu_kernel (`str`, *optional*, defaults to `"auto"`):
            How a CPU trains: `"auto"` (the compiled per-example kernel over corpus spans when numba is
            installed, else the tensor path), `"numba"` (require it) or `"torch"` (the tensor path). What
            is deterministic: the tensor path, for a seed and device, with any thread count; the kernel
            with one thread (`torch.set_num_threads(1)`); with more, its threads update the tables without
            locks, as gensim's workers do, so runs differ in the last bits (and thereafter).
        max_row_step (`float`, *optional*, defaults to 2.0):
            Tensor path: bound on how far one sub-batch may move a row, a trust region that only binds on
            runaway rows (very frequent words in small vocabularies); `None` disables it.
        gpu_kernel (`str`, *optional*, defaults to `"auto"`):
            How the tensor path trains on a GPU: `"auto"` (the fused Triton kernel of `kernels_triton` on
            CUDA float32 tables when triton is installed, else the tensor ops), `"triton"` (require it; on a
            CPU only in Triton's interpreter, `TRITON_INTERPRET=1`, which is for tests) or `"torch"` (the
            tensor ops, the reference). Both apply the same update, up to float32 rounding.
        init_scale (`float`, *optional*, defaults to 0.5):
            Input vectors start uniform in +-`init_scale` / `vector_size` (0.5: word2vec.c and gensim 3;
            gensim 4 uses 1); output vectors start at zero.
        imported_vectors (`bool`, *optional*, defaults to `False`):
            The word vectors were imported from a word2vec / GloVe file (`convert import`), which has no
            output table: the folder stores the input table alone, and loading starts the output table at
            zero, as a new model does (a 3M-word import is then not written and downloaded twice). A training
            head clears it, so a trained folder stores both tables, and one missing its output table is
            still refused.
        pad_token_id (`int`, *optional*, defaults to 1):
            Id of the `<pad>` token.

    Example:
        >>> Word2VecConfig(vocab_size=1000, vector_size=50, architecture="cbow").window
        5
    """

    model_type = "hfe_word2vec"
    CPU_SUB_BATCH_WORDS = 1024
    GPU_SUB_BATCH_WORDS = 16384

    def __init__(
        self,
        vocab_size: int = 4,
        vector_size: int = 100,
        window: int = 5,
        negative: int = 5,
        hierarchical_softmax: bool = False,
        ns_exponent: float = 0.75,
        sample: float = 1e-3,
        architecture: str = "skipgram",
        cbow_mean: bool = True,
        shrink_windows: bool = True,
        min_count: int = 5,
        max_vocab_size: int | None = None,
        max_sentence_length: int = 10000,
        alpha: float = 0.025,
        min_alpha: float = 1e-4,
        epochs: int = 5,
        block_size: int = 8,
        block_negatives: int | None = None,
        sub_batch_words: int | None = None,
        words_per_batch: int | None = None,
        cpu_kernel: str = "auto",
        max_row_step: float | None = 2.0,
        gpu_kernel: str = "auto",
        init_scale: float = 0.5,
        imported_vectors: bool = False,
        pad_token_id: int = 1,
        **kwargs,
    ):
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        if not isinstance(negative, int) or negative < 0:
            raise ValueError(f"negative must be an integer >= 0, got {negative!r}")
        if negative == 0 and not hierarchical_softmax:
            raise ValueError("negative=0 needs hierarchical_softmax=True: there would be nothing to train")
        if block_negatives is None:
            block_negatives = max(4 * negative, 1)
        for name, value in (
            ("vector_size", vector_size),
            ("window", window),
            ("vocab_size", vocab_size),
            ("epochs", epochs),
            ("max_sentence_length", max_sentence_length),
            ("block_size", block_size),
            ("block_negatives", block_negatives),
            ("sub_batch_words", 1 if sub_batch_words is None else sub_batch_words),
            ("words_per_batch", 1 if words_per_batch is None else words_per_batch),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if max_row_step is not None and not max_row_step > 0:
            raise ValueError(f"max_row_step must be > 0 or None, got {max_row_step!r}")
        if not 0 <= sample < 1:
            raise ValueError(f"sample must be in [0, 1), got {sample!r}")
        if not 0 <= min_alpha <= alpha:
            raise ValueError(f"need 0 <= min_alpha <= alpha, got alpha={alpha!r}, min_alpha={min_alpha!r}")
        self.vocab_size = vocab_size
        self.vector_size = vector_size
        self.window = window
        self.negative = negative
        self.hierarchical_softmax = bool(hierarchical_softmax)
        self.ns_exponent = ns_exponent
        self.sample = sample
        self.architecture = architecture
        self.cbow_mean = cbow_mean
        self.shrink_windows = shrink_windows
        self.min_count = min_count
        self.max_vocab_size = max_vocab_size
        self.max_sentence_length = max_sentence_length
        self.alpha = alpha
        self.min_alpha = min_alpha
        self.epochs = epochs
        self.block_size = block_size
        self.block_negatives = block_negatives
        if cpu_kernel not in ("auto", "numba", "torch"):
            raise ValueError(f"cpu_kernel must be 'auto', 'numba' or 'torch', got {cpu_kernel!r}")
        self.sub_batch_words = sub_batch_words
        self.words_per_batch = words_per_batch
        self.cpu_kernel = cpu_kernel
        if gpu_kernel not in GPU_KERNELS:
            raise ValueError(f"gpu_kernel must be one of {GPU_KERNELS}, got {gpu_kernel!r}")
        self.gpu_kernel = gpu_kernel
        self.max_row_step = max_row_step
        if not init_scale > 0:
            raise ValueError(f"init_scale must be > 0, got {init_scale!r}")
        self.init_scale = init_scale
        if not isinstance(imported_vectors, bool):
            raise ValueError(f"imported_vectors must be true or false, got {imported_vectors!r}")
        self.imported_vectors = imported_vectors
        super().__init__(pad_token_id=pad_token_id, **kwargs)
