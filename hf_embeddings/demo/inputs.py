"""Checks of what a web form sends: typed words, analogies, numbers, with messages for the person typing.

Every check raises :class:`~hf_embeddings.demo.models.DemoInputError` with a message the UI shows as is.
"""

from __future__ import annotations

import re
from typing import Any

from .models import WORD_SPLIT, DemoInputError

# Limits keep one request cheap for every other visitor of a shared Space.
MAX_WORD_CHARS = 300  # a field of words
MAX_TEXT_CHARS = 1000  # a prompt or a sentence
MAX_WORDS = 12  # words in one query (map groups, odd-one-out)
MAX_SENTENCES = 20  # candidate sentences in the context tab
MAX_TOPN = 50
MAX_NEW_TOKENS = 50
MAX_NEIGHBOURS_PER_WORD = 20

_ANALOGY_TOKENS = re.compile(r"[^\s,;:?=]+")


def check_length(text: str | None, limit: int, what: str) -> str:
    """`text` stripped; refused when empty ('Please type `what`.') or longer than `limit` characters."""
    text = (text or "").strip()
    if not text:
        raise DemoInputError(f"Please type {what}.")
    if len(text) > limit:
        raise DemoInputError(f"That input is too long ({len(text):,} characters; the limit is {limit:,}).")
    return text


def parse_words(
    text: str | None, *, min_words: int = 1, max_words: int = MAX_WORDS, what: str = "a word"
) -> list[str]:
    """Words typed in one field (separated by spaces or commas), with friendly count checks."""
    words = [w for w in WORD_SPLIT.split(check_length(text, MAX_WORD_CHARS, what)) if w]
    if len(words) < min_words:
        raise DemoInputError(f"Please type {what} (got {len(words)} word{'s' * (len(words) != 1)}).")
    if len(words) > max_words:
        raise DemoInputError(f"Too many words: {len(words)} (the limit is {max_words}).")
    return words


def parse_analogy(text: str | None) -> tuple[str, str, str]:
    """'man : king :: woman' (or 'man king woman') -> ('man', 'king', 'woman')."""
    words = _ANALOGY_TOKENS.findall(
        check_length(text, MAX_WORD_CHARS, "an analogy, e.g. man : king :: woman")
    )
    if len(words) != 3:
        raise DemoInputError(
            f"An analogy needs exactly three words, a : b :: c (e.g. man : king :: woman); got {len(words)}: "
            + " ".join(words)
        )
    return words[0], words[1], words[2]


def bounded(value: Any, lo: int, hi: int, what: str) -> int:
    """`value` as a whole number in [lo, hi]; `what` names it in the message when it is not."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DemoInputError(f"{what} must be a whole number, got {value!r}.") from None
    if not lo <= number <= hi:
        raise DemoInputError(f"{what} must be between {lo} and {hi}, got {number}.")
    return number
