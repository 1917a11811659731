"""Intrinsic evaluation of word vectors (gensim-identical, batched) and ``evaluate`` metric modules.

Example (``kv``: the ``wv`` of a trained model, or any ``KeyedVectors``):

    from hf_embeddings.evaluation import evaluate_word_analogies, evaluate_word_pairs
    evaluate_word_pairs(kv, "wordsim353")["spearman"]
    evaluate_word_analogies(kv, "google_analogy", restrict_vocab=30000)["accuracy"]

The metric modules load offline by name:

    >>> from hf_embeddings.evaluation import load_metric
    >>> load_metric("perplexity").compute(nll=[2.1, 3.4])["perplexity"]  # exp(mean NLL)
    15.643
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import HFEmbeddingsError
from .intrinsic import (
    BUILTIN_BENCHMARKS,
    builtin_benchmark_path,
    evaluate_static_embeddings,
    evaluate_word_analogies,
    evaluate_word_pairs,
)

#: ``evaluate`` metric modules shipped in this package (one folder each, loadable offline).
METRIC_NAMES: tuple[str, ...] = ("word_similarity", "word_analogy", "perplexity")


def metric_path(name: str) -> Path:
    """Absolute path of the folder of the metric module ``name`` (for ``evaluate.load``)."""
    if name not in METRIC_NAMES:
        raise HFEmbeddingsError(f"unknown metric {name!r}: choose one of {list(METRIC_NAMES)}")
    return Path(__file__).resolve().parent / name


def load_metric(name: str, **kwargs: Any) -> Any:
    """``evaluate.load`` of a metric module of this package by absolute path (works offline, from any CWD).

    ``name`` is one of ``word_similarity``, ``word_analogy``, ``perplexity``; ``kwargs`` go to
    ``evaluate.load`` (e.g. ``experiment_id``, ``keep_in_memory``).
    """
    import evaluate

    return evaluate.load(str(metric_path(name)), **kwargs)


__all__ = [
    "BUILTIN_BENCHMARKS",
    "METRIC_NAMES",
    "builtin_benchmark_path",
    "evaluate_static_embeddings",
    "evaluate_word_analogies",
    "evaluate_word_pairs",
    "load_metric",
    "metric_path",
]
