"""Small corpora the tests share: seeded, made on the fly, each with a structure a test can check."""

from __future__ import annotations

import random
from collections.abc import Sequence


def random_sentences(words: Sequence[str], n: int, length: int, seed: int = 0) -> list[str]:
    """`n` sentences of `length` words drawn uniformly from `words` (no structure: for plumbing tests)."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(length)) for _ in range(n)]


def topic_sentences(topics: Sequence[Sequence[str]], n: int, length: int, seed: int = 0) -> list[str]:
    """`n` sentences, each of `length` words from one topic (topics alternate): a word's true
    neighbours are its topic mates, which any of our models should recover."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(topics[i % len(topics)], k=length)) for i in range(n)]


def write_lines(path, lines: Sequence[str]):
    """Write `lines` as a corpus file (one per line, final newline); returns `path`."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
