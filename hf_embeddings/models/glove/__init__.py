"""GloVe family entry: co-occurrence counting (cooccur.c semantics) + weighted least squares with AdaGrad."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from transformers import TrainerCallback
from transformers.utils import logging as hf_logging

from ...errors import FormatError, HFEmbeddingsError
from ...text.tokenization import WordTokenizer
from ..family import PREBUILT_BATCH_ARGS, ModelFamily, TrainingData, unwrap_batch
from .configuration_glove import COOCCURRENCE_FILE, GloVeConfig
from .cooccurrence import Cooccurrence, count_cooccurrences, load_cooccurrence
from .data_glove import GloVeEntries
from .modeling_glove import GloVeForWeightedLeastSquares, GloVeModel, GloVePreTrainedModel, glove_loss
from .optimization_glove import GloVeAdaGrad

logger = logging.getLogger(__name__)

#: entries per optimisation step. On gcide (9.4M non-zeros) every quality figure meets its target
#: (reference - 0.01) from 4k to 262k entries per step (bench/glove_quality.py, H100); on a CPU 16k is
#: the fastest (smaller: per-step overhead, larger: cache misses), and a GPU (H100: 0.2-0.4 s per epoch
#: at 65k) gains little from bigger steps.
CPU_ENTRIES_PER_BATCH = 16384
GPU_ENTRIES_PER_BATCH = 65536


def config_from_corpus(corpus, **options) -> GloVeConfig:
    """Return a GloVeConfig sized to the corpus's vocabulary."""
    for key in ("min_count", "max_vocab_size"):  # recorded from the corpus that was counted
        if key in corpus.stats:
            options.setdefault(key, corpus.stats[key])
    return GloVeConfig(vocab_size=len(corpus.tokenizer), **options)


def _cache_path(corpus, config: GloVeConfig) -> Path | None:
    if getattr(corpus, "cache_dir", None) is None:
        return None
    kind = ("sym" if config.symmetric else "left") + ("-dist" if config.distance_weighting else "-flat")
    return Path(corpus.cache_dir) / f"glove-cooccurrence-w{config.window_size}-{kind}.npz"


def cooccurrence_for(corpus, config: GloVeConfig, *, cache: bool = True) -> Cooccurrence:
    """Return the co-occurrence matrix `config` asks for, counted once per corpus cache and then reused."""
    settings = {
        "window_size": config.window_size,
        "symmetric": config.symmetric,
        "distance_weighting": config.distance_weighting,
    }
    path = _cache_path(corpus, config) if cache else None
    if path is not None and path.is_file():
        try:
            found = load_cooccurrence(path)
        except FormatError as e:
            logger.warning("ignoring unreadable co-occurrence cache: %s", e)
        else:
            if found.settings() == settings and found.vocab_size == len(corpus.tokenizer):
                return found
    # a slow step before training: shown when transformers' progress bars are (fit turns them off for
    # quiet runs and the other ranks)
    show = hf_logging.is_progress_bar_enabled()
    cooccurrence = count_cooccurrences(corpus, memory=config.memory, show_progress=show, **settings)
    if path is not None:
        try:
            cooccurrence.save(path)
        except OSError as e:  # a read-only cache is not an error
            logger.warning("could not cache the co-occurrence matrix at %s: %s", path, e)
    return cooccurrence


def resolve_cooccurrence(
    cooccurrence: Cooccurrence | str | os.PathLike | None, corpus, config: GloVeConfig, *, cache: bool = True
) -> Cooccurrence:
    """The co-occurrence matrix to train from: `cooccurrence` as given (a `Cooccurrence`, a `.npz` file
    or a model folder holding one), else counted with `config`'s settings (or read from the corpus
    cache when `cache`); its vocabulary must be the config's."""
    if cooccurrence is None:
        cooc = cooccurrence_for(corpus, config, cache=cache)
    elif isinstance(cooccurrence, Cooccurrence):
        cooc = cooccurrence
    else:
        cooc = load_cooccurrence(cooccurrence)
    if cooc.vocab_size != config.vocab_size:
        raise HFEmbeddingsError(
            f"the co-occurrence matrix is over {cooc.vocab_size} ids but the model has {config.vocab_size}"
        )
    return cooc


