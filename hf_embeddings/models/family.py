"""The family contract: what one model folder tells the generic machinery, and the registry of families.

A family is one folder under `hf_embeddings/models/<name>/` whose `__init__.py` exposes `FAMILY`, a
`ModelFamily`. The CLI, `fit`/`train`, evaluation, Hub folders, model cards and the demo use a model
only through this object, never by family name (docs/adding-a-model.md walks through a toy family).
Built-in families are listed once, in `BUILTIN_FAMILIES`; other packages add theirs under the
`hf_embeddings.models` entry-point group.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from ..errors import HFEmbeddingsError

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "hf_embeddings.models"
#: the one list of built-in families (name -> "module:attribute")
BUILTIN_FAMILIES = {
    "word2vec": "hf_embeddings.models.word2vec:FAMILY",
    "nnlm": "hf_embeddings.models.nnlm:FAMILY",
    "glove": "hf_embeddings.models.glove:FAMILY",
    "elmo": "hf_embeddings.models.elmo:FAMILY",
    "svd": "hf_embeddings.models.svd:FAMILY",
}

#: what a family can do, as the demo, pipelines and cards ask for it
CAPABILITIES = frozenset({"static", "next_word", "contextual"})


@dataclass(frozen=True)
class PipelineSpec:
    """A `transformers` pipeline a family provides, registered lazily when the family is registered.

    Args:
        task: the pipeline task name (`pipeline(task, model=...)`).
        target: "module:Class" of the `Pipeline` subclass, imported on first use.
        auto_class: the Auto class name its models load with (e.g. "AutoModelForCausalLM").
    """

    task: str
    target: str
    auto_class: str = "AutoModel"


@dataclass(frozen=True)
class ModelFamily:
    """Everything the generic code needs to train, evaluate, save and show one model family.

    Args:
        name: the family's name on the command line and in the registry ("word2vec").
        config_class: its `PretrainedConfig` subclass (with a `model_type`).
        model_class: the base model, registered with `AutoModel` and saved in folders.
        training_class: the head `Trainer` trains (may equal `model_class`).
        tokenizer_class: the tokenizer class registered with `AutoTokenizer`.
        make_config: `(corpus, **options) -> config`, the config for training on a `TokenizedCorpus`
            (vocabulary size from the corpus); unknown or bad options raise `TypeError`/`ValueError`.
        build_training_data: `(corpus, config, *, seed, device, **data_options) -> TrainingData`. A slow
            step here (GloVe's co-occurrence counting) draws a progress bar when
            `transformers.utils.logging.is_progress_bar_enabled()`: training turns them off when quiet.
        make_tokenizer: `(word_tokenizer) -> tokenizer` saved with the model, when the family's tokenizer
            is not the corpus's `WordTokenizer` (ELMo's character tokenizer); None keeps the corpus's.
        training_defaults: `TrainingArguments` overrides for this family.
        option_aliases: user-facing option name -> config field, so that one setting has one name in
            config.json (Word2Vec: "learning_rate" -> "alpha").
        quickstart: small config (`config`), `min_count`, `opt_in` for `hf-embeddings quickstart`.
        evaluate: `(model, tokenizer) -> {metric: value}`; None runs the static word-vector suite on
            models with `wv`.
        card_template: path of the family's Jinja card template (extends `base.md.j2`).
        extra_auto_classes: more Auto classes to register, {"AutoModelForCausalLM": cls}.
        capabilities: a subset of `CAPABILITIES`: "static" (a word table with `wv`), "next_word" (a
            language-model head behind `extra_auto_classes`), "contextual" (`embed_sentences`).
        embed_sentences: for "contextual" families, `(model, tokenizer, sentences, batch_size) -> [array
            (layers, tokens, dim)]`, used by the demo.
        pipelines: the `PipelineSpec`s registered with the family.
        cache_files: files a saved folder may hold that are caches for further training, not the model
            (GloVe's co-occurrence matrix): left out of Hub pushes unless asked for.
        description: one line for `train --list` and the card.
        pipeline_tag: the Hub task the model card declares.
        vocabulary_tables: names (in the base model's state dict) of the tensors with one row per word id,
            in id order. Continued training (`train(..., init_from=FOLDER)`) copies a saved model's rows
            into them, words new to the vocabulary keeping their fresh initialisation, and every other
            tensor whole; empty: the family does not continue training.
    """

    name: str
    config_class: type
    model_class: type
    training_class: type
    tokenizer_class: type
    make_config: Callable[..., Any]
    build_training_data: Callable[..., Any]
    make_tokenizer: Callable[[Any], Any] | None = None
    training_defaults: dict = field(default_factory=dict)
    option_aliases: dict[str, str] = field(default_factory=dict)
    quickstart: dict = field(default_factory=dict)
    evaluate: Callable[..., dict] | None = None
    card_template: str | None = None
    extra_auto_classes: dict[str, type] = field(default_factory=dict)
    capabilities: frozenset[str] = frozenset({"static"})
    embed_sentences: Callable[..., Any] | None = None
    pipelines: tuple[PipelineSpec, ...] = ()
    cache_files: tuple[str, ...] = ()
    description: str = ""
    pipeline_tag: str = "feature-extraction"
    vocabulary_tables: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        model_type = getattr(self.config_class, "model_type", "")
        if not model_type:
            raise HFEmbeddingsError(f"model family {self.name!r}: config class has no model_type")
        unknown = set(self.capabilities) - CAPABILITIES
        if unknown:
            raise HFEmbeddingsError(f"model family {self.name!r}: unknown capabilities {sorted(unknown)}")
        if "contextual" in self.capabilities and self.embed_sentences is None:
            raise HFEmbeddingsError(f"model family {self.name!r} is contextual but has no embed_sentences")
        if "next_word" in self.capabilities and not self.extra_auto_classes:
            raise HFEmbeddingsError(
                f"model family {self.name!r} has next_word but no language-model Auto class"
            )

    @property
    def prebuilt_batches(self) -> bool:
        """Whether dataset items are whole batches (the batch size is then a model option)."""
        return self.training_defaults.get("per_device_train_batch_size") == 1


_FAMILIES: dict[str, ModelFamily] = {}
_LOADED = False


def register_family(family: ModelFamily, *, exist_ok: bool = False) -> ModelFamily:
    """Add `family` to the registry and to transformers' Auto classes; returns it."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer
    from transformers.models import auto as auto_module

    if family.name in _FAMILIES and not exist_ok:
        if _FAMILIES[family.name] is family:
            return family
        raise HFEmbeddingsError(f"model family {family.name!r} is already registered")
    model_type = family.config_class.model_type
    AutoConfig.register(model_type, family.config_class, exist_ok=True)
    AutoModel.register(family.config_class, family.model_class, exist_ok=True)
    for auto_name, cls in family.extra_auto_classes.items():
        getattr(auto_module, auto_name).register(family.config_class, cls, exist_ok=True)
    AutoTokenizer.register(family.config_class, tokenizer_class=family.tokenizer_class, exist_ok=True)
    if family.pipelines:
        from ..pipelines.registry import register_pipeline_lazily

        for spec in family.pipelines:
            register_pipeline_lazily(spec.task, spec.target, spec.auto_class)
    _FAMILIES[family.name] = family
    return family


def _load_entry(name: str, target: str) -> ModelFamily | None:
    import importlib

    module_name, _, attr = target.partition(":")
    try:
        family = getattr(importlib.import_module(module_name), attr)
    except Exception as e:  # a broken third-party plugin must not break the package
        logger.warning("could not load model family %r from %s: %s", name, target, e)
        return None
    if not isinstance(family, ModelFamily):
        logger.warning("entry point %r (%s) is not a ModelFamily; ignored", name, target)
        return None
    return family


def discover_families(*, reload: bool = False) -> dict[str, ModelFamily]:
    """Return every model family: ours and those other packages expose under `hf_embeddings.models`."""
    global _LOADED
    if _LOADED and not reload:
        return dict(_FAMILIES)
    targets = dict(BUILTIN_FAMILIES)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        targets.setdefault(ep.name, ep.value)
    for name, target in targets.items():
        if name in _FAMILIES and not reload:
            continue
        family = _load_entry(name, target)
        if family is not None:
            register_family(family, exist_ok=True)
    _LOADED = True
    return dict(_FAMILIES)


def get_family(name: str) -> ModelFamily:
    """Return the family called `name`; raises an error listing the known names otherwise."""
    families = discover_families()
    if name not in families:
        known = ", ".join(sorted(families)) or "none"
        raise HFEmbeddingsError(f"unknown model {name!r} (known models: {known})")
    return families[name]


def family_for_config(config) -> ModelFamily:
    """Return the family whose config class produced `config` (by model_type)."""
    for family in discover_families().values():
        if family.config_class.model_type == getattr(config, "model_type", None):
            return family
    raise HFEmbeddingsError(
        f"no hf_embeddings model family has model_type {getattr(config, 'model_type', None)!r}"
    )


class TrainingData:
    """What a family's `build_training_data` returns: datasets, collator and Trainer/argument overrides."""

    def __init__(
        self,
        train_dataset,
        data_collator=None,
        eval_dataset=None,
        trainer_kwargs=None,
        training_overrides=None,
    ):
        self.train_dataset = train_dataset
        self.data_collator = data_collator
        self.eval_dataset = eval_dataset
        self.trainer_kwargs = dict(trainer_kwargs or {})
        self.training_overrides = dict(training_overrides or {})


# TrainingArguments shared by families whose dataset items are whole pre-built batches
PREBUILT_BATCH_ARGS = {
    "per_device_train_batch_size": 1,
    "remove_unused_columns": False,
    "warmup_steps": 0,
    "save_strategy": "no",
    "dataloader_pin_memory": False,
}

# ... plus what language models with a held-out evaluation per epoch share (NNLM, ELMo)
LM_TRAINING_ARGS = {
    **PREBUILT_BATCH_ARGS,
    "per_device_eval_batch_size": 1,
    "prediction_loss_only": True,
    "lr_scheduler_type": "linear",
    "logging_nan_inf_filter": False,  # its per-step isnan check would sync the GPU every step
}


def lm_training_overrides(config) -> dict:
    """TrainingArguments that a language model's config decides (NNLM, ELMo): its optimiser settings and
    epochs, and DDP's search for unused parameters only where some can go unused (an adaptive softmax's
    tail clusters get a gradient only when a batch has targets in them). Without the search, DDP saves a
    walk of the autograd graph per step and starts its all-reduce during the backward pass."""
    return {
        "learning_rate": config.learning_rate,
        "weight_decay": config.weight_decay,
        "num_train_epochs": config.epochs,
        "ddp_find_unused_parameters": bool(config.adaptive_softmax),
    }


def data_parallel_processes() -> int:
    """Processes that share out the batches: torch.distributed's world size once a launch has initialised
    it (training does so before it builds the data), else 1."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class BatchRanges:
    """`total` items (corpus positions, co-occurrence entries) cut into consecutive batches of
    `per_batch`, the last one shorter. Under `processes` > 1 the number of batches is rounded up to a
    multiple of the processes and the items are shared out evenly: otherwise the DataLoader of a
    multi-process launch would pad the last round by training batches from the epoch's start a second
    time, which families whose processes sum their updates (Word2Vec, GloVe) would count twice."""

    def __init__(self, total: int, per_batch: int, processes: int = 1):
        if per_batch < 1:
            raise ValueError(f"a batch must hold >= 1 item, got {per_batch}")
        self.total, self.per_batch = int(total), int(per_batch)
        fixed = max(1, -(-self.total // self.per_batch))
        self.count = -(-fixed // processes) * processes
        self._even = self.count != fixed

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[int, int]:
        """[lo, hi) of batch `index`."""
        if not 0 <= index < self.count:
            raise IndexError(index)
        if self._even:
            return index * self.total // self.count, (index + 1) * self.total // self.count
        lo = index * self.per_batch
        return lo, min(lo + self.per_batch, self.total)


def unwrap_batch(features: list[dict]) -> dict:
    """Collator for datasets whose items are whole batches (DataLoader batch_size=1)."""
    if len(features) != 1:
        raise ValueError(
            "this model's batches are pre-built by its data builder: keep per_device_train_batch_size / "
            "per_device_eval_batch_size at 1 and set the batch size with the model's own option"
        )
    return features[0]


def config_parameters(config_class: type) -> dict[str, inspect.Parameter]:
    """The hyperparameters a config class accepts (its __init__ keyword arguments)."""
    params = inspect.signature(config_class.__init__).parameters
    return {k: p for k, p in params.items() if k not in ("self", "kwargs") and p.kind != p.VAR_KEYWORD}
