"""Placeholders and examples for every input, drawn from the loaded models' vocabularies.

What a new user types first is what a field suggests, so every suggestion must answer: single words are
the most frequent content words every static model knows (no stop words, numbers or punctuation), the
fixed phrases and groups below are offered only when all their words are known, and the rest is built from
those words and the first model's own neighbours. `tests/test_demo.py` runs each of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .models import RARE, DemoModel

# tried in order; kept when every word is in the vocabulary of every model that answers the field
ODD_GROUPS = (
    ("red", "green", "blue", "king"),
    ("france", "germany", "italy", "music"),
    ("father", "mother", "son", "river"),
    ("january", "march", "june", "science"),
    ("north", "south", "east", "music"),
)
PAIRS = (("king", "queen"), ("war", "peace"), ("city", "town"), ("music", "art"), ("cat", "dog"))
PROMPTS = ("the history of", "one of the", "it is a", "he was born in", "on the", "the")


@dataclass
class DemoExamples:
    """For each input: the placeholder (the first suggestion) and the clickable examples."""

    words: list[str] = field(default_factory=list)  # nearest words (one word each)
    analogies: list[str] = field(default_factory=list)  # 'a : b :: c'
    pairs: list[str] = field(default_factory=list)  # similarity
    groups: list[str] = field(default_factory=list)  # odd one out
    maps: list[str] = field(default_factory=list)  # map words
    prompts: list[str] = field(default_factory=list)  # next word


def common_words(models: Sequence[DemoModel], n: int = 6) -> list[str]:
    """Frequent content words every one of `models` knows, most frequent first."""
    from ..hub.card import query_words

    if not models:
        return []
    shared = [w for w in models[0].vocabulary if all(w in m.vocab_set for m in models[1:])]
    return query_words(shared, n)


def example_words(models: Sequence[DemoModel], n: int = 6) -> list[str]:
    """Frequent content words every static model knows, most frequent first."""
    return common_words([m for m in models if m.is_static], n)


def _known(words: Sequence[str], models: Sequence[DemoModel]) -> bool:
    """Every model knows every word, often enough (where it stored counts) for an answer worth showing."""
    return bool(models) and all(
        w in m.vocab_set and (m.count(w) is None or m.count(w) >= RARE) for m in models for w in words
    )


def _far_word(dm: DemoModel, word: str, candidates: Sequence[str]) -> str | None:
    """The candidate least similar to `word` in `dm` (an odd one out, a contrasting pair)."""
    others = [c for c in candidates if c != word]
    return min(others, key=lambda c: dm.model.wv.similarity(word, c)) if others else None


def _near_words(dm: DemoModel, word: str, shared: set[str], n: int) -> list[str]:
    """`word`'s nearest content words in `dm` that every static model knows."""
    from ..hub.card import query_words

    near = [w for w, _ in dm.model.wv.most_similar(word, topn=50) if w in shared]
    return query_words(near, n)[:n] if near else []


def demo_examples(models: Sequence[DemoModel]) -> DemoExamples:
    """Placeholders and examples that answer with `models` (empty lists where no model fits a field)."""
    from ..hub.card import ANALOGY_EXAMPLES

    static = [m for m in models if m.is_static]
    lms = [m for m in models if m.can_generate]
    ex = DemoExamples()
    words = example_words(models, 12)
    if static and words:
        first = static[0]
        shared = set(words) | {w for w in first.vocabulary[:5000] if all(w in m.vocab_set for m in static)}
        ex.words = words[:3]
        ex.analogies = [f"{a} : {b} :: {c}" for a, b, c in ANALOGY_EXAMPLES if _known((a, b, c), static)][:2]
        if not ex.analogies and len(words) >= 3:
            ex.analogies = [f"{words[0]} : {words[1]} :: {words[2]}"]
        ex.pairs = [f"{a} {b}" for a, b in PAIRS if _known((a, b), static)][:2]
        near = _near_words(first, words[0], shared, 2) if len(first.vocabulary) > 1 else []
        far = _far_word(first, words[0], words)
        if len(ex.pairs) < 2:
            ex.pairs += [f"{words[0]} {w}" for w in [*near[:1], far] if w][: 2 - len(ex.pairs)]
        ex.groups = [" ".join(g) for g in ODD_GROUPS if _known(g, static)][:1]
        if not ex.groups and len(near) == 2 and far:
            ex.groups = [" ".join([words[0], *near, far])]
        if not ex.groups and len(words) >= 4:
            ex.groups = [" ".join(words[:4])]
        ex.maps = [", ".join(words[:3]), words[0]]
    if lms:
        ex.prompts = [p for p in PROMPTS if _known(p.split(), lms)][:2]
        lm_words = common_words(lms, 2)
        ex.prompts += [f"the {w}" if _known(["the"], lms) else w for w in lm_words][: 2 - len(ex.prompts)]
    return ex
