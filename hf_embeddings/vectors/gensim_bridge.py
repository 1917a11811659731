"""The one bridge to gensim: arrays -> `gensim.models.KeyedVectors` (a leaf: the formats and the query
API both use it without importing each other)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def gensim_keyed_vectors(
    words: Sequence[str], vectors: np.ndarray, counts: np.ndarray | Sequence[int] | None = None
) -> Any:
    """A :class:`gensim.models.KeyedVectors` over a copy of ``vectors`` (counts as the ``count`` attribute).

    The one gensim bridge: :meth:`KeyedVectors.to_gensim` and
    :func:`~hf_embeddings.vectors.formats.to_gensim_keyed_vectors` (which validates its input first)
    both end here. ``words`` must be unique and aligned with the rows of the floating ``vectors``.
    """
    try:
        from gensim.models import KeyedVectors as GensimKeyedVectors
    except ImportError as exc:
        raise ImportError(
            "converting to gensim needs gensim, which is not installed: pip install 'gensim>=4.3'"
        ) from exc
    arr = np.array(vectors, order="C")  # a copy: gensim owns its table
    gkv = GensimKeyedVectors(arr.shape[1], count=0, dtype=arr.dtype)
    gkv.index_to_key = list(words)
    gkv.key_to_index = {w: i for i, w in enumerate(gkv.index_to_key)}
    gkv.next_index = len(gkv.index_to_key)
    gkv.vectors = arr
    if counts is not None:
        gkv.allocate_vecattrs(["count"], [np.int64])
        gkv.expandos["count"][:] = np.asarray(counts, dtype=np.int64)
    return gkv
