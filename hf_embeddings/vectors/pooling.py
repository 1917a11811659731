"""Pooling of word vectors into sentence vectors: mean, sqrt-n (TF-Hub NNLM style) and SIF.

The functions work on a word table and the rows of the known words of each text; :class:`KeyedVectors`
(``sentence_vector``, ``sentence_vectors``) is the API over them.

* ``mean``: average of the raw vectors of the known words;
* ``sqrtn``: their sum / sqrt(n);
* ``sif``: the average weighted by ``a / (a + p(w))`` with ``p(w) = count / total count`` (Arora et al.
  2017), optionally followed by :func:`remove_first_principal_component`, SIF's second step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import torch

from ..errors import HFEmbeddingsError

__all__ = [
    "PooledVector",
    "pool_vectors",
    "remove_first_principal_component",
    "split_known",
]

_POOLINGS = ("mean", "sqrtn", "sif")

#: (rows of the known words, the known words, the out-of-vocabulary words) of one text
Split = tuple[list[int], list[str], list[str]]


class PooledVector(NamedTuple):
    """A pooled sentence vector with the words that were (and were not) found in the vocabulary.

    Example::

        >>> from hf_embeddings.vectors.keyed_vectors import KeyedVectors
        >>> pv = KeyedVectors.from_arrays(["the", "cat"], [[1, 0], [0, 1]]).sentence_vector("the cat xyzzy")
        >>> pv.vector, pv.known, pv.oov
        (array([0.5, 0.5], dtype=float32), ['the', 'cat'], ['xyzzy'])
    """

    vector: np.ndarray
    known: list[str]
    oov: list[str]

    @property
    def is_empty(self) -> bool:
        """True when no word was in the vocabulary (``vector`` is then all zeros)."""
        return not self.known


def split_known(
    text: str | Sequence[str], key_to_index: Mapping[str, int], tokenize: Callable[[str], list[str]]
) -> Split:
    """The rows and words of ``text`` (a string, tokenized with ``tokenize``, or a token list) that are in
    ``key_to_index``, and the words that are not, in text order.

    Example::

        >>> split_known("the cat xyzzy the", {"the": 0, "cat": 1}, str.split)
        ([0, 1, 0], ['the', 'cat', 'the'], ['xyzzy'])
    """
    tokens = tokenize(text) if isinstance(text, str) else list(text)
    known, oov, idx = [], [], []
    for tok in tokens:
        i = key_to_index.get(tok)
        if i is None:
            oov.append(tok)
        else:
            known.append(tok)
            idx.append(i)
    return idx, known, oov


def pool_vectors(
    table: torch.Tensor,
    splits: list[Split],
    pooling: str,
    sif_a: float,
    counts: np.ndarray | None,
    dtype: torch.dtype,
) -> np.ndarray:
    """One pooled row per split over the ``(n, d)`` ``table``, computed in ``dtype``: ``(len(splits), d)``,
    zero rows for splits with no known word. ``counts`` (per table row) are needed by ``sif`` only.

    Example::

        >>> table = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> pool_vectors(table, [([0, 1], ["a", "b"], []), ([], [], ["zz"])], "sqrtn", 1e-3, None, torch.float32)
        array([[0.707, 0.707],
               [0.   , 0.   ]], dtype=float32)
    """
    if pooling not in _POOLINGS:
        raise HFEmbeddingsError(f"pooling must be one of {_POOLINGS}, got {pooling!r}")
    t = table
    out = torch.zeros(len(splits), t.shape[1], dtype=dtype, device=t.device)
    rows = [i for idx, _, _ in splits for i in idx]
    if not rows:
        return out.cpu().numpy()
    seg = torch.tensor([s for s, (idx, _, _) in enumerate(splits) for _ in idx], device=t.device)
    n = torch.tensor([max(len(idx), 1) for idx, _, _ in splits], dtype=dtype, device=t.device)
    vecs = t[torch.tensor(rows, device=t.device)].to(dtype)
    if pooling == "sif":
        if counts is None:
            raise HFEmbeddingsError(
                "SIF pooling needs word counts: build the KeyedVectors with counts=... "
                "(or use a tokenizer that has word_counts)"
            )
        total = float(counts.sum())
        if total <= 0:
            raise HFEmbeddingsError("SIF pooling needs positive word counts (they sum to 0)")
        p = torch.as_tensor(counts[rows].astype(np.float64) / total, device=t.device)
        vecs = vecs * (sif_a / (sif_a + p)).to(dtype).unsqueeze(1)
    out.index_add_(0, seg, vecs)
    if pooling == "sqrtn":
        out = out / n.sqrt().unsqueeze(1)
    else:
        out = out / n.unsqueeze(1)
    return out.cpu().numpy()


def remove_first_principal_component(out: np.ndarray) -> np.ndarray:
    """Each row minus its projection on the first principal component of the (uncentred) matrix, the
    second step of SIF (Arora et al. 2017); same dtype, computed in float64. An empty matrix is returned
    as it is.

    Example::

        >>> remove_first_principal_component(np.array([[3.0, 0.0], [0.0, 1.0]], dtype=np.float32))  # PC: (1, 0)
        array([[0., 0.],
               [0., 1.]], dtype=float32)
    """
    if not len(out):
        return out
    x = out.astype(np.float64)
    _, eigvecs = np.linalg.eigh(x.T @ x)
    u = eigvecs[:, -1]
    return (x - np.outer(x @ u, u)).astype(out.dtype)
