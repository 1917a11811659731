"""PPMI-SVD family entry: co-occurrence counts (GloVe's counting and cache) -> shifted PPMI -> truncated SVD.

Count-based word vectors as Levy, Goldberg & Dagan (2015) tuned them. The factorisation has a closed form,
so it goes through the family contract as a one-step fit: `build_training_data` counts (or reads the
corpus's cached counts) and returns a one-batch dataset whose item, computed inside `Trainer.train()`, is
the factorisation; `SvdForFactorization`'s forward copies it into the model and returns a loss that has a
zero gradient there, so `train`, `fit`, the folder, log, card and evaluation are those of every family.
"""

from __future__ import annotations

import inspect
import logging
import os
from pathlib import Path

from transformers import TrainerCallback

from ...errors import HFEmbeddingsError
from ...text.tokenization import WordTokenizer
from ..family import PREBUILT_BATCH_ARGS, ModelFamily, TrainingData, unwrap_batch

# the counting (chunked, spilled, exact) and its per-corpus cache are GloVe's (data path only: the
# bundled configuration_svd / modeling_svd import nothing of GloVe)
from ..glove import cooccurrence_for, resolve_cooccurrence
from ..glove.configuration_glove import GloVeConfig
from ..glove.cooccurrence import Cooccurrence
from .configuration_svd import SvdConfig
from .data_svd import SvdFactorizationBatch
from .modeling_svd import SvdForFactorization, SvdModel, SvdPreTrainedModel
from .ppmi_svd import Factorization, factorize, ppmi_matrix, randomized_svd, truncated_svd

logger = logging.getLogger(__name__)


def config_from_corpus(corpus, **options) -> SvdConfig:
    """Return an SvdConfig sized to the corpus's vocabulary.

    The rank of the SVD is at most the number of words: a `vector_size` above it is refused, the default
    (500) is lowered to it on a small corpus.
    """
    for key in ("min_count", "max_vocab_size"):  # recorded from the corpus that was counted
        if key in corpus.stats:
            options.setdefault(key, corpus.stats[key])
    tok = corpus.tokenizer
    words = len(tok) - getattr(tok, "num_special_tokens", 4)
    if "vector_size" in options:
        size = options["vector_size"]
        if isinstance(size, int) and not isinstance(size, bool) and size > max(words, 1):
            raise ValueError(
                f"vector_size {size} is more than the {words} words of the vocabulary: at most {words}"
            )
    else:
        default = inspect.signature(SvdConfig.__init__).parameters["vector_size"].default
        if default > words:
            logger.warning(
                "svd: %d words in the vocabulary, vector_size lowered from %d to %d", words, default, words
            )
            options["vector_size"] = max(words, 1)
    return SvdConfig(vocab_size=len(tok), **options)


def counting_config(config: SvdConfig) -> GloVeConfig:
    """The GloVe counting settings of `config`: a symmetric window, 1/distance weights or flat ones."""
    return GloVeConfig(
        vocab_size=config.vocab_size,
        window_size=config.window_size,
        symmetric=True,
        distance_weighting=config.distance_weighting == "harmonic",
        memory=config.memory,
    )


def cooccurrence_counts(corpus, config: SvdConfig, *, cache: bool = True) -> Cooccurrence:
    """The co-occurrence counts `config` asks for, counted once per corpus cache (shared with GloVe runs
    of the same window and weighting) and then reused."""
    return cooccurrence_for(corpus, counting_config(config), cache=cache)


class _LogFactorization(TrainerCallback):
    """Adds the factorisation's sizes and times (non-zeros, PPMI and SVD seconds, residual) to the log."""

    def __init__(self, data: SvdFactorizationBatch):
        self.data = data

    def on_train_end(self, args, state, control, **kwargs):
        if self.data.stats:
            state.log_history.append({"step": state.global_step, **self.data.stats})


def build_training_data(
    corpus,
    config: SvdConfig,
    *,
    seed: int = 0,
    device="cpu",
    cooccurrence: Cooccurrence | str | os.PathLike | None = None,
    cache: bool = True,
) -> TrainingData:
    """Return the one-batch dataset whose item is the factorisation (computed on first access).

    `cooccurrence` reuses counts (a `Cooccurrence`, a `.npz` file or a GloVe folder holding one) counted
    with the config's window and weighting; otherwise they are counted, or read from the corpus cache
    when `cache`. `config.seed` None takes the run's `seed` (and records it in the config).
    """
    counts = resolve_cooccurrence(cooccurrence, corpus, counting_config(config), cache=cache)
    want = counting_config(config)
    if (counts.window_size, counts.symmetric, counts.distance_weighting) != (
        want.window_size,
        want.symmetric,
        want.distance_weighting,
    ):
        raise HFEmbeddingsError(
            f"the co-occurrence matrix was counted with {counts.settings()}, but the config asks for "
            f"window_size={config.window_size}, symmetric, distance_weighting={config.distance_weighting!r}"
        )
    if config.seed is None:
        config.seed = seed
    dataset = SvdFactorizationBatch(counts.to_scipy(), config, seed=config.seed, device=device)
    return TrainingData(
        train_dataset=dataset,
        data_collator=unwrap_batch,
        # plain SGD on a zero gradient is an exact no-op (and keeps no optimiser state)
        trainer_kwargs={"sparse_sgd": True, "callbacks": [_LogFactorization(dataset)]},
        training_overrides={"dataloader_num_workers": 0},  # the one batch is the solve: no worker
    )


FAMILY = ModelFamily(
    name="svd",
    config_class=SvdConfig,
    model_class=SvdModel,
    training_class=SvdForFactorization,
    tokenizer_class=WordTokenizer,
    make_config=config_from_corpus,
    build_training_data=build_training_data,
    training_defaults={
        **PREBUILT_BATCH_ARGS,
        "num_train_epochs": 1,  # one step: the closed-form solution is copied in
        "max_grad_norm": 0.0,
        "lr_scheduler_type": "constant",
        "weight_decay": 0.0,
        "logging_steps": 1,
    },
    quickstart={"config": {"vector_size": 100}, "min_count": 5},
    card_template=str(Path(__file__).with_name("card_svd.md.j2")),
    description=(
        "PPMI-SVD (Levy, Goldberg & Dagan 2015): truncated SVD of the shifted positive PMI of "
        "word-context co-occurrences"
    ),
)

__all__ = [
    "FAMILY",
    "Factorization",
    "SvdConfig",
    "SvdFactorizationBatch",
    "SvdForFactorization",
    "SvdModel",
    "SvdPreTrainedModel",
    "build_training_data",
    "config_from_corpus",
    "cooccurrence_counts",
    "counting_config",
    "factorize",
    "ppmi_matrix",
    "randomized_svd",
    "truncated_svd",
]
