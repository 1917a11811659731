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
from .training.checkpoints import latest_checkpoint
from .training.fit import VOCABULARY_OPTIONS, OptionError, fit, progress_bars, resolve_device, route_options

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
    checkpoint_dir: str | os.PathLike | None = None,
    resume_from_checkpoint: str | os.PathLike | bool | None = None,
    callbacks: list | None = None,
    init_from: str | os.PathLike | None = None,
    update_vocab: bool = False,
    eval_every_epoch: bool = False,
    replica_sync: str | int = "auto",
) -> TrainResult:
    """Train model family `model` on `corpus` and write a complete Hub folder at `output_dir`.

    `config` holds the family's options; `min_count`, `max_final_vocab`, `keep_words` (words or a word-list
    file) and `max_vocab_size` size the vocabulary (`load_corpus`),
    `training` TrainingArguments overrides (those a config owns, such as the learning rate, go to the
    config), `corpus_options` more `load_corpus` arguments (text_column, ...), `card` metadata for the
    card (license, language, datasets, repo_id). The folder is written aside and renamed into place at the
    end, so an interrupted run never leaves something that looks complete.

    Checkpoints (`training={"save_strategy": "steps", "save_steps": N}` or "epoch") go to
    `checkpoint_dir`, by default `OUTPUT_DIR.checkpoints` beside the folder, which outlives a killed run
    and is removed once the folder is published (a `checkpoint_dir` given is kept).
    `resume_from_checkpoint` ("latest" or a checkpoint folder; also accepted in `training`) continues
    a killed run exactly; a checkpoint that is missing or cut short is an error, never a fresh start.
    `callbacks` are `transformers.TrainerCallback`s, as for `Trainer`. `eval_every_epoch` logs the
    family's benchmark scores after every epoch (training_log.json `epochs`). `replica_sync` ("auto": the
    family's choice; "adaptive"; or a number of steps) is how often the processes of a `torchrun` launch
    exchange Word2Vec's or GloVe's row updates.

    `init_from` (a saved folder of the same family) continues training it on `corpus`, as gensim's
    `train` on a loaded model: its config, with the options given here applied on top, and its weights.
    With `update_vocab` the vocabulary first grows by the corpus's words seen >= `min_count` times, or
    listed in `keep_words` (gensim's `build_vocab(update=True)`: known words keep their ids and add their new counts, new words
    get fresh vectors); without, the corpus is read with the saved vocabulary.

    Launched as several processes (`torchrun`, `accelerate launch`), every process trains its shard of
    the batches; the vocabulary and caches are built once by the main process, which alone writes the
    folder.

    Example (trains on the bundled corpus, about a minute on 2 cores):

        result = train("word2vec", "default", "outputs/w2v", config={"vector_size": 50})
    """
    from .training.distributed import is_main_process, main_process_first, process_state

    family = get_family(model)
    out = check_output_dir(output_dir, overwrite)
    options, training = route_options(family, dict(config or {}), training)  # bad options fail first
    training = dict(training)
    from_training = training.pop("resume_from_checkpoint", None)
    resume = resume_from_checkpoint if resume_from_checkpoint is not None else from_training
    checkpoints = (
        Path(checkpoint_dir) if checkpoint_dir is not None else out.with_name(out.name + ".checkpoints")
    )
    vocabulary = {k: options[k] for k in VOCABULARY_OPTIONS if k in options}
    processes = process_state(resolve_device(device))
    main = is_main_process()
    init_weights = None
    with main_process_first(processes):  # one vocabulary, built once, read from its cache by the others
        if init_from is not None:
            tokenized, options, init_weights = _continued(
                family, init_from, corpus, options, update_vocab, corpus_options or {}, show_progress and main
            )
        elif update_vocab:
            raise OptionError(
                "--update-vocab grows the vocabulary of a saved model: give it with --init-from"
            )
        else:
            tokenized = load_corpus(
                corpus, show_progress=show_progress and main, **vocabulary, **(corpus_options or {})
            )
    fit_args = dict(
        training=training, device=device, seed=seed, output_dir=checkpoints, show_progress=show_progress and main,
        resume_from_checkpoint=resume, callbacks=callbacks, init_weights=init_weights,
        eval_every_epoch=eval_every_epoch, replica_sync=replica_sync,
    )  # fmt: skip
    if not main:  # the other processes train their shards; only the main process writes anything
        with progress_bars(False):
            result = fit(family, tokenized, options, **fit_args)
        processes.wait_for_everyone()
        return TrainResult(
            out, result.base_model, result.tokenizer, result.epoch_history, {}, result.train_seconds
        )
    existed = checkpoints.exists()
    try:
        with progress_bars(show_progress):
            result = _train_into_folder(family, tokenized, options, fit_args, out, overwrite, evaluate, card)
    finally:
        if not existed and checkpoints.is_dir() and latest_checkpoint(checkpoints) is None:
            shutil.rmtree(
                checkpoints, ignore_errors=True
            )  # nothing to resume from: no clutter beside the output
    if (
        checkpoint_dir is None and checkpoints.is_dir()
    ):  # the default place: the published folder supersedes it
        shutil.rmtree(checkpoints, ignore_errors=True)
    if processes is not None:
        processes.wait_for_everyone()
    return result


