"""Static-embedding query API (gensim ``KeyedVectors`` semantics) over a live torch word table.

:class:`KeyedVectors` answers the classic word-vector queries -- ``most_similar`` (3CosAdd),
``most_similar_cosmul`` (3CosMul), ``similarity``, ``doesnt_match``, ``words_closer_than``, ``rank``,
``distances`` -- with the same semantics as :class:`gensim.models.KeyedVectors` (gensim 4), plus batched
analogy queries and sentence pooling (mean, sqrt-n, SIF).

Every query is one matmul against an L2-normalised copy of the table, computed once and cached; the
cache is keyed on the table tensor's storage pointer and in-place version counter, so it is refreshed
automatically after ``optimizer.step()`` or ``with torch.no_grad(): weight[i] += ...``.

Sentence pooling itself is in :mod:`hf_embeddings.vectors.pooling`; the model mixin that gives a
``PreTrainedModel`` a ``wv`` property is :class:`hf_embeddings.vectors.static_model.StaticEmbeddingMixin`.

Deliberate differences from gensim (see the method docstrings):

* zero vectors: gensim divides by a zero norm and yields ``nan``; here a zero row normalises to zeros
  (cosine 0, distance 1), and is ranked after every non-zero row so the order of results is the same;
* ties in ranking are broken by row index (more frequent word first), gensim leaves it unspecified;
* ``most_similar_cosmul(restrict_vocab=N)`` really restricts to the first N words (gensim ignores it);
* ``n_similarity`` raises ``KeyError`` on an unknown word (gensim silently drops it);
* ``doesnt_match`` reports ignored unknown words with ``warnings.warn`` (gensim logs them).
* mutations (``add_vector(s)``, ``__setitem__``, ``sort_by_descending_frequency``,
  ``intersect_word2vec_format``) first take a private copy of the table: the object then stops following
  a live source, and never writes into the caller's array;
* ``add_vectors`` takes string keys only and refuses a new key repeated in one call; ``add_vector`` of
  an existing word returns its row (gensim returns ``len(self)``);
* ``load_word2vec_format`` / ``vectors_for_all`` leave ``counts`` unset where gensim makes up descending
  counts; ``save_word2vec_format`` does not support ``append`` / ``total_vec``;
* ``evaluate_word_pairs`` returns plain ``(statistic, pvalue)`` tuples where gensim returns scipy results.
* ``evaluate_word_analogies(similarity_function="most_similar_cosmul")`` really uses 3CosMul (gensim
  4.4 accepts the argument and always uses 3CosAdd);
* ``save`` / ``load`` write and read one safetensors file, never a pickle (neither reads the other's
  files); ``save``'s pickle options have no effect, ``load(mmap=...)`` maps the table only;
* mutations refresh ``norms`` and the normalised cache (gensim keeps stale norms until
  ``fill_norms(force=True)``).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Hashable, Iterable, Sequence
from numbers import Integral
from typing import IO, Any

import numpy as np
import torch

from ..errors import HFEmbeddingsError
from .gensim_bridge import gensim_keyed_vectors
from .pooling import PooledVector, Split, pool_vectors, remove_first_principal_component, split_known

__all__ = ["KeyedVectors", "gensim_keyed_vectors", "tensor_key"]

# Upper bound on the number of score elements materialised at once by the batched queries.
_SCORE_BUDGET = 1 << 24
# Denominator smoothing of 3CosMul, as in gensim (and Levy & Goldberg 2014).
_COSMUL_EPS = 1e-6


def tensor_key(t: torch.Tensor) -> Hashable:
    """Cache key of a tensor's current contents: storage, in-place version counter, shape, dtype, device."""
    try:
        version = t._version
    except RuntimeError:  # inference tensors have no version counter: never trust a cached copy
        return object()
    return (t.data_ptr(), version, tuple(t.shape), t.dtype, t.device)


def _as_tensor(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    arr = np.asarray(x)
    if not arr.flags.writeable:
        arr = arr.copy()
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float32)
    return torch.from_numpy(arr)


def _is_key(x: Any) -> bool:
    return isinstance(x, (str, Integral))


def _is_vector(x: Any) -> bool:
    return isinstance(x, (np.ndarray, torch.Tensor))


def _ensure_list(value: Any) -> list:
    """gensim's convention: None -> [], a single key or 1-D vector -> [it], a 2-D array -> its rows."""
    if value is None:
        return []
    if _is_key(value) or (_is_vector(value) and value.ndim == 1):
        return [value]
    if _is_vector(value) and value.ndim == 2:
        return list(value)
    return list(value)


