"""Word2Vec family entry: skip-gram / CBOW with negative sampling."""

import torch

from ...registry import PREBUILT_BATCH_ARGS, ModelFamily, TrainingData, unwrap_batch
from ...tokenization import WordTokenizer
from .configuration_word2vec import Word2VecConfig
from .data_word2vec import Word2VecBatches
from .modeling_word2vec import Word2VecForNegativeSampling, Word2VecModel, Word2VecPreTrainedModel


def config_from_corpus(corpus, **options) -> Word2VecConfig:
    """Return a Word2VecConfig sized to the corpus's vocabulary."""
    options.setdefault("min_count", corpus.stats.get("min_count", 5))
    return Word2VecConfig(vocab_size=len(corpus.tokenizer), **options)


def build_training_data(
    corpus,
    config: Word2VecConfig,
    *,
    seed: int = 0,
    device="cpu",
    words_per_batch: int | None = None,
    dataloader_workers: int | None = None,
) -> TrainingData:
    """Return the batch dataset (one item = one pre-built batch, generated on `device`) and its collator.

    `words_per_batch` (corpus words per optimiser step) defaults to 65536 on a CPU and 262144 on an
    accelerator; inside a batch, sub-batches of `config.sub_batch_words` centre words (the tensor path)
    or single examples (the CPU kernel) train one after the other, so the batch size trades per-step
    overhead against how often the learning rate decays, not quality (gcide, bench/word2vec_vs_gensim.py,
    CPU kernel: 16384 -> 65536 words per step took skip-gram from 338k to 389k words/s and CBOW from
    530k to 676k). On a CPU the batches are built
    in `dataloader_workers` (default 1) worker process while the previous one trains (persistent
    workers work too: the dataset's epoch lives in shared memory).
    """
    on_cpu = torch.device(device).type == "cpu"
    dataset = Word2VecBatches(
        corpus,
        architecture=config.architecture,
        window=config.window,
        negative=config.negative,
        sample=config.sample,
        ns_exponent=config.ns_exponent,
        hierarchical_softmax=config.hierarchical_softmax,
        shrink_windows=config.shrink_windows,
        max_sentence_length=config.max_sentence_length,
        words_per_batch=words_per_batch or (65536 if on_cpu else 262144),
        block_size=config.block_size,
        negatives_per_block=config.block_negatives,
        seed=seed,
        device=device,
    )
    if dataloader_workers is None:
        dataloader_workers = 1 if on_cpu else 0
    return TrainingData(
        train_dataset=dataset,
        data_collator=unwrap_batch,
        trainer_kwargs={"min_learning_rate": config.min_alpha},
        training_overrides={
            "learning_rate": config.alpha,
            "num_train_epochs": config.epochs,
            "dataloader_num_workers": dataloader_workers,
        },
    )


FAMILY = ModelFamily(
    name="word2vec",
    config_class=Word2VecConfig,
    model_class=Word2VecModel,
    training_class=Word2VecForNegativeSampling,
    tokenizer_class=WordTokenizer,
    build_training_data=build_training_data,
    config_from_args=config_from_corpus,
    training_defaults={
        **PREBUILT_BATCH_ARGS,
        "max_grad_norm": 0.0,
        "lr_scheduler_type": "linear",
        "weight_decay": 0.0,
        "logging_steps": 50,
    },
    quickstart={"config": {"vector_size": 100, "epochs": 5}, "min_count": 5},
    description="Word2Vec (Mikolov et al. 2013): skip-gram and CBOW with negative sampling",
)

__all__ = [
    "FAMILY",
    "Word2VecConfig",
    "Word2VecForNegativeSampling",
    "Word2VecModel",
    "Word2VecPreTrainedModel",
]
