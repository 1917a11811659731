"""Word2Vec family entry: skip-gram / CBOW with negative sampling."""

from pathlib import Path

import torch

from ...text.tokenization import WordTokenizer
from ..family import PREBUILT_BATCH_ARGS, ModelFamily, TrainingData, data_parallel_processes, unwrap_batch
from .configuration_word2vec import Word2VecConfig
from .data_word2vec import Word2VecBatches, Word2VecSpans
from .modeling_word2vec import Word2VecForNegativeSampling, Word2VecModel, Word2VecPreTrainedModel

#: corpus words per process between two exchanges of a multi-process run (ReplicaSync). 2 processes on
#: gcide: analogy 0.163 -> 0.155 at this, 0.162 -> 0.148 at twice as many, 0.163 -> 0.138 at 4-8x
#: (bench/results/2026-12-06-cpu-distributed.json)
SYNC_WORDS = 131072


def config_from_corpus(corpus, **options) -> Word2VecConfig:
    """Return a Word2VecConfig sized to the corpus's vocabulary."""
    for key in ("min_count", "max_vocab_size"):  # recorded from the corpus that was counted
        if key in corpus.stats:
            options.setdefault(key, corpus.stats[key])
    return Word2VecConfig(vocab_size=len(corpus.tokenizer), **options)


def uses_cpu_kernel(config: Word2VecConfig, device) -> bool:
    """Whether training on `device` goes through the compiled CPU kernel (spans) or the tensor path."""
    if torch.device(device).type != "cpu" or config.cpu_kernel == "torch":
        return False
    from .kernels_word2vec import available

    if not available():
        if config.cpu_kernel == "numba":
            raise ImportError("Word2VecConfig(cpu_kernel='numba') needs numba: pip install numba")
        return False
    return True


def build_training_data(
    corpus,
    config: Word2VecConfig,
    *,
    seed: int = 0,
    device="cpu",
    words_per_batch: int | None = None,
    dataloader_workers: int | None = None,
) -> TrainingData:
    """Return the batch dataset (one item = one batch) and its collator for training on `device`.

    On a CPU with numba (config.cpu_kernel "auto" or "numba"): `Word2VecSpans`, plain corpus spans of
    `words_per_batch` (default 262144; under several processes SYNC_WORDS, as they exchange their updates
    after every step) positions that the compiled kernel subsamples, windows and trains,
    its learning rate decaying within the span, so the batch size only trades per-step overhead against
    how often progress is reported. Otherwise (an accelerator, or cpu_kernel="torch"): `Word2VecBatches`,
    examples built with tensor ops on `device`, `words_per_batch` defaulting to 1048576 on an
    accelerator (on one H100, 1M words per step instead of 262144 took skip-gram from 11.2M to 12.4M
    words/s and CBOW from 9.4M to 13.5M: bench/results/2026-11-26-h100-b) and 65536 on a CPU; inside a
    batch, sub-batches of `config.sub_batch_words` centre words train one after the other, the learning
    rate decaying linearly across them towards the next step's, so the batch size trades per-step
    overhead against memory, not quality. `words_per_batch` defaults to `config.words_per_batch`. On a CPU those batches are built in `dataloader_workers`
    (default 1) worker process while the previous one trains (persistent workers work too: the
    dataset's epoch lives in shared memory); spans need none (default 0).
    """
    on_cpu = torch.device(device).type == "cpu"
    words_per_batch = words_per_batch or config.words_per_batch
    common = dict(
        architecture=config.architecture,
        window=config.window,
        negative=config.negative,
        sample=config.sample,
        ns_exponent=config.ns_exponent,
        hierarchical_softmax=config.hierarchical_softmax,
        shrink_windows=config.shrink_windows,
        max_sentence_length=config.max_sentence_length,
        seed=seed,
    )
    if config.hierarchical_softmax and not uses_cpu_kernel(config, device):
        raise ValueError(
            "hierarchical softmax is trained by the CPU kernel only (numba, cpu_kernel 'auto' or 'numba', "
            f"on a CPU); this run is on {torch.device(device).type} with cpu_kernel={config.cpu_kernel!r}: "
            "use negative sampling there"
        )
    if uses_cpu_kernel(config, device):
        # one process: 262,144 words per step; several: SYNC_WORDS, as each step ends with an exchange
        default = 262144 if data_parallel_processes() == 1 else SYNC_WORDS
        dataset = Word2VecSpans(corpus, words_per_batch=words_per_batch or default, **common)
        default_workers = 0
    else:
        dataset = Word2VecBatches(
            corpus,
            words_per_batch=words_per_batch or (65536 if on_cpu else 1048576),
            block_size=config.block_size,
            negatives_per_block=config.block_negatives,
            device=device,
            **common,
        )
        default_workers = 1 if on_cpu else 0
    if dataloader_workers is None:
        dataloader_workers = default_workers
    return TrainingData(
        train_dataset=dataset,
        data_collator=unwrap_batch,
        trainer_kwargs={
            "min_learning_rate": config.min_alpha,
            # several processes: exchange updates at least every SYNC_WORDS corpus words per process (more
            # words between exchanges cost analogy accuracy: README, "Several processes")
            "replica_sync": max(1, SYNC_WORDS // dataset.words_per_batch),
        },
        training_overrides={
            "learning_rate": config.alpha,
            "num_train_epochs": config.epochs,
            "dataloader_num_workers": dataloader_workers,
        },
    )


FAMILY = ModelFamily(
    card_template=str(Path(__file__).with_name("card_word2vec.md.j2")),
    name="word2vec",
    config_class=Word2VecConfig,
    model_class=Word2VecModel,
    training_class=Word2VecForNegativeSampling,
    tokenizer_class=WordTokenizer,
    build_training_data=build_training_data,
    make_config=config_from_corpus,
    option_aliases={"learning_rate": "alpha", "batch_size": "words_per_batch"},
    training_defaults={
        **PREBUILT_BATCH_ARGS,
        "max_grad_norm": 0.0,
        "lr_scheduler_type": "linear",
        "weight_decay": 0.0,
        "logging_steps": 50,
        "train_sampling_strategy": "sequential",
    },
    # 15 epochs on the 447k-word bundled corpus: WS-353 0.44 / SimLex 0.25 instead of 0.20 / 0.09 at 5, ~10 s more
    quickstart={"config": {"vector_size": 100, "epochs": 15}, "min_count": 5},
    description="Word2Vec (Mikolov et al. 2013): skip-gram and CBOW with negative sampling",
    vocabulary_tables=("embeddings.weight", "output_embeddings.weight"),
)

__all__ = [
    "FAMILY",
    "Word2VecConfig",
    "Word2VecForNegativeSampling",
    "Word2VecModel",
    "Word2VecPreTrainedModel",
]
