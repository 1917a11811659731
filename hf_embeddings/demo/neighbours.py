"""The "Neighbours & analogies" tab: nearest words, analogies, similarity and the odd one out, per model.

Each query runs on every chosen static model and comes back side by side; a word one of the models does
not know is a note beside the result instead of a failure of the whole query.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from .inputs import MAX_TOPN, bounded, parse_analogy, parse_words
from .models import DemoInputError, DemoModel, pick

ANALOGY_METHODS = ("3CosAdd", "3CosMul")


class Answer:
    """Per-model results of one query plus the notes about models that could not answer."""

    def __init__(self) -> None:
        self.results: dict[str, Any] = {}
        self.notes: list[str] = []

    def ask(self, dm: DemoModel, words: Sequence[str], query: Callable[[list[str]], Any]) -> None:
        known, problems = dm.resolve(words)
        if problems:
            self.notes += problems
            return
        self.results[dm.name] = query(known)

    def check(self) -> None:
        if not self.results:
            raise DemoInputError("; ".join(self.notes) or "No model could answer.")

    @property
    def note_text(self) -> str:
        return "\n".join(f"- {n}" for n in self.notes)


def _side_by_side(results: Mapping[str, list[tuple[str, float]]], score: str) -> pd.DataFrame:
    """One row per rank, a word column and a score column per model."""
    depth = max(len(r) for r in results.values())
    table: dict[str, list] = {"rank": list(range(1, depth + 1))}
    for name, pairs in results.items():
        pairs = list(pairs) + [("", math.nan)] * (depth - len(pairs))
        table[name] = [w for w, _ in pairs]
        table[f"{name} {score}"] = [round(float(s), 4) for _, s in pairs]
    return pd.DataFrame(table)


def neighbours(
    models: Sequence[DemoModel], names: Sequence[str], text: str, topn: int = 10
) -> tuple[pd.DataFrame, str]:
    """Nearest words of a word (or of the mean of several) in each model, side by side, with cosines."""
    chosen = pick(models, names, "is_static")
    words = parse_words(text)
    topn = bounded(topn, 1, MAX_TOPN, "The number of neighbours")
    answer = Answer()
    for dm in chosen:
        answer.ask(dm, words, lambda known, dm=dm: dm.model.wv.most_similar(positive=known, topn=topn))
    answer.check()
    return _side_by_side(answer.results, "cosine"), answer.note_text


def analogy(
    models: Sequence[DemoModel], names: Sequence[str], text: str, method: str = "3CosAdd", topn: int = 5
) -> tuple[pd.DataFrame, str]:
    """a : b :: c : ? with 3CosAdd (`most_similar`) or 3CosMul (`most_similar_cosmul`), gensim semantics."""
    chosen = pick(models, names, "is_static")
    words = parse_analogy(text)
    if method not in ANALOGY_METHODS:
        raise DemoInputError(f"Unknown analogy method {method!r} (choose {' or '.join(ANALOGY_METHODS)}).")
    topn = bounded(topn, 1, MAX_TOPN, "The number of answers")
    answer = Answer()
    for dm in chosen:
        query = dm.model.wv.most_similar if method == "3CosAdd" else dm.model.wv.most_similar_cosmul
        answer.ask(dm, words, lambda k, query=query: query(positive=[k[1], k[2]], negative=[k[0]], topn=topn))
    answer.check()
    return _side_by_side(answer.results, "score"), answer.note_text


def similarity(models: Sequence[DemoModel], names: Sequence[str], text: str) -> tuple[pd.DataFrame, str]:
    """Cosine similarity of two words in each model."""
    chosen = pick(models, names, "is_static")
    words = parse_words(text, min_words=2, max_words=2, what="two words")
    answer = Answer()
    for dm in chosen:
        answer.ask(dm, words, lambda k, dm=dm: dm.model.wv.similarity(k[0], k[1]))
    answer.check()
    frame = pd.DataFrame(
        {"model": list(answer.results), "cosine": [round(float(v), 4) for v in answer.results.values()]}
    )
    return frame, answer.note_text


def odd_one_out(models: Sequence[DemoModel], names: Sequence[str], text: str) -> tuple[pd.DataFrame, str]:
    """The word that does not belong (furthest from the mean of the others), per model."""
    chosen = pick(models, names, "is_static")
    words = parse_words(text, min_words=3, what="at least three words")
    answer = Answer()
    for dm in chosen:
        answer.ask(dm, words, lambda k, dm=dm: dm.model.wv.doesnt_match(k))
    answer.check()
    return pd.DataFrame(
        {"model": list(answer.results), "odd one out": list(answer.results.values())}
    ), answer.note_text