class _KeepCooccurrence(TrainerCallback):
    """Hands the training matrix to the model, whose `save_pretrained` writes it beside the weights."""

    def __init__(self, cooccurrence: Cooccurrence):
        self.cooccurrence = cooccurrence

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        base = getattr(model, "glove", model)
        if hasattr(base, "attach_cooccurrence"):
            base.attach_cooccurrence(self.cooccurrence)


def build_training_data(
    corpus,
    config: GloVeConfig,
    *,
    seed: int = 0,
    device="cpu",
    cooccurrence: Cooccurrence | str | os.PathLike | None = None,
    entries_per_batch: int | None = None,
    cache: bool = True,
    adagrad_mode: str = "fresh",
) -> TrainingData:
    """Return the shuffled-entries dataset, its collator, and the AdaGrad optimiser for `Trainer`.

    `cooccurrence` reuses a matrix (a `Cooccurrence`, a `.npz` file or a model folder holding one) instead
    of counting; otherwise it is counted, or read from the corpus cache when `cache`.
    """
    cooc = resolve_cooccurrence(cooccurrence, corpus, config, cache=cache)
    on_cpu = torch.device(device).type == "cpu"
    batch = (
        entries_per_batch
        or config.entries_per_batch
        or (CPU_ENTRIES_PER_BATCH if on_cpu else GPU_ENTRIES_PER_BATCH)
    )
    dataset = GloVeEntries(
        cooc, x_max=config.x_max, alpha=config.alpha, entries_per_batch=batch, seed=seed, device=device
    )
    return TrainingData(
        train_dataset=dataset,
        data_collator=unwrap_batch,
        trainer_kwargs={
            "sparse_sgd": False,
            "optimizer_cls_and_kwargs": (GloVeAdaGrad, {"lr": config.learning_rate, "mode": adagrad_mode}),
            "callbacks": [_KeepCooccurrence(cooc)],
        },
        training_overrides={
            "learning_rate": config.learning_rate,
            "num_train_epochs": config.epochs,
            "dataloader_num_workers": 0,  # a batch is four gathers: nothing to overlap
        },
    )


FAMILY = ModelFamily(
    card_template=str(Path(__file__).with_name("card_glove.md.j2")),
    name="glove",
    config_class=GloVeConfig,
    model_class=GloVeModel,
    training_class=GloVeForWeightedLeastSquares,
    tokenizer_class=WordTokenizer,
    build_training_data=build_training_data,
    make_config=config_from_corpus,
    option_aliases={"batch_size": "entries_per_batch"},
    cache_files=(COOCCURRENCE_FILE,),
    training_defaults={
        **PREBUILT_BATCH_ARGS,
        "max_grad_norm": 0.0,
        "lr_scheduler_type": "constant",  # glove.c: a fixed initial rate, AdaGrad does the decay
        "weight_decay": 0.0,
        "logging_steps": 100,
    },
    quickstart={
        "config": {"vector_size": 100, "epochs": 15, "x_max": 10.0},
        "min_count": 5,
    },  # the demo's settings
    description="GloVe (Pennington et al. 2014): weighted least squares on log co-occurrence counts",
)

__all__ = [
    "COOCCURRENCE_FILE",
    "FAMILY",
    "Cooccurrence",
    "GloVeAdaGrad",
    "GloVeConfig",
    "GloVeEntries",
    "GloVeForWeightedLeastSquares",
    "GloVeModel",
    "GloVePreTrainedModel",
    "build_training_data",
    "config_from_corpus",
    "cooccurrence_for",
    "resolve_cooccurrence",
    "count_cooccurrences",
    "glove_loss",
    "load_cooccurrence",
]
