"""`fit`: a tokenized corpus + a model family -> a trained model, through `transformers.Trainer`.

This is the whole training path, with nothing about folders: `api.train` calls it and then saves; the
benchmarks and tests call it instead of assembling a Trainer themselves. Options reach it already
routed by `route_options` (one name per setting: a Trainer option that a family's config owns, such as
the learning rate or the number of epochs, is stored in the config, so config.json says what was used).
"""

from __future__ import annotations

import inspect
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import HFEmbeddingsError
from ..models.family import ModelFamily, config_parameters, get_family
from ..text.sources import public_name
from ..version import __version__

#: short option names of the command line -> TrainingArguments fields
TRAINING_ALIASES = {
    "epochs": "num_train_epochs",
    "batch_size": "per_device_train_batch_size",
    "lr": "learning_rate",
    "num_workers": "dataloader_num_workers",
    "deterministic": "full_determinism",
}
#: options that size the vocabulary: `load_corpus` takes them; configs that have the fields record them
VOCABULARY_OPTIONS = ("min_count", "max_vocab_size", "max_final_vocab", "keep_words")
#: of those, the ones no config has: the vocabulary's stats alone remember them
CORPUS_ONLY_OPTIONS = ("max_final_vocab", "keep_words")
#: TrainingArguments fields that a family's config owns when it has the field (after its option_aliases)
CONFIG_OWNED = {
    "num_train_epochs": "epochs",
    "learning_rate": "learning_rate",
    "weight_decay": "weight_decay",
}


class OptionError(HFEmbeddingsError):
    """An option that the family or the Trainer does not take."""


def _training_fields() -> set[str]:
    from transformers import TrainingArguments

    return set(inspect.signature(TrainingArguments.__init__).parameters) - {"self"}


def route_options(family: ModelFamily, options: dict, training: dict | None = None) -> tuple[dict, dict]:
    """Split flat `options` (and explicit `training` arguments) into (config options, TrainingArguments).

    A name goes to the config when the config has it, directly or through the family's `option_aliases`
    or `CONFIG_OWNED` (so `--learning-rate` is Word2Vec's `alpha` and `--epochs` every family's `epochs`);
    otherwise to TrainingArguments. Unknown names, and a per-item batch size for families whose batches
    are pre-built, raise `OptionError` with one line naming the option.
    """
    params = config_parameters(family.config_class)
    fields = _training_fields()
    config: dict = {}
    train: dict = {}

    def to_config(name: str) -> str | None:
        for candidate in (name, family.option_aliases.get(name), CONFIG_OWNED.get(name)):
            candidate = family.option_aliases.get(candidate, candidate) if candidate else None
            if candidate in params:
                return candidate
        return None

    items = [(k, v, False) for k, v in options.items()] + [(k, v, True) for k, v in (training or {}).items()]
    for key, value, explicit_training in items:
        target = key if key in VOCABULARY_OPTIONS and not explicit_training else to_config(key)
        if target is None and not explicit_training:
            key = TRAINING_ALIASES.get(key, key)
            target = to_config(key)
        elif target is None and key not in fields and key in TRAINING_ALIASES:  # e.g. deterministic
            key = TRAINING_ALIASES[key]
        if target is not None:
            if target in config and config[target] != value:
                raise OptionError(f"{family.name}: --{key.replace('_', '-')} sets {target!r} a second time")
            config[target] = value
        elif key in fields:
            train[key] = value
        else:
            raise OptionError(
                f"unknown option --{key.replace('_', '-')} for {family.name} (model options: "
                f"{', '.join('--' + k.replace('_', '-') for k in sorted(params))}; or any TrainingArguments field)"
            )
    if family.prebuilt_batches:
        for key in ("per_device_train_batch_size", "per_device_eval_batch_size"):
            if key in train and train[key] != 1:
                raise OptionError(
                    f"{family.name} builds whole batches itself: --{key.replace('_', '-')} is not an option "
                    f"(model options: {', '.join('--' + k.replace('_', '-') for k in sorted(params))})"
                )
    return config, train


