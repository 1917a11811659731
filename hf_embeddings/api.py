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

from .errors import HFEmbeddingsError
from .hub.folder import EVAL_RESULTS, TRAINING_LOG, check_output_dir, publish_folder
from .hub.load import load
from .models.family import ModelFamily, config_parameters, family_for_config, get_family
from .text.corpus import load_corpus


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

    from .training.trainer import EmbeddingTrainer

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
        from .hub.save import finalize_folder

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
        publish_folder(final, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return TrainResult(out, base, tokenized.tokenizer, trainer.epoch_history, results, seconds)


def _package_version() -> str:
    from .version import __version__

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
        from .hub.card import is_generated_card, write_model_card

        if is_generated_card(path):  # the card shows the new numbers (a hand-written README is left alone)
            write_model_card(path, model=model, tokenizer=tokenizer)
    return results
