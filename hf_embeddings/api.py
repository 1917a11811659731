"""The Python API behind the CLI: train a family on a corpus into a Hub folder, evaluate a folder, load one.

`train` = `load_corpus` + `training.fit` + a folder written through `hub.folder.atomic_folder`.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .hub.folder import EVAL_RESULTS, TRAINING_LOG, atomic_folder, check_output_dir, read_json, write_json
from .hub.load import load
from .models.family import ModelFamily, family_for_config, get_family
from .text.corpus import load_corpus
from .training.fit import VOCABULARY_OPTIONS, fit, resolve_device, route_options

__all__ = ["TrainResult", "evaluate_dir", "load", "resolve_device", "run_evaluation", "train"]


@dataclass
class TrainResult:
    """Where the model was written, and what happened during training."""

    output_dir: Path
    model: Any
    tokenizer: Any
    epoch_history: list[dict] = field(default_factory=list)
    eval_results: dict = field(default_factory=dict)
    train_seconds: float = 0.0


def train(
    model: str,
    corpus: Any = None,
    output_dir: str | os.PathLike = "outputs/model",
    *,
    config: dict | None = None,
    training: dict | None = None,
    corpus_options: dict | None = None,
    device: str | None = "auto",
    seed: int = 42,
    evaluate: bool = False,
    overwrite: bool = False,
    show_progress: bool = True,
    card: dict | None = None,
) -> TrainResult:
    """Train model family `model` on `corpus` and write a complete Hub folder at `output_dir`.

    `config` holds the family's options (`min_count` and `max_vocab_size` also size the vocabulary),
    `training` TrainingArguments overrides (those a config owns, such as the learning rate, go to the
    config), `corpus_options` more `load_corpus` arguments (text_column, ...), `card` metadata for the
    card (license, language, datasets, repo_id). The folder is written aside and renamed into place at the
    end, so an interrupted run never leaves something that looks complete.

    Example (trains on the bundled corpus, about a minute on 2 cores):

        result = train("word2vec", "default", "outputs/w2v", config={"vector_size": 50})
    """
    from .hub.save import finalize_folder

    family = get_family(model)
    out = check_output_dir(output_dir, overwrite)
    options, training = route_options(family, dict(config or {}), training)  # bad options fail first
    vocabulary = {k: options[k] for k in VOCABULARY_OPTIONS if k in options}
    tokenized = load_corpus(corpus, show_progress=show_progress, **vocabulary, **(corpus_options or {}))
    with atomic_folder(out, overwrite=overwrite) as folder:
        result = fit(
            family, tokenized, options, training=training, device=device, seed=seed,
            output_dir=folder / "checkpoints", show_progress=show_progress,
        )  # fmt: skip
        shutil.rmtree(folder / "checkpoints", ignore_errors=True)  # the folder is the model alone
        base = result.base_model
        base.save_pretrained(folder)
        result.tokenizer.save_pretrained(folder)
        write_json(folder / TRAINING_LOG, result.training_log(), sort_keys=False)
        results = {}
        if evaluate:
            results = {
                **heldout_results(result.trainer.state.log_history),
                **run_evaluation(family, base, result.tokenizer),
            }
            write_json(folder / EVAL_RESULTS, results, sort_keys=False)
        # config auto_map + format version, remote code, loss curve, model card
        finalize_folder(
            folder, family, model=base, tokenizer=result.tokenizer, model_name=out.name, strict=False,
            **(card or {}),
        )  # fmt: skip
    return TrainResult(out, base, result.tokenizer, result.epoch_history, results, result.train_seconds)


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
        # held-out perplexities need the training split: keep those measured at training time
        previous = read_json(target, missing={})
        kept = {k: v for k, v in previous.items() if k.startswith("heldout_") and k not in results}
        results = {**kept, **results}
        write_json(target, results, sort_keys=False)
        from .hub.card import is_generated_card, write_model_card

        if is_generated_card(path):  # the card shows the new numbers (a hand-written README is left alone)
            write_model_card(path, model=model, tokenizer=tokenizer)
    return results