def _option(family: ModelFamily, field: str) -> str:
    """The command-line spelling of a TrainingArguments field (or of the config field it maps to)."""
    aliases = {v: k for k, v in family.option_aliases.items()}
    return "--" + aliases.get(field, field).replace("_", "-")


def check_training_arguments(family: ModelFamily, args: dict) -> None:
    """Refuse Trainer settings that would train nothing or diverge at once, in one line naming the option."""
    import math

    def number(name: str, value, *, minimum: float, strict: bool) -> None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (value > minimum if strict else value >= minimum)
        if not ok:
            bound = f"> {minimum}" if strict else f">= {minimum}"
            raise OptionError(
                f"{family.name}: {_option(family, name)} must be a finite number {bound}, got {value!r}"
            )

    if "learning_rate" in args:
        number("learning_rate", args["learning_rate"], minimum=0, strict=True)
    if "weight_decay" in args:
        number("weight_decay", args["weight_decay"], minimum=0, strict=False)
    max_steps = args.get("max_steps", -1)
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps == 0 or max_steps < -1:
        raise OptionError(f"{family.name}: --max-steps must be a positive integer, got {max_steps!r}")
    if "num_train_epochs" in args and max_steps == -1:
        number("num_train_epochs", args["num_train_epochs"], minimum=0, strict=True)
    for name in ("per_device_train_batch_size", "per_device_eval_batch_size", "dataloader_num_workers"):
        value = args.get(name)
        low = 0 if name == "dataloader_num_workers" else 1
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
            raise OptionError(
                f"{family.name}: --{name.replace('_', '-')} must be an integer >= {low}, got {value!r}"
            )


def available_memory(device: str) -> int:
    """Bytes a run may still take on `device`: the accelerator's free memory, or the machine's available RAM."""
    if device.startswith("cuda"):
        return torch.cuda.mem_get_info(torch.device(device))[0]
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no check
        return 1 << 62


def check_model_size(family: ModelFamily, config, device: str) -> None:
    """Refuse a config whose weights, gradients and optimiser state (3x the parameters) would not fit in
    the memory available now (e.g. `--vector-size 100000000`), measured on the meta device before
    anything is allocated."""
    try:
        with torch.device("meta"):
            shape = family.training_class(config)
    except Exception:  # noqa: BLE001 (a model that cannot be built on meta is built for real, as before)
        return
    need = 3 * sum(p.numel() * p.element_size() for p in shape.parameters())
    have = available_memory(device)
    if need > have:
        raise OptionError(
            f"{family.name}: this configuration needs about {need / 2**30:,.1f} GiB to train (weights, gradients, "
            f"optimiser state) but {device} has {have / 2**30:,.1f} GiB available; check the sizes (vector "
            "size, vocabulary, hidden layers)"
        )