def _continued(
    family: ModelFamily, folder, corpus, options: dict, update_vocab: bool, corpus_options: dict, progress
):
    """(corpus, config, weights) to continue training the model saved in `folder` on `corpus`."""
    from .text.tokenization import keep_words_as_split, splitting_options

    if not family.vocabulary_tables:
        raise OptionError(f"{family.name} does not continue training (init_from): train a new model instead")
    model, tokenizer = load(folder)
    found = family_for_config(model.config)
    if found is not family:
        raise OptionError(f"--init-from {folder} holds a {found.name} model, not {family.name}")
    options = dict(options)
    min_count = options.pop("min_count", None) or tokenizer.vocab_stats.get("min_count") or 5
    for name in ("max_vocab_size", "max_final_vocab"):
        if name in options:
            flag = "--" + name.replace("_", "-")
            raise OptionError(f"{flag} sizes a new vocabulary; with --init-from the saved one is grown")
    keep_words = options.pop("keep_words", None)
    if keep_words is not None and not update_vocab:
        raise OptionError("--keep-words chooses new words: give it with --update-vocab")
    loose = {
        k: v
        for k, v in corpus_options.items()
        if k not in ("lowercase", "unicode_normalization", "split_punctuation")
    }
    if update_vocab:
        if getattr(model.config, "hierarchical_softmax", False):
            raise OptionError(
                "--update-vocab with hierarchical softmax: the Huffman tree of the old vocabulary would be lost"
            )
        split = splitting_options(tokenizer.backend_tokenizer)
        if split is None:
            raise OptionError(
                f"--update-vocab: the tokenizer of {folder} splits words in a way load_corpus cannot repeat"
            )
        counted = load_corpus(corpus, min_count=1, show_progress=progress, **split, **loose)
        words = counted.tokenizer.convert_ids_to_tokens(
            list(range(counted.tokenizer.num_special_tokens, len(counted.tokenizer)))
        )
        counts = dict(
            zip(words, counted.tokenizer.word_counts[counted.tokenizer.num_special_tokens :].tolist())
        )
        keep = keep_words_as_split(keep_words, split)
        tokenizer = tokenizer.extended(counts, min_count=min_count, keep_words=keep)
    tokenized = load_corpus(corpus, tokenizer=tokenizer, show_progress=progress, **loose)
    config = {**model.config.to_dict(), **options, "vocab_size": len(tokenizer)}
    for key in (
        "architectures",
        "auto_map",
        "_name_or_path",
        "transformers_version",
        "model_type",
        "dtype",
        "torch_dtype",
    ):
        config.pop(key, None)
    try:
        config = type(model.config)(**config)
    except (TypeError, ValueError) as e:
        raise OptionError(f"bad {family.name} option: {e}") from None
    return tokenized, config, model.state_dict()


def _train_into_folder(family, tokenized, options, fit_args, out, overwrite, evaluate, card) -> TrainResult:
    """`fit` + everything a folder holds, written aside and renamed into place (`atomic_folder`)."""
    from .hub.save import finalize_folder

    with atomic_folder(out, overwrite=overwrite) as folder:
        result = fit(family, tokenized, options, **fit_args)
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


def run_evaluation(family: ModelFamily, model, tokenizer, progress=None) -> dict:
    """Run the family's evaluation suite (static word-vector benchmarks by default); `progress(name)` is
    told each benchmark as it starts."""
    if family.evaluate is not None:
        if progress is not None:
            progress(f"{family.name} evaluation")
        return family.evaluate(model, tokenizer)
    if hasattr(model, "wv"):
        from .evaluation import evaluate_static_embeddings

        if hasattr(model, "attach_tokenizer"):
            model.attach_tokenizer(tokenizer)
        return evaluate_static_embeddings(model.wv, progress=progress)
    return {}


def evaluate_dir(path: str | os.PathLike, *, write: bool = True, progress=None) -> dict:
    """Evaluate a saved model folder with its family's suite; writes eval_results.json next to it.
    `progress(step)` is told what runs (loading, each benchmark)."""
    if progress is not None:
        progress(f"loading {path}")
    model, tokenizer = load(path)
    results = run_evaluation(family_for_config(model.config), model, tokenizer, progress)
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
