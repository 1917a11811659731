"""The "Neighbours & analogies" tab: nearest words, analogies, similarity and the odd one out, per model.

Each query runs on every chosen static model and comes back side by side; a word one of the models does
not know is a note beside the other models' answers instead of a failure of the whole query. Notes are
plain text lines (the UI escapes them for Markdown); each answer word comes with its corpus count, the
best hint of how far to trust it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from .inputs import MAX_TOPN, bounded, parse_analogy, parse_words
from .models import DemoInputError, DemoModel, count_note, pick, unknown_words_message

ANALOGY_METHODS = ("3CosAdd", "3CosMul")


class Answer:
    """Per-model results of one query, the typed words each model lacks, and the notes for both."""

    def __init__(self, asked: Sequence[DemoModel], words: Sequence[str]) -> None:
        self.asked = list(asked)
        self.words = list(words)
        self.results: dict[str, Any] = {}
        self.answered: dict[str, DemoModel] = {}
        self.missing: dict[str, list[DemoModel]] = {}

    def ask(self, dm: DemoModel, query: Callable[[list[str]], Any]) -> None:
        known, unknown = dm.resolve(self.words)
        for word in unknown:
            self.missing.setdefault(word, []).append(dm)
        if not unknown:
            self.results[dm.name] = query(known)
            self.answered[dm.name] = dm

    def check(self) -> None:
        """Refuse the query (one message per problem) when no model could answer it."""
        if not self.results:
            raise DemoInputError(" ".join(unknown_words_message(self.missing, len(self.asked))))

    @property
    def notes(self) -> list[str]:
        """What some models could not answer, then how often the typed words were seen in training."""
        lines = unknown_words_message(self.missing, len(self.asked))
        counts = count_note(list(self.answered.values()), self.words)
        return [*lines, counts] if counts else lines


def _side_by_side(
    results: Mapping[str, list[tuple[str, float]]], score: str, models: Mapping[str, DemoModel]
) -> pd.DataFrame:
    """One row per rank; per model a word column, a score column and (when the model stored its corpus
    counts) how often that word occurred in training."""
    depth = max(len(r) for r in results.values())
    table: dict[str, list] = {"rank": list(range(1, depth + 1))}
    for name, pairs in results.items():
        pairs = list(pairs) + [("", math.nan)] * (depth - len(pairs))
        table[name] = [w for w, _ in pairs]
        table[f"{name} {score}"] = [round(float(s), 4) for _, s in pairs]
        if models[name].has_counts:
            counts = [models[name].count(w) if w else None for w, _ in pairs]
            table[f"{name} count"] = pd.Series(counts, dtype=object)  # whole numbers, blank past the end
    return pd.DataFrame(table)


def neighbours(
    models: Sequence[DemoModel], names: Sequence[str], text: str, topn: int = 10
) -> tuple[pd.DataFrame, list[str]]:
    """Nearest words of a word (or of the mean of several) in each model, side by side, with cosines."""
    chosen = pick(models, names, "is_static")
    words = parse_words(text)
    topn = bounded(topn, 1, MAX_TOPN, "The number of neighbours")
    answer = Answer(chosen, words)
    for dm in chosen:
        answer.ask(dm, lambda known, dm=dm: dm.model.wv.most_similar(positive=known, topn=topn))
    answer.check()
    return _side_by_side(answer.results, "cosine", answer.answered), answer.notes


def analogy(
    models: Sequence[DemoModel], names: Sequence[str], text: str, method: str = "3CosAdd", topn: int = 5
) -> tuple[pd.DataFrame, list[str]]:
    """a : b :: c : ? with 3CosAdd (`most_similar`) or 3CosMul (`most_similar_cosmul`), gensim semantics."""
    chosen = pick(models, names, "is_static")
    words = parse_analogy(text)
    if method not in ANALOGY_METHODS:
        raise DemoInputError(f"Unknown analogy method {method!r} (choose {' or '.join(ANALOGY_METHODS)}).")
    topn = bounded(topn, 1, MAX_TOPN, "The number of answers")
    answer = Answer(chosen, words)
    for dm in chosen:
        query = dm.model.wv.most_similar if method == "3CosAdd" else dm.model.wv.most_similar_cosmul
        answer.ask(dm, lambda k, query=query: query(positive=[k[1], k[2]], negative=[k[0]], topn=topn))
    answer.check()
    return _side_by_side(answer.results, "score", answer.answered), answer.notes


def similarity(
    models: Sequence[DemoModel], names: Sequence[str], text: str
) -> tuple[pd.DataFrame, list[str]]:
    """Cosine similarity of two words in each model."""
    chosen = pick(models, names, "is_static")
    words = parse_words(text, min_words=2, max_words=2, what="two words")
    answer = Answer(chosen, words)
    for dm in chosen:
        answer.ask(dm, lambda k, dm=dm: dm.model.wv.similarity(k[0], k[1]))
    answer.check()
    frame = pd.DataFrame(
        {"model": list(answer.results), "cosine": [round(float(v), 4) for v in answer.results.values()]}
    )
    return frame, answer.notes


def odd_one_out(
    models: Sequence[DemoModel], names: Sequence[str], text: str
) -> tuple[pd.DataFrame, list[str]]:
    """The word that does not belong (furthest from the mean of the others), per model."""
    chosen = pick(models, names, "is_static")
    words = parse_words(text, min_words=3, what="at least three words")
    answer = Answer(chosen, words)
    for dm in chosen:
        answer.ask(dm, lambda k, dm=dm: dm.model.wv.doesnt_match(k))
    answer.check()
    return pd.DataFrame(
        {"model": list(answer.results), "odd one out": list(answer.results.values())}
    ), answer.notes