def epoch_evaluation(family: ModelFamily, tokenizer):
    """`(training model) -> scores` for `--eval-every-epoch`: the family's `evaluate`, or the static suite
    (WS-353, SimLex-999, Google analogies) of a model with word vectors; None when there is neither."""

    def base_of(net):
        return getattr(net, getattr(net, "base_model_prefix", ""), None) or net

    def static(net) -> dict:
        from ..evaluation import evaluate_static_embeddings

        base = base_of(net)
        if hasattr(base, "attach_tokenizer"):
            base.attach_tokenizer(tokenizer)
        scores = evaluate_static_embeddings(base.wv)
        return {k: v for k, v in scores.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    if family.evaluate is not None:
        return lambda net: family.evaluate(base_of(net), tokenizer)
    return static if "static" in family.capabilities else None


def warm_start(family: ModelFamily, net, weights: dict) -> None:
    """Start `net` from a saved base model's `weights`: the family's `vocabulary_tables` take the saved
    rows (ids keep their words; rows of words new to the vocabulary keep their fresh initialisation),
    every other tensor is copied whole. Strict: a tensor missing on either side, or a shape that does not
    fit, is an `OptionError` naming it."""
    base = getattr(net, getattr(net, "base_model_prefix", ""), None) or net
    state = base.state_dict()
    missing, extra = sorted(set(state) - set(weights)), sorted(set(weights) - set(state))
    if missing or extra:
        raise OptionError(
            f"{family.name}: the saved model does not match this configuration (missing {missing or 'nothing'}, "
            f"unexpected {extra or 'nothing'})"
        )
    with torch.no_grad():
        for name, target in state.items():
            saved = torch.as_tensor(weights[name])
            rows = name in family.vocabulary_tables
            fits = saved.shape[1:] == target.shape[1:] and (
                saved.shape[0] <= target.shape[0] if rows else saved.shape[0] == target.shape[0]
            )
            if not fits:
                raise OptionError(
                    f"{family.name}: saved tensor {name} has shape {tuple(saved.shape)}, this configuration "
                    f"{tuple(target.shape)} (continued training keeps the model's sizes)"
                )
            target[: saved.shape[0]].copy_(saved)


def check_vocabulary_options(options: dict, corpus) -> None:
    """Pop the vocabulary options from `options`, raising `OptionError` when one disagrees with how the
    already built vocabulary of `corpus` was made (min_count and max_vocab_size stay for configs that
    record them when the corpus does not say)."""
    from ..text.tokenization import keep_words_as_split, keep_words_record, splitting_options

    for key in VOCABULARY_OPTIONS:
        if key not in options:
            continue
        if key not in corpus.stats and key not in CORPUS_ONLY_OPTIONS:
            continue
        value = options.pop(key)
        if key == "keep_words" and value is not None:
            split = splitting_options(corpus.tokenizer.backend_tokenizer) or {}
            words = keep_words_as_split(value, split)
            value = keep_words_record(words) if words else None
        if value is not None and value != corpus.stats.get(key):
            raise OptionError(
                f"{key} is a corpus option here: the corpus was built with {key}={corpus.stats.get(key)!r}"
            )


@contextmanager
def progress_bars(show: bool) -> Iterator[None]:
    """transformers' own progress bars ("Writing model shards", "Loading weights") only when progress is
    shown: a quiet run (--quiet, tests, benchmarks) prints none, checkpoints and the final save included."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    if not show and was:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if not show and was:
            hf_logging.enable_progress_bar()


def resolve_device(device: str | None) -> str:
    """'auto' (or None) -> 'cuda' when a GPU is visible, else 'cpu'; validates explicit names."""
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise HFEmbeddingsError(f"device {device!r} requested but no CUDA GPU is available")
    if device not in ("cpu", "mps") and not device.startswith("cuda"):
        raise HFEmbeddingsError(f"unknown device {device!r} (expected auto, cpu, cuda, cuda:N or mps)")
    return device


def hardware(device: str) -> str:
    """A one-line description of the device, for the training log and the card."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores"


@dataclass
class FitResult:
    """A trained model and what happened while training it.

    Args:
        family: the model family.
        model: the trained head (`family.training_class`).
        tokenizer: the tokenizer that goes with it (the corpus's, or `family.make_tokenizer` of it).
        trainer: the `EmbeddingTrainer` (its `state.log_history`, `epoch_history`).
        corpus: the `TokenizedCorpus` it was trained on.
        device: where it trained.
        seed: the seed of the run.
        training_arguments: the TrainingArguments overrides in effect.
        train_seconds: wall time of `trainer.train()`.
        train_output: what `trainer.train()` returned (`TrainOutput`: global_step, training_loss, metrics).
    """

    family: ModelFamily
    model: Any
    tokenizer: Any
    trainer: Any
    corpus: Any
    device: str
    seed: int
    training_arguments: dict = field(default_factory=dict)
    train_seconds: float = 0.0
    train_output: Any = None

    @property
    def base_model(self):
        """The base model held by the head (what a folder stores), or the head itself."""
        net = self.model
        return getattr(net, getattr(net, "base_model_prefix", ""), net) or net

    @property
    def epoch_history(self) -> list[dict]:
        return self.trainer.epoch_history

    def training_log(self) -> dict:
        """The `training_log.json` of the run: corpus, vocabulary, time, hardware, arguments, history."""
        from .distributed import world_size

        corpus = self.corpus
        processes = world_size()
        sync = getattr(self.trainer, "replica_sync", None)
        return {
            "model": self.family.name,
            "corpus": public_name(corpus.source),  # published: a name, not a path of this machine
            "corpus_words": corpus.num_tokens,
            "corpus_sentences": len(corpus),
            "vocab_size": len(self.tokenizer),
            "min_count": corpus.stats.get("min_count"),
            "train_seconds": self.train_seconds,
            "device": self.device,
            "hardware": hardware(self.device),
            "seed": self.seed,
            "hf_embeddings_version": __version__,
            "training_arguments": {
                k: v for k, v in sorted(self.training_arguments.items()) if k != "disable_tqdm"
            },
            "processes": processes,
            # steps between the replicas' exchanges of a multi-process sparse run
            "replica_sync_interval": sync.interval if sync is not None and processes > 1 else None,
            "epochs": self.trainer.epoch_history,
            "log_history": self.trainer.state.log_history,
        }


def check_replica_sync(value: str | int, net, family: ModelFamily) -> str | int:
    """Accept "auto", "adaptive" or a positive number of steps (digits from the command line) for a
    model whose tables take sparse row updates (dense models are all-reduced by DDP at every step)."""
    from .trainer import has_sparse_rows

    if value == "auto":
        return value
    if value != "adaptive":
        try:
            steps = int(str(value))  # str(): True, 2.5 and "2.5" are refused, not truncated
        except ValueError:
            steps = 0
        if steps < 1:
            raise OptionError(f"--replica-sync takes auto, adaptive or a number of steps >= 1, got {value!r}")
        value = steps
    if not has_sparse_rows(net):
        raise OptionError(
            f"{family.name}: --replica-sync applies to the families with sparse row updates (word2vec, "
            "glove); this model's gradients are all-reduced by DistributedDataParallel at every step"
        )
    return value


def fit(
    family: str | ModelFamily,
    corpus,
    config: Any = None,
    *,
    training: dict | None = None,
    data_options: dict | None = None,
    device: str | None = "auto",
    seed: int = 42,
    output_dir: str | os.PathLike | None = None,
    show_progress: bool = False,
    resume_from_checkpoint: str | bool | None = None,
    callbacks: list | None = None,
    init_weights: dict | None = None,
    eval_every_epoch: bool = False,
    replica_sync: str | int = "auto",
) -> FitResult:
    """Train `family` on `corpus` (a `TokenizedCorpus`) and return the trained model.

    `config` is a config object (used as it is) or a dict of the family's options (routed by
    `route_options`, then `family.make_config(corpus, **options)`). `training` are TrainingArguments
    overrides, `data_options` keyword arguments of `family.build_training_data` (e.g. a GloVe
    co-occurrence matrix). `output_dir` holds Trainer checkpoints when the arguments ask for them
    (`save_strategy` "steps" or "epoch"; a temporary folder, removed afterwards, when not given).

    `resume_from_checkpoint` (a checkpoint folder, or "latest"/True for the newest complete one in
    `output_dir`) continues a run exactly where the checkpoint left it: weights, optimiser state (AdaGrad
    sums, the learning-rate position), RNG states and data position; with `deterministic=True` among the
    training options (one thread: no Hogwild) the result is bitwise that of the uninterrupted run.
    `callbacks` are `transformers.TrainerCallback`s added to the Trainer. `init_weights` (a saved base
    model's state dict) starts training from those weights (`warm_start`: continued training).
    `eval_every_epoch` adds the family's benchmark scores (WS-353, SimLex, analogies for word vectors)
    to every epoch's record (`eval_*` keys of `epoch_history` and the log).
    `replica_sync` ("auto", "adaptive" or a number of steps) sets how often the replicas of a
    multi-process run of a sparse family exchange their updates (`ReplicaSync`; ignored by one process);
    "auto" takes the family's choice (`trainer_kwargs["replica_sync"]`), else "adaptive".
    """
    from transformers import PretrainedConfig, TrainingArguments, set_seed

    from .checkpoints import check_run_identity, resolve_checkpoint, run_identity
    from .distributed import local_device, main_process_first, process_state
    from .trainer import EmbeddingTrainer

    family = get_family(family) if isinstance(family, str) else family
    dev = local_device(resolve_device(device))
    processes = process_state(dev)
    # a checkpoint that is not there is an error before anything is built, never a silent fresh start
    checkpoint = resolve_checkpoint(resume_from_checkpoint, output_dir)
    if isinstance(config, PretrainedConfig):
        owned, training = route_options(family, {}, training)
        if owned:
            raise OptionError(
                f"{family.name}: set {', '.join(sorted(owned))} in the config, not as training options"
            )
        cfg = config
    else:
        options, training = route_options(family, dict(config or {}), training)
        check_vocabulary_options(options, corpus)
        try:
            cfg = family.make_config(corpus, **options)
        except (TypeError, ValueError) as e:
            raise OptionError(f"bad {family.name} option: {e}") from None
    tokenizer = family.make_tokenizer(corpus.tokenizer) if family.make_tokenizer else corpus.tokenizer
    # fail before the data are built (GloVe counts co-occurrences there); checked again once the family's
    # overrides are known
    check_training_arguments(family, {**family.training_defaults, **(training or {})})
    check_model_size(family, cfg, dev)
    set_seed(seed)
    net = family.training_class(cfg)
    replica_sync = check_replica_sync(replica_sync, net, family)
    if init_weights is not None:
        warm_start(family, net, init_weights)
    # caches (GloVe's co-occurrence counts) are built once; a family shows the progress of a slow data step
    # when transformers' progress bars are on
    with main_process_first(processes), progress_bars(show_progress):
        data = family.build_training_data(corpus, cfg, seed=seed, device=dev, **(data_options or {}))
    args_kwargs = {**family.training_defaults, **data.training_overrides, **training}
    check_training_arguments(family, args_kwargs)
    args_kwargs.setdefault("disable_tqdm", not show_progress)
    if args_kwargs.get("save_strategy", "no") != "no" and output_dir is None:
        raise OptionError(
            f"{family.name}: --save-strategy needs a folder for the checkpoints (--checkpoint-dir)"
        )
    scratch = None
    if output_dir is None:
        scratch = tempfile.TemporaryDirectory(prefix="hfe-fit-")
        output_dir = scratch.name
    deterministic = bool(args_kwargs.get("full_determinism"))
    threads, algorithms = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    if deterministic:  # Hogwild threads (Word2Vec's kernel) and parallel reductions reorder float sums
        torch.set_num_threads(1)
    try:
        args = TrainingArguments(
            output_dir=str(Path(output_dir)),
            report_to="none",
            seed=seed,
            use_cpu=(dev == "cpu"),
            **args_kwargs,
        )
        trainer = EmbeddingTrainer(
            model=net,
            args=args,
            train_dataset=data.train_dataset,
            eval_dataset=data.eval_dataset,
            data_collator=data.data_collator,
            processing_class=tokenizer,
            # "auto": the family's interval when it names one (data.trainer_kwargs), else adaptive
            **{**data.trainer_kwargs, **({} if replica_sync == "auto" else {"replica_sync": replica_sync})},
        )
        if eval_every_epoch:
            trainer.epoch_evaluation = epoch_evaluation(family, tokenizer)
        for callback in callbacks or ():  # the user's, after the family's (`TrainerCallback`s or classes)
            trainer.add_callback(callback)
        trainer.run_identity = run_identity(
            family.name, cfg, len(data.train_dataset) if hasattr(data.train_dataset, "__len__") else -1, seed
        )
        if checkpoint is not None:
            check_run_identity(checkpoint, trainer.run_identity)
        t0 = time.perf_counter()
        output = trainer.train(resume_from_checkpoint=None if checkpoint is None else str(checkpoint))
        if dev.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
    finally:
        if deterministic:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(algorithms)
        if scratch is not None:
            scratch.cleanup()
    result = FitResult(family, net, tokenizer, trainer, corpus, dev, seed, args_kwargs, seconds, output)
    for part in {id(m): m for m in (net, result.base_model)}.values():  # the head and what it holds
        if hasattr(part, "attach_tokenizer"):
            part.attach_tokenizer(tokenizer)
    return result
