"""High-level Python API behind the CLI: train a registered model family on a corpus, evaluate, load."""

from __future__ import annotations

import inspect
import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .corpus import load_corpus
from .errors import HFEmbeddingsError
from .registry import ModelFamily, family_for_config, get_family

TRAINING_LOG = "training_log.json"
EVAL_RESULTS = "eval_results.json"


@dataclass
class TrainResult:
    """Where the model was written, and what happened during training."""

    output_dir: Path
    model: Any
    tokenizer: Any
    epoch_history: list[dict] = field(default_factory=list)
    eval_results: dict = field(default_factory=dict)
    train_seconds: float = 0.0


def resolve_device(device: str | None) -> str:
    """'auto' (or None) -> 'cuda' when a GPU is visible, else 'cpu'; validates explicit names."""
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise HFEmbeddingsError(f"device {device!r} requested but no CUDA GPU is available")
    if device not in ("cpu", "mps") and not device.startswith("cuda"):
        raise HFEmbeddingsError(f"unknown device {device!r} (expected auto, cpu, cuda, cuda:N or mps)")
    return device


def check_output_dir(output_dir: str | os.PathLike, overwrite: bool) -> Path:
    """Return `output_dir` as a Path; refuses a non-empty folder unless `overwrite`."""
    path = Path(output_dir)
    if path.exists() and not path.is_dir():
        raise HFEmbeddingsError(f"output dir {path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise HFEmbeddingsError(f"output dir {path} is not empty; pass --overwrite to replace it")
    return path


def config_parameters(config_class: type) -> dict[str, inspect.Parameter]:
    """The hyperparameters a config class accepts (its __init__ keyword arguments)."""
    params = inspect.signature(config_class.__init__).parameters
    return {k: p for k, p in params.items() if k not in ("self", "kwargs") and p.kind != p.VAR_KEYWORD}


def _publish(tmp: Path, final: Path) -> None:
    """Move a finished folder into place; the old one (if any) is removed only after the new one exists."""
    final.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def train(
    model: str,
    corpus: Any = None,
    output_dir: str | os.PathLike = "outputs/model",
    *,
    config: dict | None = None,
    training: dict | None = None,
    min_count: int | None = None,
    max_vocab_size: int | None = None,
    device: str | None = "auto",
    seed: int = 42,
    evaluate: bool = False,
    overwrite: bool = False,
    show_progress: bool = True,
    corpus_options: dict | None = None,
    card: dict | None = None,
) -> TrainResult:
    """Train model family `model` on `corpus` through `transformers.Trainer`; write a Hub-ready folder.

    The folder is built in a temporary sibling and renamed into place at the end, so an interrupted run
    never leaves something that looks complete. It is a complete Hub repo (see `hub.finalize_folder`):
    weights, tokenizer, remote code, training log, loss curve and model card; `card` passes metadata to
    the card (license, language, datasets, repo_id).

    Example:
        >>> result = train("word2vec", "default", "outputs/w2v", config={"vector_size": 50})  # doctest: +SKIP
    """
    from transformers import TrainingArguments, set_seed

    from .training import EmbeddingTrainer

    family = get_family(model)
    out = check_output_dir(output_dir, overwrite)
    config = dict(config or {})
    known = config_parameters(family.config_class)
    for key in config:
        if key not in known:
            raise HFEmbeddingsError(
                f"{family.name} has no option {key!r} (options: {', '.join(sorted(known))})"
            )
    if min_count is None:
        min_count = config.get("min_count", family.quickstart.get("min_count", 5))
    if "min_count" in known:
        config["min_count"] = min_count
    if max_vocab_size is not None and "max_vocab_size" in known:
        config["max_vocab_size"] = max_vocab_size
    dev = resolve_device(device)
    tokenized = load_corpus(
        corpus,
        min_count=min_count,
        max_vocab_size=max_vocab_size,
        show_progress=show_progress,
        **(corpus_options or {}),
    )
    try:
        cfg = (family.config_from_args or _default_config)(tokenized, **config)
    except (TypeError, ValueError) as e:
        raise HFEmbeddingsError(f"bad {family.name} option: {e}") from None
    set_seed(seed)
    net = family.training_class(cfg)
    data = family.build_training_data(tokenized, cfg, seed=seed, device=dev)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        args_kwargs = {**family.training_defaults, **data.training_overrides, **(training or {})}
        valid = set(inspect.signature(TrainingArguments.__init__).parameters)
        bad = sorted(k for k in args_kwargs if k not in valid)
        if bad:
            raise HFEmbeddingsError(f"unknown training option(s): {', '.join(bad)}")
        args_kwargs.setdefault("disable_tqdm", not show_progress)
        args = TrainingArguments(
            output_dir=str(tmp / "checkpoints"),
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
            processing_class=tokenized.tokenizer,
            **data.trainer_kwargs,
        )
        t0 = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - t0
        final = tmp / "model"
        base = getattr(net, net.base_model_prefix, net)
        base.save_pretrained(final)
        tokenized.tokenizer.save_pretrained(final)
        log = {
            "model": family.name,
            "corpus": tokenized.source,
            "corpus_words": tokenized.num_tokens,
            "corpus_sentences": len(tokenized),
            "vocab_size": len(tokenized.tokenizer),
            "min_count": min_count,
            "train_seconds": seconds,
            "device": dev,
            "hardware": _hardware(dev),
            "seed": seed,
            "hf_embeddings_version": _package_version(),
            "training_arguments": {k: v for k, v in sorted(args_kwargs.items()) if k != "disable_tqdm"},
            "epochs": trainer.epoch_history,
            "log_history": trainer.state.log_history,
        }
        (final / TRAINING_LOG).write_text(json.dumps(log, indent=2, default=str))
        results = {}
        if evaluate:
            base.attach_tokenizer(tokenized.tokenizer) if hasattr(base, "attach_tokenizer") else None
            results = {
                **heldout_results(trainer.state.log_history),
                **run_evaluation(family, base, tokenized.tokenizer),
            }
            (final / EVAL_RESULTS).write_text(json.dumps(results, indent=2))
        shutil.rmtree(tmp / "checkpoints", ignore_errors=True)
        from .hub import finalize_folder

        # config auto_map + format version, remote code, loss curve, model card
        finalize_folder(
            final,
            family,
            model=base,
            tokenizer=tokenized.tokenizer,
            model_name=out.name,
            strict=False,
            **(card or {}),
        )
        _publish(final, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return TrainResult(out, base, tokenized.tokenizer, trainer.epoch_history, results, seconds)


def _package_version() -> str:
    from . import __version__

    return __version__


def _default_config(corpus, **options):
    raise HFEmbeddingsError("model family defines no config_from_args")


def _hardware(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores"


def heldout_results(log_history: list[dict]) -> dict:
    """The last held-out evaluation of a training run (`eval_*perplexity` keys, as the families' callbacks
    log them), renamed `heldout_*` for the results file and the model card."""
    for entry in reversed(log_history):
        found = {
            "heldout_" + k[len("eval_") :]: v
            for k, v in entry.items()
            if k.startswith("eval_") and k.endswith("perplexity")
        }
        if found:
            return found
    return {}


def run_evaluation(family: ModelFamily, model, tokenizer) -> dict:
    """Run the family's evaluation suite (static word-vector benchmarks by default)."""
    if family.evaluate is not None:
        return family.evaluate(model, tokenizer)
    if hasattr(model, "wv"):
        from .evaluation import evaluate_static_embeddings

        if hasattr(model, "attach_tokenizer"):
            model.attach_tokenizer(tokenizer)
        return evaluate_static_embeddings(model.wv)
    return {}


def load(path: str | os.PathLike, *, head: str | None = None) -> tuple[Any, Any]:
    """Return (model, tokenizer) from a saved folder or Hub id, via AutoModel / AutoTokenizer.

    `head` names an Auto class (e.g. "AutoModelForCausalLM") to use instead of AutoModel when the model's
    family registers it (`ModelFamily.extra_auto_classes`), so a caller can ask for a capability (a
    language-model head) without knowing which families have it.
    """
    import transformers
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from .configuration_base import FORMAT_VERSION_KEY, FormatVersionError, check_format_version

    try:
        config = AutoConfig.from_pretrained(path)
    except FormatVersionError as e:
        raise FormatVersionError(f"{path}: {e}") from None
    except (OSError, ValueError) as e:
        raise HFEmbeddingsError(f"cannot load a model from {path}: {str(e).splitlines()[0]}") from None
    family = family_for_config(config)  # clear error for non-hf_embeddings models
    # configs not derived from EmbeddingConfig keep the saved field as a plain attribute
    check_format_version(getattr(config, FORMAT_VERSION_KEY, None), str(path))
    auto = getattr(transformers, head) if head in family.extra_auto_classes else AutoModel
    model = auto.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if hasattr(model, "attach_tokenizer"):
        model.attach_tokenizer(tokenizer)
    return model, tokenizer


def evaluate_dir(path: str | os.PathLike, *, write: bool = True) -> dict:
    """Evaluate a saved model folder with its family's suite; writes eval_results.json next to it."""
    model, tokenizer = load(path)
    results = run_evaluation(family_for_config(model.config), model, tokenizer)
    if write:
        target = Path(path) / EVAL_RESULTS
        try:  # held-out perplexities need the training split: keep those measured at training time
            previous = json.loads(target.read_text())
        except (OSError, ValueError):
            previous = {}
        kept = {k: v for k, v in previous.items() if k.startswith("heldout_") and k not in results}
        results = {**kept, **results}
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(results, indent=2))
        os.replace(tmp, target)
        from .model_card import is_generated_card, write_model_card

        if is_generated_card(path):  # the card shows the new numbers (a hand-written README is left alone)
            write_model_card(path, model=model, tokenizer=tokenizer)
    return results
