"""Example inputs for the tabs: words every loaded static model knows, so each example really answers."""

from __future__ import annotations

from collections.abc import Sequence

from .models import DemoModel


def example_words(models: Sequence[DemoModel], n: int = 6) -> list[str]:
    """Frequent content words every static model knows, for the examples of each tab."""
    from ..hub.card import query_words

    static = [m for m in models if m.is_static]
    if not static:
        return []
    shared = [w for w in static[0].vocabulary if all(w in m.vocab_set for m in static[1:])]
    return query_words(shared, n)
