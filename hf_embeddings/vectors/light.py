"""Word queries over a numpy table, for the command line: importing torch (about 2 s) would cost more than a
query on a 400k-word table takes.

:class:`LightKeyedVectors` answers the queries of ``hf-embeddings query`` -- ``most_similar`` (3CosAdd),
``most_similar_cosmul`` (3CosMul) and ``similarity`` of words -- with the semantics of
:class:`~hf_embeddings.vectors.keyed_vectors.KeyedVectors` (itself gensim's): input words unit-normalised
and excluded from the results, zero rows scored 0 and ranked after every other row, ties to the lower
row. It works on a read-only (memory-mapped) table without copying it: row norms are computed once and
the scores are ``table @ query / norms``, the same numbers as ``KeyedVectors``' normalised table up to
float rounding. :func:`query_key` is how the command line maps a typed word to a vocabulary key.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence

import numpy as np

from ..errors import HFEmbeddingsError

__all__ = ["LightKeyedVectors", "query_key"]

# Denominator smoothing of 3CosMul, as in KeyedVectors (and gensim)
_COSMUL_EPS = 1e-6


def query_key(
    word: str,
    vocabulary: Container[str],
    pre_tokenize: Callable[[str], list[str]],
    normalize: Callable[[str], str],
) -> str:
    """The vocabulary key of a typed word: the word itself when it is one, else its single word once the
    tokenizer has normalised and split it ("King" -> "king" for a lowercasing tokenizer), else the whole
    normalised text (a key with a space stays reachable). An unknown word comes back as given, so that the
    lookup raises ``KeyError`` naming what the user typed (the rule of the ``word-similarity`` pipeline)."""
    if word in vocabulary:
        return word
    pieces = pre_tokenize(word)
    if len(pieces) == 1 and pieces[0] in vocabulary:
        return pieces[0]
    normalized = normalize(word).strip()
    return normalized if normalized in vocabulary else word


class LightKeyedVectors:
    """Word -> vector queries over a ``(n, d)`` float numpy table (possibly a read-only memory map).

    Args:
        vectors: the table, one row per word; never written to.
        index_to_key: the word of each row.
        key_to_index: word -> row, when the caller has one already (else built from ``index_to_key``).
        norms: the L2 norm of each row, when the caller has computed them already (else on first use).

    Example::

        >>> kv = LightKeyedVectors(
        ...     np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float32),
        ...     ["king", "queen", "man", "woman", "cat"],
        ... )
        >>> kv.most_similar(positive=["king", "woman"], negative=["man"], topn=2)
        [('queen', 0.959), ('cat', 0.0)]
    """

    def __init__(
        self,
        vectors: np.ndarray,
        index_to_key: Sequence[str],
        key_to_index: Mapping[str, int] | None = None,
        norms: np.ndarray | None = None,
    ) -> None:
        if vectors.ndim != 2 or vectors.shape[0] != len(index_to_key):
            raise HFEmbeddingsError(
                f"word table has shape {vectors.shape}, expected ({len(index_to_key)}, dim): one row per word"
            )
        self.vectors = vectors
        self.index_to_key = index_to_key
        self.key_to_index = (
            key_to_index if key_to_index is not None else {w: i for i, w in enumerate(index_to_key)}
        )
        self._work = np.float64 if vectors.dtype == np.float64 else np.float32
        self._norms = norms

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, word: object) -> bool:
        return word in self.key_to_index

    @property
    def norms(self) -> np.ndarray:
        """L2 norm of every row (one pass over the table, computed once)."""
        if self._norms is None:
            table = self.vectors
            if table.dtype != self._work:
                table = table.astype(self._work)
            self._norms = np.sqrt(np.einsum("ij,ij->i", table, table))
        return self._norms

    def get_index(self, key: str) -> int:
        """Row of word ``key``; ``KeyError`` naming it when it is not a word of the table."""
        idx = self.key_to_index.get(key, -1) if isinstance(key, str) else -1
        if idx < 0:
            raise KeyError(f"word {key!r} not in vocabulary")
        return idx

    def _unit_row(self, idx: int) -> np.ndarray:
        return np.asarray(self.vectors[idx], dtype=self._work) / max(
            self.norms[idx], np.finfo(self._work).tiny
        )

    def _cosines(self, unit: np.ndarray) -> np.ndarray:
        """Cosine of every row with the unit vector ``unit`` (0 for a zero row)."""
        table = self.vectors if self.vectors.dtype == self._work else self.vectors.astype(self._work)
        return table @ unit / np.maximum(self.norms, np.finfo(self._work).tiny)

    def _rank(self, scores: np.ndarray, exclude: Sequence[int], topn: int) -> list[tuple[str, float]]:
        """The ``topn`` best rows: input words dropped, zero rows after all others, ties to the lower row."""
        rank = scores.copy()
        zero = self.norms == 0
        if zero.any():
            rank[zero] = np.finfo(rank.dtype).min
        if len(exclude):
            rank[list(exclude)] = -np.inf
        k = min(int(topn), len(rank))
        if k == 0:
            return []
        threshold = np.partition(rank, len(rank) - k)[len(rank) - k]  # the k-th best score
        above = np.flatnonzero(rank > threshold)
        tied = np.flatnonzero(rank == threshold)[: k - len(above)]  # the first tied rows by index
        idx = np.concatenate([above, tied])
        idx = idx[np.lexsort((idx, -rank[idx]))]  # score descending, then row ascending
        return [(self.index_to_key[i], float(scores[i])) for i in idx.tolist() if rank[i] > -np.inf]

    def most_similar(
        self, positive: Sequence[str] = (), negative: Sequence[str] = (), topn: int = 10
    ) -> list[tuple[str, float]]:
        """Words closest to the unit mean of the unit input vectors (+1 / -1 weights): 3CosAdd."""
        items = [(w, 1.0) for w in positive] + [(w, -1.0) for w in negative]
        if not items:
            raise HFEmbeddingsError("most_similar() needs at least one positive or negative input")
        if topn < 1:
            return []
        rows = [self.get_index(w) for w, _ in items]
        mean = np.zeros(self.vectors.shape[1], dtype=self._work)
        for row, (_, weight) in zip(rows, items):
            mean = mean + self._work(weight) * self._unit_row(row)
        mean = mean / self._work(len(items))
        norm = np.linalg.norm(mean)
        if norm > 0:
            mean = mean / norm
        return self._rank(self._cosines(mean.astype(self._work)), rows, topn)

    def most_similar_cosmul(
        self, positive: Sequence[str] = (), negative: Sequence[str] = (), topn: int = 10
    ) -> list[tuple[str, float]]:
        """3CosMul: ``prod_p (1+cos(c,p))/2 / (prod_n (1+cos(c,n))/2 + 1e-6)`` over the words ``c``."""
        if not positive:
            raise HFEmbeddingsError("most_similar_cosmul() needs at least one positive input")
        if topn < 1:
            return []
        pos = [self.get_index(w) for w in positive]
        neg = [self.get_index(w) for w in negative]

        def product(rows: list[int]) -> np.ndarray:
            out = np.ones(len(self), dtype=self._work)
            for row in rows:
                out = out * ((1 + self._cosines(self._unit_row(row))) / 2)
            return out

        return self._rank(product(pos) / (product(neg) + _COSMUL_EPS), pos + neg, topn)

    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two words (0.0 when either vector is zero)."""
        return float(self._unit_row(self.get_index(w1)) @ self._unit_row(self.get_index(w2)))