class KeyedVectors:
    """Word -> vector lookups and similarity queries over a (possibly live, trainable) embedding table.

    Args:
        vectors: the ``(n, d)`` table -- a ``torch.Tensor`` (kept by reference, so in-place updates are
            seen), a numpy array, or a zero-argument callable returning the current table tensor.
        index_to_key: the word of each row, in row order (by convention descending frequency, so that
            ``restrict_vocab=N`` means "the N most frequent words").
        counts: optional per-row corpus counts (needed for SIF pooling).
        tokenize: ``str -> list[str]`` used by sentence pooling on raw text (default ``str.split``).
        version: optional zero-argument callable returning a hashable that changes whenever the table
            changes. Without it the cache key is the returned tensor's data pointer and ``_version``
            counter, which is right for a parameter or a view of one; give ``version`` when the callable
            builds a fresh tensor on each call (e.g. GloVe's ``W + W~``).

    Example::

        >>> kv = KeyedVectors.from_arrays(
        ...     ["king", "queen", "man", "woman", "cat"],
        ...     [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],  # royal, male, female, cat
        ... )
        >>> kv.most_similar(positive=["king", "woman"], negative=["man"], topn=2)
        [('queen', 0.959), ('cat', 0.0)]
    """

    def __init__(
        self,
        vectors: torch.Tensor | np.ndarray | Callable[[], torch.Tensor],
        index_to_key: Sequence[str],
        *,
        counts: np.ndarray | Sequence[int] | None = None,
        tokenize: Callable[[str], list[str]] | None = None,
        version: Callable[[], Hashable] | None = None,
    ) -> None:
        if callable(vectors) and not _is_vector(vectors):
            self._source: Callable[[], torch.Tensor] = vectors
        else:
            table = _as_tensor(vectors)
            self._source = lambda: table
        self.index_to_key: list[str] = list(index_to_key)
        self.key_to_index: dict[str, int] = {w: i for i, w in enumerate(self.index_to_key)}
        if len(self.key_to_index) != len(self.index_to_key):
            raise HFEmbeddingsError("index_to_key contains duplicate words")
        # per-word extra attributes (gensim's ``expandos``); ``counts`` is ``expandos["count"]``
        self.expandos: dict[str, np.ndarray] = {}
        self.counts = counts
        self._tokenize = tokenize if tokenize is not None else str.split
        self._version = version
        self._cache_key: Hashable | None = None
        self._normed: torch.Tensor | None = None
        self._nonzero: torch.Tensor | None = None
        self._norms: torch.Tensor | None = None
        self._normalize_count = 0  # how many times the normalised matrix was (re)computed
        self._owned: torch.Tensor | None = None  # private copy taken by the first mutation

    @property
    def counts(self) -> np.ndarray | None:
        """Per-word corpus counts (the ``"count"`` vector attribute), or None."""
        return self.expandos.get("count")

    @counts.setter
    def counts(self, counts: np.ndarray | Sequence[int] | None) -> None:
        if counts is None:
            self.expandos.pop("count", None)
            return
        counts = np.array(counts)  # a copy: set_vecattr() writes into it
        if counts.shape != (len(self.index_to_key),):
            raise HFEmbeddingsError(
                f"counts has shape {counts.shape}, expected ({len(self.index_to_key)},) (one count per word)"
            )
        self.expandos["count"] = counts

    # ------------------------------------------------------------------ construction / conversion
    @classmethod
    def from_arrays(
        cls,
        words: Iterable[str],
        vectors: np.ndarray | torch.Tensor,
        counts: np.ndarray | Sequence[int] | None = None,
    ) -> KeyedVectors:
        """Build from a word list and a ``(n, d)`` array.

        Example::

            >>> kv = KeyedVectors.from_arrays(["a", "b"], np.eye(2, dtype=np.float32), counts=[5, 3])
            >>> kv["b"], kv.counts
            (array([0., 1.], dtype=float32), array([5, 3]))
        """
        return cls(vectors, list(words), counts=counts)

    def to_gensim(self) -> Any:
        """Return an equivalent :class:`gensim.models.KeyedVectors` (vectors copied, counts as ``count``).

        Example::

            >>> kv = KeyedVectors.from_arrays(["a", "b"], np.eye(2, dtype=np.float32), counts=[5, 3])
            >>> gkv = kv.to_gensim()
            >>> gkv.index_to_key, gkv["b"], int(gkv.get_vecattr("b", "count"))
            (['a', 'b'], array([0., 1.], dtype=float32), 3)
        """
        return gensim_keyed_vectors(self.index_to_key, self.vectors, self.counts)

    # ------------------------------------------------------------------ table and normalised cache
    def _table(self) -> torch.Tensor:
        t = self._source()
        if not isinstance(t, torch.Tensor):
            t = _as_tensor(t)
        if t.ndim != 2 or t.shape[0] != len(self.index_to_key):
            raise HFEmbeddingsError(
                f"word table has shape {tuple(t.shape)}, expected ({len(self.index_to_key)}, dim): "
                "one row per word of index_to_key"
            )
        return t.detach()

    @staticmethod
    def _work_dtype(t: torch.Tensor) -> torch.dtype:
        return torch.float64 if t.dtype == torch.float64 else torch.float32

    def _ensure_normed(self) -> torch.Tensor:
        """The cached unit-length table (zero rows stay zero); recomputed only when the table changed."""
        if self._version is not None:
            key = self._version()
            table = None
        else:
            table = self._table()
            key = tensor_key(table)
        if self._normed is None or key != self._cache_key:
            if table is None:
                table = self._table()
            x = table.to(self._work_dtype(table))
            norms = torch.linalg.vector_norm(x, dim=1)
            tiny = torch.finfo(x.dtype).tiny
            self._normed = x / norms.clamp_min(tiny).unsqueeze(1)
            self._nonzero = norms > 0
            self._norms = norms
            self._cache_key = key
            self._normalize_count += 1
        return self._normed

    def invalidate(self) -> None:
        """Drop the cached normalised matrix (only needed after editing a *numpy* source in place)."""
        self._normed = None
        self._nonzero = None
        self._norms = None
        self._cache_key = None

    # ------------------------------------------------------------------ basic access
    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, word: object) -> bool:
        return word in self.key_to_index

    def __repr__(self) -> str:
        return f"{type(self).__name__}<vector_size={self.vector_size}, {len(self)} keys>"

    @property
    def vector_size(self) -> int:
        """Dimensionality of the vectors."""
        return int(self._table().shape[1])

    @property
    def vectors(self) -> np.ndarray:
        """The raw table as numpy (float32, or float64 for a float64 table); a read-only view when possible.

        Example::

            >>> kv = KeyedVectors.from_arrays(["a", "b", "c"], np.zeros((3, 4), dtype=np.float32))
            >>> kv.vectors.shape, kv.vectors.dtype, kv.vectors.flags.writeable
            ((3, 4), dtype('float32'), False)
        """
        t = self._table()
        if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64):
            arr = t.numpy()
            arr.flags.writeable = False
            return arr
        return t.to(device="cpu", dtype=self._work_dtype(t)).numpy()

    def get_normed_vectors(self) -> np.ndarray:
        """All vectors scaled to unit L2 length (zero rows stay zero), as a read-only numpy array.

        Example::

            >>> KeyedVectors.from_arrays(["a", "b", "z"], [[3, 4], [0, 2], [0, 0]]).get_normed_vectors()
            array([[0.6, 0.8],
                   [0. , 1. ],
                   [0. , 0. ]], dtype=float32)
        """
        arr = self._ensure_normed().cpu().numpy()
        arr.flags.writeable = False
        return arr

    def get_index(self, key: str | int, default: int | None = None) -> int:
        """Row of ``key``; an int in ``[0, len)`` is accepted as a row index (as in gensim).

        Example::

            >>> kv = KeyedVectors.from_arrays(["the", "cat"], np.eye(2))
            >>> kv.get_index("cat"), kv.get_index(0), kv.get_index("dog", default=-1)
            (1, 0, -1)
        """
        idx = self.key_to_index.get(key, -1) if isinstance(key, str) else -1
        if idx >= 0:
            return idx
        if isinstance(key, Integral) and not isinstance(key, bool) and 0 <= int(key) < len(self):
            return int(key)
        if default is not None:
            return default
        raise KeyError(f"word {key!r} not in vocabulary")

    def has_index_for(self, key: str | int) -> bool:
        """True when ``key`` is a word of the vocabulary or a valid row index."""
        return self.get_index(key, -1) >= 0

    def get_word_vector(self, word: str, norm: bool = False) -> np.ndarray:
        """The vector of ``word`` (a copy); unit length when ``norm`` (a zero vector stays zero).

        Example::

            >>> kv = KeyedVectors.from_arrays(["cat"], [[3, 4]])
            >>> kv.get_word_vector("cat"), kv.get_word_vector("cat", norm=True)
            (array([3., 4.], dtype=float32), array([0.6, 0.8], dtype=float32))
        """
        idx = self.get_index(word)
        if norm:
            row = self._ensure_normed()[idx]
        else:
            t = self._table()
            row = t[idx].to(self._work_dtype(t))
        return row.cpu().numpy().copy()

    get_vector = get_word_vector

    def __getitem__(self, key_or_keys: str | int | Sequence[str | int]) -> np.ndarray:
        """``kv["cat"]`` -> 1-D vector; ``kv[["cat", "dog"]]`` -> 2-D stack."""
        if _is_key(key_or_keys):
            return self.get_word_vector(key_or_keys)
        idx = [self.get_index(k) for k in key_or_keys]
        t = self._table()
        return t[idx].to(device="cpu", dtype=self._work_dtype(t)).numpy()

    # ------------------------------------------------------------------ helpers
    def _clip(self, restrict_vocab: int | None) -> int:
        return min(int(restrict_vocab), len(self)) if restrict_vocab else len(self)

    def _vec(self, v: np.ndarray | torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        t = v if isinstance(v, torch.Tensor) else _as_tensor(v)
        if t.ndim != 1 or t.shape[0] != ref.shape[1]:
            raise HFEmbeddingsError(f"query vector has shape {tuple(t.shape)}, expected ({ref.shape[1]},)")
        return t.detach().to(device=ref.device, dtype=ref.dtype)

    @staticmethod
    def _unit(v: torch.Tensor) -> torch.Tensor:
        n = torch.linalg.vector_norm(v, dim=-1, keepdim=True)
        return torch.where(n > 0, v / n.clamp_min(torch.finfo(v.dtype).tiny), v)

    def _rank(
        self, scores: torch.Tensor, exclude: Sequence[Iterable[int]], topn: int
    ) -> list[list[tuple[str, float]]]:
        """Top ``topn`` rows per query of a ``(B, clip)`` score matrix.

        Input words are dropped, zero rows come after every non-zero row, ties go to the lower index.
        """
        n_q, clip = scores.shape
        if clip == 0:
            return [[] for _ in range(n_q)]
        rank = scores.clone()
        nonzero = self._nonzero[:clip]
        if not bool(nonzero.all()):
            rank[:, ~nonzero] = torch.finfo(rank.dtype).min
        for q, ex in enumerate(exclude):
            ex = [i for i in ex if i < clip]
            if ex:
                rank[q, ex] = -math.inf
        k = min(int(topn), clip)
        vals, idx = torch.topk(rank, k, dim=1)
        # Deterministic tie order: re-sort the candidates by (score desc, index asc) ...
        order = idx.argsort(dim=1)
        idx, vals = idx.gather(1, order), vals.gather(1, order)
        vals, order = vals.sort(dim=1, descending=True, stable=True)
        idx = idx.gather(1, order)
        # ... and where ties straddle the k-th place, take the first tied rows by index (full sort).
        straddle = (rank >= vals[:, -1:]).sum(dim=1) > k
        if bool(straddle.any()):
            rows = straddle.nonzero().flatten()
            v, i = rank[rows].sort(dim=1, descending=True, stable=True)
            vals[rows], idx[rows] = v[:, :k], i[:, :k]
        keep = (vals > -math.inf).cpu().numpy()
        idx_np = idx.cpu().numpy()
        out_scores = scores.gather(1, idx).cpu().numpy()
        return [
            [(self.index_to_key[i], float(s)) for i, s, ok in zip(idx_np[q], out_scores[q], keep[q]) if ok]
            for q in range(n_q)
        ]

    def _chunks(self, n_queries: int, clip: int, factor: int = 1) -> Iterable[slice]:
        step = max(1, _SCORE_BUDGET // max(1, clip * factor))
        for start in range(0, n_queries, step):
            yield slice(start, min(start + step, n_queries))

    # ------------------------------------------------------------------ 3CosAdd
    def most_similar(
        self,
        positive: Any = None,
        negative: Any = None,
        topn: int | None = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]] | np.ndarray:
        """Words closest (cosine) to the normalised weighted mean of the inputs -- 3CosAdd, as gensim 4.

        ``positive``/``negative`` take words, row indices, vectors, or ``(item, weight)`` pairs (the
        weight is used as given, also in ``negative``, exactly like gensim; default +1 / -1). Word inputs
        are unit-normalised before averaging, vectors are used as given; the mean is divided by the sum
        of absolute weights and unit-normalised. Input words never appear in the results.
        ``topn=None`` returns the similarity of every word (or the first ``restrict_vocab``) as an array.

        Example::

            >>> kv = KeyedVectors.from_arrays(["king", "queen", "man", "woman", "cat"],
            ...     [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
            >>> kv.most_similar(positive=["king", "woman"], negative=["man"], topn=2)
            [('queen', 0.959), ('cat', 0.0)]
            >>> kv.most_similar("king", topn=2, restrict_vocab=3)  # among king, queen, man only
            [('man', 0.707), ('queen', 0.5)]
        """
        if isinstance(topn, Integral) and topn < 1:
            return []
        items = [(x, 1.0) for x in _ensure_list(positive)] + [(x, -1.0) for x in _ensure_list(negative)]
        if not items:
            raise HFEmbeddingsError("most_similar() needs at least one positive or negative input")
        normed = self._ensure_normed()
        mean = torch.zeros(normed.shape[1], dtype=normed.dtype, device=normed.device)
        total = 0.0
        exclude: list[int] = []
        for item, default_weight in items:
            if _is_key(item) or _is_vector(item):
                key, weight = item, default_weight
            else:
                key, weight = item[0], float(item[1])
            if _is_vector(key):
                vec = self._vec(key, normed)
            else:
                idx = self.get_index(key)
                exclude.append(idx)
                vec = normed[idx]
            mean = mean + weight * vec
            total += abs(weight)
        if total > 0:
            mean = mean / total
        mean = self._unit(mean)
        clip = self._clip(restrict_vocab)
        scores = normed[:clip] @ mean
        if not topn:
            return scores.cpu().numpy()
        return self._rank(scores.unsqueeze(0), [exclude], topn)[0]

    def similar_by_word(
        self, word: str, topn: int | None = 10, restrict_vocab: int | None = None
    ) -> list[tuple[str, float]] | np.ndarray:
        """``most_similar(positive=[word])``."""
        return self.most_similar(positive=[word], topn=topn, restrict_vocab=restrict_vocab)

    def similar_by_vector(
        self, vector: np.ndarray | torch.Tensor, topn: int | None = 10, restrict_vocab: int | None = None
    ) -> list[tuple[str, float]] | np.ndarray:
        """Words closest to a raw vector (nothing excluded).

        Example::

            >>> kv = KeyedVectors.from_arrays(["king", "queen", "man", "woman", "cat"],
            ...     [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
            >>> kv.similar_by_vector(kv["king"] - kv["man"] + kv["woman"], topn=2)
            [('queen', 1.0), ('woman', 0.707)]
        """
        return self.most_similar(positive=[vector], topn=topn, restrict_vocab=restrict_vocab)

    def most_similar_batch(
        self,
        positives: Sequence[Sequence[str] | str],
        negatives: Sequence[Sequence[str] | str] | None = None,
        topn: int | None = 10,
        restrict_vocab: int | None = None,
        *,
        cosmul: bool = False,
    ) -> list[list[tuple[str, float]]] | np.ndarray:
        """Many ``most_similar`` (or ``most_similar_cosmul`` when ``cosmul``) queries in a few matmuls.

        ``positives[i]`` / ``negatives[i]`` are the word lists (or single words) of query ``i``; the
        result ``[i]`` equals ``most_similar(positives[i], negatives[i], topn, restrict_vocab)``.
        ``topn=None`` returns a ``(n_queries, vocab)`` score array.

        Example::

            >>> kv = KeyedVectors.from_arrays(["king", "queen", "man", "woman", "cat"],
            ...     [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
            >>> kv.most_similar_batch([["king", "woman"], ["queen", "man"]], [["man"], ["woman"]], topn=1)
            [[('queen', 0.959)], [('king', 0.959)]]
        """
        n_q = len(positives)
        if negatives is None:
            negatives = [[] for _ in range(n_q)]
        if len(negatives) != n_q:
            raise HFEmbeddingsError(f"got {n_q} positive lists but {len(negatives)} negative lists")
        if isinstance(topn, Integral) and topn < 1:
            return [[] for _ in range(n_q)]
        pos_idx = [[self.get_index(w) for w in _ensure_list(p)] for p in positives]
        neg_idx = [[self.get_index(w) for w in _ensure_list(n)] for n in negatives]
        for q in range(n_q):
            if not pos_idx[q] and (cosmul or not neg_idx[q]):
                raise HFEmbeddingsError(f"query {q} has no {'positive' if cosmul else 'input'} word")
        normed = self._ensure_normed()
        clip = self._clip(restrict_vocab)
        cand = normed[:clip]
        dev = normed.device
        results: list = []
        max_p = max((len(p) for p in pos_idx), default=0)
        max_n = max((len(n) for n in neg_idx), default=0)
        factor = (max_p + max_n) if cosmul else 1
        for sl in self._chunks(n_q, clip, factor):
            P, N = pos_idx[sl], neg_idx[sl]
            if cosmul:
                scores = self._cosmul_scores(cand, normed, P, N)
            else:
                # weighted mean of unit vectors (+1 / -1), divided by the number of inputs, unit-normalised
                rows = [i for p, n in zip(P, N) for i in p + n]
                qid = torch.tensor([q for q, (p, n) in enumerate(zip(P, N)) for _ in p + n], device=dev)
                sign = torch.tensor(
                    [s for p, n in zip(P, N) for s in [1.0] * len(p) + [-1.0] * len(n)],
                    dtype=normed.dtype,
                    device=dev,
                )
                sums = torch.zeros(len(P), normed.shape[1], dtype=normed.dtype, device=dev)
                sums.index_add_(0, qid, normed[torch.tensor(rows, device=dev)] * sign.unsqueeze(1))
                count = torch.tensor([len(p) + len(n) for p, n in zip(P, N)], dtype=normed.dtype, device=dev)
                queries = self._unit(sums / count.unsqueeze(1))
                scores = queries @ cand.T
            if not topn:
                results.append(scores.cpu().numpy())
            else:
                results.extend(self._rank(scores, [p + n for p, n in zip(P, N)], topn))
        if not topn:
            return np.concatenate(results) if results else np.zeros((0, clip), dtype=np.float32)
        return results

    # ------------------------------------------------------------------ 3CosMul
    def _cosmul_scores(
        self,
        cand: torch.Tensor,
        normed: torch.Tensor,
        pos: Sequence[Sequence[int | torch.Tensor]],
        neg: Sequence[Sequence[int | torch.Tensor]],
    ) -> torch.Tensor:
        """``prod((1 + cos(c, p)) / 2) / (prod((1 + cos(c, n)) / 2) + 1e-6)`` for each query -> (B, clip)."""

        def terms(groups: Sequence[Sequence[int | torch.Tensor]]) -> torch.Tensor:
            width = max((len(g) for g in groups), default=0)
            out = torch.ones(len(groups), cand.shape[0], dtype=cand.dtype, device=cand.device)
            if width == 0:
                return out
            vecs = torch.zeros(len(groups), width, cand.shape[1], dtype=cand.dtype, device=cand.device)
            mask = torch.zeros(len(groups), width, dtype=torch.bool, device=cand.device)
            for q, g in enumerate(groups):
                for j, t in enumerate(g):
                    vecs[q, j] = normed[t] if isinstance(t, int) else t
                    mask[q, j] = True
            sims = (1 + torch.einsum("bjd,nd->bjn", vecs, cand)) / 2
            sims = torch.where(mask.unsqueeze(2), sims, torch.ones((), dtype=cand.dtype, device=cand.device))
            return sims.prod(dim=1)

        return terms(pos) / (terms(neg) + _COSMUL_EPS)

    def most_similar_cosmul(
        self,
        positive: Any = None,
        negative: Any = None,
        topn: int | None = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]] | np.ndarray:
        """3CosMul (Levy & Goldberg 2014, eq. 4, cosines shifted to [0, 1]), as gensim 4.

        Score of word ``c``: ``prod_p (1+cos(c,p))/2 / (prod_n (1+cos(c,n))/2 + 1e-6)``; word inputs are
        unit vectors, vector inputs are used as given (like gensim). Unlike gensim, ``restrict_vocab``
        is honoured (gensim 4 accepts and ignores it).

        Example::

            >>> kv = KeyedVectors.from_arrays(["king", "queen", "man", "woman", "cat"],
            ...     [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
            >>> kv.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=2)
            [('queen', 1.28), ('cat', 0.5)]
        """
        if isinstance(topn, Integral) and topn < 1:
            return []
        normed = self._ensure_normed()
        exclude: list[int] = []

        def resolve(items: list) -> list[int | torch.Tensor]:
            out: list[int | torch.Tensor] = []
            for item in items:
                if _is_vector(item):
                    out.append(self._vec(item, normed))
                elif _is_key(item):
                    idx = self.get_index(item)
                    exclude.append(idx)
                    out.append(idx)
                else:
                    raise TypeError(
                        f"most_similar_cosmul() takes words or vectors, not {type(item).__name__} "
                        "(weighted (word, weight) pairs are a most_similar() feature)"
                    )
            return out

        pos = resolve(_ensure_list(positive))
        neg = resolve(_ensure_list(negative))
        if not pos:
            raise HFEmbeddingsError("most_similar_cosmul() needs at least one positive input")
        clip = self._clip(restrict_vocab)
        scores = self._cosmul_scores(normed[:clip], normed, [pos], [neg])
        if not topn:
            return scores[0].cpu().numpy()
        return self._rank(scores, [exclude], topn)[0]

    # ------------------------------------------------------------------ pairwise
    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two words (0.0 when either vector is zero).

        Example::

            >>> kv = KeyedVectors.from_arrays(["king", "queen", "man", "woman", "cat"],
            ...     [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
            >>> kv.similarity("king", "queen"), kv.similarity("king", "cat")
            (0.5, 0.0)
        """
        normed = self._ensure_normed()
        return float(normed[self.get_index(w1)] @ normed[self.get_index(w2)])

    def distance(self, w1: str, w2: str) -> float:
        """Cosine distance ``1 - similarity(w1, w2)``."""
        return 1.0 - self.similarity(w1, w2)

    def n_similarity(self, ws1: Sequence[str], ws2: Sequence[str]) -> float:
        """Cosine similarity of the means of the raw vectors of two word lists.

        Raises ``KeyError`` for an unknown word (gensim silently ignores it).

        Example::

            >>> kv = KeyedVectors.from_arrays(["king", "queen", "man", "woman", "cat"],
            ...     [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
            >>> kv.n_similarity(["king", "woman"], ["queen", "man"])  # the same mean vector
            1.0
        """
        if not (len(ws1) and len(ws2)):
            raise ZeroDivisionError("At least one of the passed lists is empty.")
        t = self._table()
        dtype = self._work_dtype(t)
        m1 = t[[self.get_index(w) for w in ws1]].to(dtype).mean(0)
        m2 = t[[self.get_index(w) for w in ws2]].to(dtype).mean(0)
        return float(self._unit(m1) @ self._unit(m2))

    def distances(
        self, word_or_vector: str | np.ndarray | torch.Tensor, other_words: Sequence[str] = ()
    ) -> np.ndarray:
        """Cosine distances from a word (or vector) to ``other_words``, or to every word when empty.

        Example::

            >>> kv = KeyedVectors.from_arrays(["king", "queen", "man", "woman", "cat"],
            ...     [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
            >>> kv.distances("king", ["queen", "cat"])
            array([0.5, 1. ], dtype=float32)
        """
        normed = self._ensure_normed()
        if _is_vector(word_or_vector):
            query = self._unit(self._vec(word_or_vector, normed))
        else:
            query = normed[self.get_index(word_or_vector)]
        if other_words is None or len(other_words) == 0:
            others = normed
        else:
            others = normed[[self.get_index(w) for w in other_words]]
        return (1 - others @ query).cpu().numpy()

    def closer_than(self, w1: str, w2: str) -> list[str]:
        """Words strictly closer to ``w1`` than ``w2`` is (``w1`` itself excluded), in vocabulary order.

        Zero vectors are never closer (gensim gets ``nan`` distances for them, which compare false).

        Example::

            >>> kv = KeyedVectors.from_arrays(["king", "queen", "man", "woman", "cat"],
            ...     [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
            >>> kv.closer_than("king", "cat")  # 'woman' is as far as 'cat', not closer
            ['queen', 'man']
        """
        i1, i2 = self.get_index(w1), self.get_index(w2)
        normed = self._ensure_normed()
        nonzero = self._nonzero
        if not (bool(nonzero[i1]) and bool(nonzero[i2])):
            return []
        dist = 1 - normed @ normed[i1]
        closer = (dist < dist[i2]) & nonzero
        closer[i1] = False
        return [self.index_to_key[i] for i in closer.nonzero().flatten().tolist()]

    words_closer_than = closer_than

    def rank(self, w1: str, w2: str) -> int:
        """1 + the number of words closer to ``w1`` than ``w2`` is.

        Example::

            >>> kv = KeyedVectors.from_arrays(["king", "queen", "man", "woman", "cat"],
            ...     [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
            >>> kv.rank("king", "cat"), kv.rank("king", "man")
            (3, 1)
        """
        return len(self.closer_than(w1, w2)) + 1

    def doesnt_match(self, words: Iterable[str]) -> str:
        """The word furthest from the normalised mean of the (unit) word vectors.

        Unknown words are ignored with a warning; if none is known, ``ValueError``. Ties go to the
        alphabetically smallest word (as gensim's ``sorted(..., reverse=True)[-1]``).

        Example::

            >>> kv = KeyedVectors.from_arrays(["king", "queen", "man", "woman", "cat"],
            ...     [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
            >>> kv.doesnt_match(["king", "queen", "man", "cat"])
            'cat'
        """
        words = list(words)
        used = [w for w in words if w in self.key_to_index]
        if len(used) != len(words):
            missing = sorted({w for w in words if w not in self.key_to_index}, key=str)
            warnings.warn(
                f"doesnt_match(): words not in vocabulary, ignored: {missing}", UserWarning, stacklevel=2
            )
        if not used:
            raise HFEmbeddingsError(f"doesnt_match(): none of the words {words} is in the vocabulary")
        normed = self._ensure_normed()
        vecs = normed[[self.key_to_index[w] for w in used]]
        mean = self._unit(vecs.mean(0))
        dists = (vecs @ mean).cpu().tolist()
        return min(zip(dists, used))[1]

    # ------------------------------------------------------------------ gensim 4 API: norms, attributes
    @property
    def norms(self) -> np.ndarray:
        """L2 norm of every raw vector (gensim's ``norms`` after ``fill_norms()``), read-only, cached.

        Example::

            >>> KeyedVectors.from_arrays(["a", "b"], [[3, 4], [0, 0]]).norms
            array([5., 0.], dtype=float32)
        """
        self._ensure_normed()
        arr = self._norms.cpu().numpy()
        arr.flags.writeable = False
        return arr

    def fill_norms(self, force: bool = False) -> None:
        """Compute :attr:`norms` now (``force``: even if the table looks unchanged), as gensim."""
        if force:
            self.invalidate()
        self._ensure_normed()

    def allocate_vecattrs(
        self, attrs: Iterable[str] | None = None, types: Iterable[Any] | None = None
    ) -> None:
        """Create (zero-filled) or resize the per-word attribute arrays to ``len(self)``, as gensim.

        An existing attribute keeps its dtype; a type that cannot be cast to it (``same_kind``) raises
        ``TypeError`` (gensim requires a sub-dtype, so e.g. an ``int`` into int32 counts is refused there).
        """
        if attrs is None:
            attrs = list(self.expandos)
            types = [self.expandos[a].dtype for a in attrs]
        n = len(self.index_to_key)
        for attr, t in zip(attrs, types if types is not None else []):
            t = np.int64 if t is int else (object if t is str else t)
            prev = self.expandos.get(attr)
            if prev is None:
                self.expandos[attr] = np.zeros(n, dtype=t)
                continue
            if not np.can_cast(np.dtype(t), prev.dtype, casting="same_kind"):
                raise TypeError(
                    f"Can't allocate type {t} for attribute {attr}, conflicts with its existing type {prev.dtype}"
                )
            if len(prev) != n:
                grown = np.zeros(n, dtype=prev.dtype)
                keep = min(n, len(prev))
                grown[:keep] = prev[:keep]
                self.expandos[attr] = grown

    def set_vecattr(self, key: str | int, attr: str, val: Any) -> None:
        """Set the extra attribute ``attr`` (e.g. ``"count"``) of ``key`` to ``val``, as gensim.

        Example::

            >>> kv = KeyedVectors.from_arrays(["a", "b"], np.eye(2))
            >>> kv.set_vecattr("b", "count", 7)
            >>> kv.get_vecattr("b", "count"), kv.counts
            (np.int64(7), array([0, 7]))
        """
        self.allocate_vecattrs([attr], [type(val)])
        self.expandos[attr][self.get_index(key)] = val

    def get_vecattr(self, key: str | int, attr: str) -> Any:
        """The extra attribute ``attr`` of ``key`` (``KeyError`` for an unknown attribute), as gensim."""
        return self.expandos[attr][self.get_index(key)]

    # ------------------------------------------------------------------ gensim 4 API: mutation
    def _owned_source(self) -> torch.Tensor:
        return self._owned

    def _own_table(self) -> torch.Tensor:
        """A private copy of the table that mutations may edit (taken once, on the first mutation).

        From then on this object no longer follows its source (a model's live parameter, a numpy array):
        edits here never write into the caller's array, as gensim's copy never does.
        """
        if self._owned is None:
            self._owned = self._table().clone()
            self._source = self._owned_source
            self._version = None
        return self._owned

    def _set_owned(self, table: torch.Tensor) -> None:
        self._owned = table
        self.invalidate()

    def add_vectors(
        self,
        keys: str | Sequence[str],
        weights: Any,
        extras: dict[str, np.ndarray] | None = None,
        replace: bool = False,
    ) -> None:
        """Append new words and their vectors; existing words keep their vector unless ``replace``.

        As gensim's ``add_vectors``, except: keys must be strings (an int is a row index here), a word
        repeated among the new keys raises (gensim would index it twice), ``extras`` (attribute ->
        per-key array) really works, and attribute arrays such as ``counts`` grow with zeros.

        Example::

            >>> kv = KeyedVectors.from_arrays(["a", "b"], np.eye(2, dtype=np.float32))
            >>> kv.add_vectors(["c", "a"], [[1, 1], [9, 9]])
            >>> kv.index_to_key, kv["a"], kv["c"]
            (['a', 'b', 'c'], array([1., 0.], dtype=float32), array([1., 1.], dtype=float32))
        """
        single = _is_key(keys)
        keys = [keys] if single else list(keys)
        for k in keys:
            if not isinstance(k, str):
                raise TypeError(f"keys must be strings, not {type(k).__name__} ({k!r})")
        w = weights.detach().cpu().numpy() if isinstance(weights, torch.Tensor) else np.asarray(weights)
        if single or (w.ndim == 1 and len(keys) == 1):
            w = w.reshape(1, -1)
        table = self._own_table()
        if w.shape != (len(keys), table.shape[1]):
            raise HFEmbeddingsError(f"weights have shape {w.shape}, expected ({len(keys)}, {table.shape[1]})")
        idx = np.fromiter((self.key_to_index.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
        new = idx < 0
        new_keys = [k for k, is_new in zip(keys, new) if is_new]
        if len(set(new_keys)) != len(new_keys):
            raise HFEmbeddingsError("add_vectors(): a new key is repeated in keys")
        wt = torch.from_numpy(np.array(w)).to(device=table.device, dtype=table.dtype)
        start = len(self.index_to_key)
        self.index_to_key.extend(new_keys)
        self.key_to_index.update(zip(new_keys, range(start, start + len(new_keys))))
        mask = torch.from_numpy(new).to(table.device)
        table = torch.cat([table, wt[mask]])
        extras = extras or {}
        self.allocate_vecattrs(list(extras), [np.asarray(v).dtype for v in extras.values()])
        self.allocate_vecattrs()
        for attr, vals in extras.items():
            vals = np.asarray(vals)
            self.expandos[attr][start:] = vals[new]
            if replace:
                self.expandos[attr][idx[~new]] = vals[~new]
        if replace and not new.all():
            table[torch.from_numpy(idx[~new]).to(table.device)] = wt[~mask]
        self._set_owned(table)

    def add_vector(self, key: str, vector: Any) -> int:
        """Add one word and return its row; an existing word keeps its vector and its row is returned.

        (gensim returns ``len(self)`` for an existing word, a row that does not exist.)
        """
        if key in self.key_to_index:
            return self.key_to_index[key]
        self.add_vectors(
            [key],
            np.asarray(vector).reshape(1, -1)
            if not isinstance(vector, torch.Tensor)
            else vector.reshape(1, -1),
        )
        return len(self) - 1

    def __setitem__(self, keys: str | Sequence[str], weights: Any) -> None:
        """``kv["w"] = vec`` / ``kv[["a", "b"]] = mat``: add or replace (``add_vectors(replace=True)``)."""
        if _is_key(keys):
            keys = [keys]
            weights = weights.reshape(1, -1)
        self.add_vectors(list(keys), weights, replace=True)

    def sort_by_descending_frequency(self) -> None:
        """Reorder rows by descending ``counts``, ties by descending row (as gensim's ``lexsort``)."""
        if not len(self):
            return
        if self.counts is None:
            raise HFEmbeddingsError(
                "sort_by_descending_frequency() needs word counts (counts=... or set_vecattr)"
            )
        counts = np.asarray(self.counts, dtype=np.int64)
        order = np.lexsort((-np.arange(len(counts)), -counts))
        table = self._own_table()
        self.index_to_key = np.array(self.index_to_key, dtype=object)[order].tolist()
        self.key_to_index = dict(zip(self.index_to_key, range(len(order))))
        for attr in list(self.expandos):
            self.expandos[attr] = self.expandos[attr][order]
        self._set_owned(table[torch.from_numpy(order).to(table.device)])

    # ------------------------------------------------------------------ gensim 4 API: queries
    def get_mean_vector(
        self,
        keys: Sequence[Any],
        weights: Sequence[float] | np.ndarray | None = None,
        pre_normalize: bool = True,
        post_normalize: bool = False,
        ignore_missing: bool = True,
    ) -> np.ndarray:
        """Weighted mean of word vectors (unit vectors when ``pre_normalize``) and raw vectors, as gensim.

        The sum is divided by the total absolute weight of the inputs used; unknown keys are skipped
        (``KeyError`` when not ``ignore_missing``); ``post_normalize`` scales the mean to unit length.

        Example::

            >>> kv = KeyedVectors.from_arrays(["a", "b"], [[2, 0], [0, 4]])
            >>> kv.get_mean_vector(["a", "b", "zz"]), kv.get_mean_vector(["a", "b"], pre_normalize=False)
            (array([0.5, 0.5], dtype=float32), array([1., 2.], dtype=float32))
        """
        if len(keys) == 0:
            raise ValueError("cannot compute mean with no input")
        w = np.ones(len(keys)) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or len(keys) != w.shape[0]:
            raise ValueError("keys and weights array must have same number of elements")
        src = self._ensure_normed() if pre_normalize else self._table()
        src = src.to(self._work_dtype(src))
        mean = torch.zeros(src.shape[1], dtype=src.dtype, device=src.device)
        total = 0.0
        for key, weight in zip(keys, w.tolist()):
            if _is_vector(key):
                mean = mean + weight * self._vec(key, src)
            elif self.has_index_for(key):
                mean = mean + weight * src[self.get_index(key)]
            elif not ignore_missing:
                raise KeyError(f"Key '{key}' not present in vocabulary")
            else:
                continue
            total += abs(weight)
        if total > 0:
            mean = mean / total
        if post_normalize:
            mean = self._unit(mean)
        return mean.cpu().numpy()

    def most_similar_to_given(self, key1: str, keys_list: Sequence[str]) -> str:
        """The key of ``keys_list`` most similar to ``key1`` (the first one on a tie).

        Example::

            >>> kv = KeyedVectors.from_arrays(["king", "queen", "man", "woman", "cat"],
            ...     [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
            >>> kv.most_similar_to_given("king", ["cat", "queen", "man"])
            'man'
        """
        normed = self._ensure_normed()
        sims = normed[[self.get_index(k) for k in keys_list]] @ normed[self.get_index(key1)]
        return keys_list[int(np.argmax(sims.cpu().numpy()))]

    @staticmethod
    def cosine_similarities(vector_1: Any, vectors_all: Any) -> np.ndarray:
        """Cosine of ``vector_1`` (d,) with each row of ``vectors_all`` (n, d); 0 where a norm is 0 (gensim: nan).

        Example::

            >>> KeyedVectors.cosine_similarities(np.array([1.0, 0.0]), np.array([[1.0, 1.0], [0.0, 0.0]]))
            array([0.70710678, 0.        ])
        """

        def arr(x: Any) -> np.ndarray:
            return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)

        v, m = arr(vector_1), arr(vectors_all)
        denom = np.linalg.norm(v) * np.linalg.norm(m, axis=1)
        dots = m @ v
        ok = denom > 0
        return np.where(ok, dots / np.where(ok, denom, 1), 0).astype(dots.dtype, copy=False)

    def similar_by_key(
        self, key: str, topn: int | None = 10, restrict_vocab: int | None = None
    ) -> list[tuple[str, float]] | np.ndarray:
        """``most_similar(positive=[key])`` (gensim 4's name for :meth:`similar_by_word`)."""
        return self.most_similar(positive=[key], topn=topn, restrict_vocab=restrict_vocab)

    def relative_cosine_similarity(self, wa: str, wb: str, topn: int = 10) -> float:
        """``similarity(wa, wb) / sum of the topn similarities of wa`` (Leeuwenberg et al. 2016, eq. 1)."""
        sims = self.similar_by_word(wa, topn)
        if not sims:
            raise HFEmbeddingsError("Cannot calculate relative cosine similarity without any similar words.")
        return float(self.similarity(wa, wb)) / sum(s for _, s in sims)

    def rank_by_centrality(self, words: Iterable[str], use_norm: bool = True) -> list[tuple[float, str]]:
        """``(similarity to the unit centroid, word)`` pairs, most central first, as gensim.

        Unknown words are ignored with a warning; none known raises ``ValueError``. Ties are ordered
        by word, descending (gensim's ``sorted(..., reverse=True)``).

        Example::

            >>> kv = KeyedVectors.from_arrays(["king", "queen", "man", "woman", "cat"],
            ...     [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
            >>> [w for _, w in kv.rank_by_centrality(["king", "queen", "cat"])]  # king/queen tie
            ['queen', 'king', 'cat']
        """
        words = list(words)
        used = [w for w in words if w in self.key_to_index]
        if len(used) != len(words):
            missing = sorted({w for w in words if w not in self.key_to_index}, key=str)
            warnings.warn(
                f"rank_by_centrality(): words not in vocabulary, ignored: {missing}",
                UserWarning,
                stacklevel=2,
            )
        if not used:
            raise HFEmbeddingsError("cannot select a word from an empty list")
        rows = [self.key_to_index[w] for w in used]
        if use_norm:
            vecs = self._ensure_normed()[rows]
        else:
            t = self._table()
            vecs = t[rows].to(self._work_dtype(t))
        dists = (vecs @ self._unit(vecs.mean(0))).cpu().tolist()
        return sorted(zip(dists, used), reverse=True)

    def vectors_for_all(
        self, keys: Iterable[str], allow_inference: bool = True, copy_vecattrs: bool = False
    ) -> KeyedVectors:
        """A new :class:`KeyedVectors` of the known ``keys`` (deduplicated, first occurrence order).

        ``allow_inference`` is accepted for gensim compatibility (no out-of-vocabulary inference here).
        Attributes (``counts``...) are copied only with ``copy_vecattrs``; gensim otherwise makes up
        descending counts, this leaves ``counts`` unset.
        """
        vocab = [k for k in dict.fromkeys(keys) if k in self.key_to_index]
        rows = [self.key_to_index[k] for k in vocab]
        t = self._table()
        kv = type(self)(t[rows].clone(), vocab, tokenize=self._tokenize)
        if copy_vecattrs:
            kv.expandos = {a: v[rows].copy() for a, v in self.expandos.items()}
        return kv

    def wmdistance(self, document1: Sequence[str], document2: Sequence[str], norm: bool = True) -> float:
        """Word Mover's Distance (Kusner et al. 2015) between two token lists, via POT's ``emd2``, as gensim.

        Unknown tokens are dropped; ``inf`` when a document has no known token or all distances are 0;
        ``0.0`` when both use one and the same word. ``norm``: unit-length word vectors. Needs the POT
        library (``pip install pot``, or the ``wmd`` extra).
        """
        try:
            from ot import emd2
        except ImportError as exc:
            raise ImportError(
                "wmdistance() needs POT (Python Optimal Transport), which is not installed: pip install pot"
            ) from exc
        doc1 = [t for t in document1 if t in self.key_to_index]
        doc2 = [t for t in document2 if t in self.key_to_index]
        if not doc1 or not doc2:
            warnings.warn("wmdistance(): a document has no word in the vocabulary", UserWarning, stacklevel=2)
            return float("inf")
        u1, c1 = np.unique(np.array(doc1, dtype=object), return_counts=True)
        u2, c2 = np.unique(np.array(doc2, dtype=object), return_counts=True)
        if len(set(u1.tolist()) | set(u2.tolist())) == 1:
            return 0.0
        src = self._ensure_normed() if norm else self._table()
        rows1 = [self.key_to_index[w] for w in u1.tolist()]
        rows2 = [self.key_to_index[w] for w in u2.tolist()]
        v1 = src[rows1].cpu().numpy().astype(np.float64)
        v2 = src[rows2].cpu().numpy().astype(np.float64)
        dist = _euclidean(v1, v2)
        if abs(np.sum(dist)) < 1e-8:
            return float("inf")
        return float(emd2(c1 / len(doc1), c2 / len(doc2), dist))

    # ------------------------------------------------------------------ gensim 4 API: evaluation
    def evaluate_word_pairs(
        self,
        pairs: str | Any,
        delimiter: str = "\t",
        encoding: str = "utf8",
        restrict_vocab: int = 300000,
        case_insensitive: bool = True,
        dummy4unknown: bool = False,
    ) -> tuple[tuple[float, float], tuple[float, float], float]:
        """gensim's ``((pearson, p), (spearman, p), oov_ratio)`` from
        :func:`hf_embeddings.evaluation.intrinsic.evaluate_word_pairs` (plain tuples, not scipy results)."""
        from ..evaluation.intrinsic import evaluate_word_pairs

        r = evaluate_word_pairs(
            self,
            pairs,
            delimiter=delimiter,
            encoding=encoding,
            restrict_vocab=restrict_vocab,
            case_insensitive=case_insensitive,
            dummy4unknown=dummy4unknown,
        )
        return (r["pearson"], r["pearson_pvalue"]), (r["spearman"], r["spearman_pvalue"]), r["oov_ratio"]

    def evaluate_word_analogies(
        self,
        analogies: str | Any,
        restrict_vocab: int = 300000,
        case_insensitive: bool = True,
        dummy4unknown: bool = False,
        similarity_function: str = "most_similar",
    ) -> tuple[float, list[dict[str, Any]]]:
        """gensim's ``(score, sections)`` (a last ``"Total accuracy"`` section) from
        :func:`hf_embeddings.evaluation.intrinsic.evaluate_word_analogies`; ``similarity_function`` is
        ``"most_similar"`` (3CosAdd) or ``"most_similar_cosmul"`` (3CosMul; gensim 4.4 ignores the argument)."""
        from ..evaluation.intrinsic import evaluate_word_analogies

        methods = {"most_similar": "3cosadd", "most_similar_cosmul": "3cosmul"}
        if similarity_function not in methods:
            raise HFEmbeddingsError(f"similarity_function must be one of {sorted(methods)}")
        r = evaluate_word_analogies(
            self,
            analogies,
            restrict_vocab=restrict_vocab,
            case_insensitive=case_insensitive,
            dummy4unknown=dummy4unknown,
            method=methods[similarity_function],
        )
        sections = [
            {"section": s["section"], "correct": list(s["correct"]), "incorrect": list(s["incorrect"])}
            for s in r["sections"]
        ]
        total = {
            "section": "Total accuracy",
            "correct": [q for s in sections for q in s["correct"]],
            "incorrect": [q for s in sections for q in s["incorrect"]],
        }
        return r["accuracy"], [*sections, total]

    # ------------------------------------------------------------------ gensim 4 API: word2vec files
    def save_word2vec_format(
        self,
        fname: str | Any,
        fvocab: str | Any | None = None,
        binary: bool = False,
        total_vec: int | None = None,
        write_header: bool = True,
        prefix: str = "",
        append: bool = False,
        sort_attr: str = "count",
    ) -> None:
        """Write the table in word2vec format, rows in descending ``sort_attr`` (else row order), as gensim.

        Written by :func:`hf_embeddings.vectors.formats.write_word2vec_format` (atomic; binary rows end
        with ``"\\n"`` as the C tool's). ``fvocab`` gets ``word count`` lines. ``append`` and a
        ``total_vec`` other than ``len(self)`` are not supported (the writer is atomic) and raise.
        """
        from .formats.word2vec import write_word2vec_format

        if append or (total_vec is not None and total_vec != len(self)):
            raise HFEmbeddingsError("save_word2vec_format(): append and total_vec are not supported")
        if sort_attr in self.expandos:
            vals = self.expandos[sort_attr]
            order = np.argsort(-vals, kind="stable")
        else:
            if fvocab is not None:
                raise HFEmbeddingsError(
                    f"Cannot store vocabulary with '{sort_attr}' because that attribute does not exist"
                )
            order = np.arange(len(self))
        words = np.array(self.index_to_key, dtype=object)[order]
        if prefix:
            words = prefix + words
        words = words.tolist()
        t = self._table()
        vectors = t[torch.from_numpy(order).to(t.device)].to(self._work_dtype(t)).cpu().numpy()
        if fvocab is not None:
            counts = self.expandos[sort_attr][order].tolist()
            with open(fvocab, "wb") as out:
                out.write("".join(f"{w} {c}\n" for w, c in zip(words, counts)).encode("utf8"))
        write_word2vec_format(fname, words, vectors, binary=binary, header=write_header)

    @classmethod
    def load_word2vec_format(
        cls,
        fname: str | Any,
        fvocab: str | Any | None = None,
        binary: bool = False,
        encoding: str = "utf8",
        unicode_errors: str = "strict",
        limit: int | None = None,
        datatype: Any = np.float32,
        no_header: bool = False,
    ) -> KeyedVectors:
        """Read a word2vec text/binary file with :func:`hf_embeddings.vectors.formats.read_word2vec_format`.

        ``fvocab`` (``word count`` lines, the C tool's ``-save-vocab``) gives ``counts`` (0 for a word
        it lacks); without it ``counts`` stays unset (gensim makes up descending counts). Only UTF-8.
        A word repeated in the file raises (gensim keeps the first).
        """
        from .formats.word2vec import read_word2vec_format

        if encoding.lower().replace("-", "").replace("_", "") != "utf8":
            raise HFEmbeddingsError("load_word2vec_format() reads UTF-8 files only")
        words, vectors = read_word2vec_format(
            fname,
            binary=binary,
            limit=limit,
            unicode_errors=unicode_errors,
            dtype=datatype,
            no_header=no_header,
        )
        counts = None
        if fvocab is not None:
            table: dict[str, int] = {}
            with open(fvocab, "rb") as f:
                for line in f:
                    parts = line.decode("utf8", unicode_errors).strip().split()
                    if len(parts) == 2:
                        table[parts[0]] = int(parts[1])
            counts = np.fromiter((table.get(w, 0) for w in words), dtype=np.int64, count=len(words))
        return cls(vectors, words, counts=counts)

    def intersect_word2vec_format(
        self,
        fname: str | Any,
        lockf: float = 0.0,
        binary: bool = False,
        encoding: str = "utf8",
        unicode_errors: str = "strict",
    ) -> None:
        """Overwrite the vectors of the words this table shares with a word2vec file; add no word.

        ``lockf`` is accepted for gensim compatibility and ignored (this table has no lock factors:
        freeze rows in the training loop instead). A different vector size raises ``ValueError``.
        """
        from .formats.word2vec import read_word2vec_format

        if encoding.lower().replace("-", "").replace("_", "") != "utf8":
            raise HFEmbeddingsError("intersect_word2vec_format() reads UTF-8 files only")
        words, vectors = read_word2vec_format(fname, binary=binary, unicode_errors=unicode_errors)
        if vectors.shape[1] != self.vector_size:
            raise HFEmbeddingsError(f"incompatible vector size {vectors.shape[1]} in file {fname}")
        idx = np.fromiter((self.key_to_index.get(w, -1) for w in words), dtype=np.int64, count=len(words))
        hit = idx >= 0
        if hit.any():
            table = self._own_table()
            rows = torch.from_numpy(idx[hit]).to(table.device)
            table[rows] = torch.from_numpy(vectors[hit]).to(device=table.device, dtype=table.dtype)
            self._set_owned(table)

    # ------------------------------------------------------------------ gensim 4 API: save / load
    def save(
        self,
        fname_or_handle: str | os.PathLike | IO[bytes],
        separately: Any = None,
        sep_limit: int = 10 * 1024**2,
        ignore: Any = frozenset(),
        pickle_protocol: int = 4,
    ) -> None:
        """Save words, vectors and per-word attributes (``counts`` ...) to one safetensors file, no pickle.

        Loaded back with :meth:`load` (``mmap="r"`` maps the table instead of reading it). gensim's
        other arguments are accepted for compatibility and have no effect: nothing is pickled, and the
        table is always stored so that it can be memory-mapped. The ``tokenize`` function is not saved
        (a loaded object splits text on whitespace). Format: :mod:`hf_embeddings.vectors.safe_storage`.

        Example::

            >>> import tempfile, os
            >>> kv = KeyedVectors.from_arrays(["a", "b"], np.eye(2, dtype=np.float32), counts=[5, 3])
            >>> path = os.path.join(tempfile.mkdtemp(), "vectors.kv")
            >>> kv.save(path)
            >>> again = KeyedVectors.load(path, mmap="r")
            >>> again.index_to_key, again["b"], again.counts
            (['a', 'b'], array([0., 1.], dtype=float32), array([5, 3]))
        """
        from .safe_storage import write_keyed_vectors

        write_keyed_vectors(fname_or_handle, self.index_to_key, self.vectors, self.expandos)

    @classmethod
    def load(cls, fname: str | os.PathLike, mmap: str | None = None) -> KeyedVectors:
        """Load a file written by :meth:`save` (gensim's pickles are never read).

        ``mmap=None`` reads the table into memory; ``"r"`` maps it: opening costs nothing whatever the
        size, pages are read (and shared with other processes) as queries touch them, and the file is
        never written (an edit of the table gets private pages; mutations copy the table first anyway).
        gensim's ``"c"`` and ``"r+"`` are accepted and do the same (gensim's ``"r+"`` writes edits back to
        the file: here there is no in-place edit to write). Per-word attributes are read into memory. A
        missing, damaged or foreign file raises :class:`~hf_embeddings.errors.HFEmbeddingsError`.
        """
        from .safe_storage import read_keyed_vectors

        words, vectors, attributes = read_keyed_vectors(fname, mmap)
        kv = cls(vectors, words)
        kv.expandos.update(attributes)
        return kv

    # ------------------------------------------------------------------ sentence pooling
    def sentence_vector(
        self, text: str | Sequence[str], pooling: str = "mean", sif_a: float = 1e-3
    ) -> PooledVector:
        """Pool the raw vectors of the known words of ``text`` (a string, tokenized, or a token list).

        ``mean``: average; ``sqrtn``: sum / sqrt(n) (TF-Hub NNLM style); ``sif``: average weighted by
        ``a / (a + p(w))`` with ``p(w) = count / total count`` (Arora et al. 2017; needs ``counts``).
        With no known word the vector is zeros and ``is_empty`` is True.

        Example::

            >>> kv = KeyedVectors.from_arrays(["the", "cat", "sat"], [[1, 0], [0, 1], [1, 1]], counts=[98, 1, 1])
            >>> kv.sentence_vector("the cat sat").vector
            array([0.667, 0.667], dtype=float32)
            >>> kv.sentence_vector("the cat sat", pooling="sif").vector  # 'the' (98% of the tokens) barely counts
            array([0.031, 0.061], dtype=float32)
        """
        split = split_known(text, self.key_to_index, self._tokenize)
        vec = self._pool([split], pooling, sif_a)[0]
        return PooledVector(vec, split[1], split[2])

    def sentence_vectors(
        self,
        texts: Sequence[str | Sequence[str]],
        pooling: str = "mean",
        remove_first_pc: bool = False,
        sif_a: float = 1e-3,
    ) -> np.ndarray:
        """Pool many texts into a ``(len(texts), dim)`` array (zero rows for texts with no known word).

        ``remove_first_pc`` subtracts each row's projection on the first principal component of the
        (uncentred) matrix, the second step of SIF (Arora et al. 2017).

        Example::

            >>> kv = KeyedVectors.from_arrays(["the", "cat", "sat"], [[1, 0], [0, 1], [1, 1]], counts=[98, 1, 1])
            >>> X = kv.sentence_vectors(["the cat", "the sat", "xyzzy"], pooling="sif", remove_first_pc=True)
            >>> X.shape, X[2]  # no known word: a zero row
            ((3, 2), array([0., 0.], dtype=float32))
        """
        out = self._pool([split_known(t, self.key_to_index, self._tokenize) for t in texts], pooling, sif_a)
        if remove_first_pc:
            out = remove_first_principal_component(out)
        return out

    def _pool(self, splits: list[Split], pooling: str, sif_a: float) -> np.ndarray:
        t = self._table()
        return pool_vectors(t, splits, pooling, sif_a, self.counts, self._work_dtype(t))


def _euclidean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Euclidean distances between the rows of `a` and of `b`, in float64 (numpy only, so the
    remote-code bundle needs no scipy)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
