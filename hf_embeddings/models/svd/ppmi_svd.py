"""Shifted PPMI of a co-occurrence matrix and its truncated SVD (Levy, Goldberg & Dagan 2015), kept sparse.

- `ppmi_matrix`: M[w, c] = max(0, log(X[w, c] Z / (#w #c^cds)) - log neg), over the stored entries of X
  only (an unseen pair has PMI -inf, so it stays an implicit zero): the matrix is never dense.
- `randomized_svd`: the randomized range finder with power iterations (Halko, Martinsson & Tropp 2011,
  algorithm 4.4; normalised by a pivoted LU between the products, as scikit-learn does) in torch, with
  the sparse matrix as a CSR tensor, on a CPU or a GPU; `arpack_svd`: scipy's Lanczos `svds` (CPU).
- `factorize`: PPMI -> truncated SVD -> W = U S^eig, C = V S^eig for an `SvdConfig`.

Signs are fixed (the largest entry of every left singular vector is positive), so a factorisation does
not depend on the solver's sign choices.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["Factorization", "arpack_svd", "factorize", "ppmi_matrix", "randomized_svd", "truncated_svd"]


def ppmi_matrix(counts, *, cds: float = 0.75, neg: float = 1.0, dtype=np.float32) -> sp.csr_matrix:
    """The shifted positive PMI matrix of a (words x contexts) co-occurrence count matrix, as sparse CSR.

    With #w the row sums, #c the column sums and Z = sum_c #c^cds (context-distribution smoothing),
    PMI(w, c) = log(X[w, c] Z / (#w #c^cds)), and M = max(PMI - log neg, 0) with its zeros not stored.
    Computed in float64, returned as `dtype`.

    Example:
        >>> X = sp.csr_matrix(np.array([[0.0, 2, 1], [2, 0, 0], [1, 0, 0]]))
        >>> ppmi_matrix(X, cds=1.0).toarray().round(3)  # log(2 * 6 / (3 * 2)), log(1 * 6 / (3 * 1)) ...
        array([[0.   , 0.693, 0.693],
               [0.693, 0.   , 0.   ],
               [0.693, 0.   , 0.   ]], dtype=float32)
    """
    if not cds > 0:
        raise ValueError(f"cds must be > 0, got {cds!r}")
    if not neg > 0:
        raise ValueError(f"neg must be > 0, got {neg!r}")
    x = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    x.sum_duplicates()
    x.eliminate_zeros()
    if x.nnz and x.data.min() < 0:
        raise ValueError("co-occurrence counts must be >= 0")
    rows = np.asarray(x.sum(axis=1)).ravel()
    cols = np.asarray(x.sum(axis=0)).ravel()
    smoothed = np.power(cols, cds)
    z = smoothed.sum()
    row_of = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    # every stored entry has positive row and column sums: no log of zero
    pmi = np.log(x.data)
    if x.nnz:
        pmi += np.log(z) - np.log(neg)
        pmi -= np.log(rows[row_of])
        pmi -= cds * np.log(cols[x.indices])
    keep = pmi > 0
    indptr = np.zeros(x.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_of[keep], minlength=x.shape[0]), out=indptr[1:])
    return sp.csr_matrix((pmi[keep].astype(dtype), x.indices[keep], indptr), shape=x.shape)


def _csr_tensor(m: sp.csr_matrix, device, dtype) -> torch.Tensor:
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(m.indptr.astype(np.int64)),
            torch.from_numpy(m.indices.astype(np.int64)),
            torch.from_numpy(m.data).to(dtype),
            size=m.shape,
            device=device,
            check_invariants=False,
        )


def _fix_signs(u: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip each pair (u_i, v_i) so that the largest-magnitude entry of u_i is positive."""
    if u.shape[1] == 0:
        return u, v
    pick = u.abs().argmax(dim=0)
    signs = torch.sign(u[pick, torch.arange(u.shape[1], device=u.device)])
    signs[signs == 0] = 1
    return u * signs, v * signs


def _lu_basis(y: torch.Tensor) -> torch.Tensor:
    """P L of the partially pivoted y = P L U: a basis of y's columns that is well enough conditioned to
    go on multiplying, for about a quarter of a QR's time (scikit-learn's normaliser between power
    iterations; the basis is orthonormalised by QR at the end)."""
    lu, pivots = torch.linalg.lu_factor_ex(y)[:2]  # a singular y is fine: P L still spans its columns
    _, lower, _ = torch.lu_unpack(lu, pivots, unpack_data=True, unpack_pivots=False)
    perm = np.arange(y.shape[0])
    for i, j in enumerate(pivots.cpu().numpy() - 1):  # LAPACK's row interchanges, in order
        perm[i], perm[j] = perm[j], perm[i]
    out = torch.empty_like(lower)
    out[torch.from_numpy(perm).to(y.device)] = lower  # y[perm] = L U
    return out


def _check_rank(k: int, shape: tuple[int, int], strict: bool) -> None:
    limit = min(shape) - (1 if strict else 0)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1 or k > limit:
        raise ValueError(
            f"the rank of the truncated SVD (vector_size) must be an integer in [1, {limit}] for a "
            f"{shape[0]} x {shape[1]} matrix, got {k!r}"
        )


def randomized_svd(
    matrix,
    k: int,
    *,
    n_iter: int = 5,
    n_oversamples: int = 10,
    seed: int = 0,
    device="cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The k leading singular triplets of a scipy sparse (or dense numpy) matrix A ~ U diag(s) V^T.

    A random sketch A Omega of k + n_oversamples columns (Omega drawn on the CPU from `seed`, so every
    device starts alike), `n_iter` power iterations (A A^T)^q, each product normalised by a pivoted LU,
    the result orthonormalised by QR; then the SVD of the small matrix Q^T A. The products run on
    `device` (A as a CSR tensor there). Returns U (m, k), s (k,) descending and V (n, k), on `device`.

    Example:
        >>> a = sp.random(60, 40, density=0.2, random_state=0, format="csr")
        >>> exact = np.linalg.svd(a.toarray(), compute_uv=False)[:5]
        >>> u, s, v = randomized_svd(a, 5, dtype=torch.float64)  # 5 power iterations: within 1e-4
        >>> bool(np.allclose(s.numpy(), exact, rtol=1e-4)), bool(np.allclose(s.numpy(), exact, rtol=1e-7))
        (True, False)
        >>> u, s, v = randomized_svd(a, 5, n_iter=20, dtype=torch.float64)
        >>> bool(np.allclose(s.numpy(), exact, rtol=1e-12))
        True
    """
    m = sp.csr_matrix(matrix)
    _check_rank(k, m.shape, strict=False)
    if not isinstance(n_iter, int) or n_iter < 0 or not isinstance(n_oversamples, int) or n_oversamples < 0:
        raise ValueError(f"n_iter and n_oversamples must be integers >= 0, got {n_iter!r}, {n_oversamples!r}")
    rows, cols = m.shape
    width = min(k + n_oversamples, rows, cols)
    a = _csr_tensor(m, device, dtype)
    at = _csr_tensor(m.T.tocsr(), device, dtype)
    gen = torch.Generator().manual_seed(int(seed))
    y = a @ torch.randn(cols, width, generator=gen, dtype=torch.float64).to(device=device, dtype=dtype)
    for _ in range(n_iter):  # (A A^T)^q A Omega, normalised by LU in between (cheaper than QR)
        q = _lu_basis(y)
        q = _lu_basis(at @ q)
        y = a @ q
    q = torch.linalg.qr(y).Q
    bt = at @ q  # (Q^T A)^T, cols x width
    p, s, rt = torch.linalg.svd(bt, full_matrices=False)  # Q^T A = R S P^T
    u = q @ rt.T[:, :k]
    u, v = _fix_signs(u, p[:, :k])
    return u, s[:k], v


def arpack_svd(matrix, k: int, *, seed: int = 0, dtype: torch.dtype = torch.float32):
    """The k leading singular triplets by scipy's ARPACK `svds` (in float64 on the CPU), as torch tensors
    U (m, k), s (k,) descending, V (n, k).

    Example:
        >>> a = sp.random(30, 20, density=0.3, random_state=1, format="csr")
        >>> u, s, v = arpack_svd(a, 3, dtype=torch.float64)
        >>> bool(np.allclose(s.numpy(), np.linalg.svd(a.toarray(), compute_uv=False)[:3]))
        True
    """
    from scipy.sparse.linalg import svds

    m = sp.csr_matrix(matrix, dtype=np.float64)
    _check_rank(k, m.shape, strict=True)
    v0 = np.random.default_rng(int(seed)).standard_normal(min(m.shape))  # svds' own start is random
    u, s, vt = svds(m, k=k, solver="arpack", v0=v0)
    order = np.argsort(-s)
    u = torch.from_numpy(np.ascontiguousarray(u[:, order])).to(dtype)
    v = torch.from_numpy(np.ascontiguousarray(vt[order].T)).to(dtype)
    u, v = _fix_signs(u, v)
    return u, torch.from_numpy(s[order].copy()).to(dtype), v


def truncated_svd(matrix, k: int, *, solver: str = "randomized", seed: int = 0, device="cpu", **options):
    """`randomized_svd` (options n_iter, n_oversamples, dtype) or `arpack_svd` (on the CPU) by name."""
    if solver == "randomized":
        return randomized_svd(matrix, k, seed=seed, device=device, **options)
    if solver == "arpack":  # no sketch: the Lanczos solver has no iterations or oversampling to set
        options = {key: value for key, value in options.items() if key not in ("n_iter", "n_oversamples")}
        return arpack_svd(matrix, k, seed=seed, **options)
    raise ValueError(f"unknown SVD solver {solver!r}: use 'randomized' or 'arpack'")


@dataclass
class Factorization:
    """What `factorize` returns: W = U S^eig (`word_vectors`), C = V S^eig (`context_vectors`, or None when
    not asked for), the singular values S, and `residual` = 1 - sum S^2 / ||M||_F^2, the share of the
    PPMI matrix's squared norm the rank-d factors miss; `stats` counts and times the steps."""

    word_vectors: torch.Tensor
    singular_values: torch.Tensor
    residual: float
    context_vectors: torch.Tensor | None = None
    stats: dict = field(default_factory=dict)


def factorize(
    counts, config, *, seed: int = 0, device="cpu", with_context: bool | None = None
) -> Factorization:
    """PPMI (`config.cds`, `config.neg`) of the co-occurrence counts, truncated SVD of rank
    `config.vector_size` (`config.svd`, `n_iter`, `n_oversamples`), eigenvalue weighting `config.eig`.

    `with_context` (default: whether the config's model keeps the context table) also returns C.

    Example:
        >>> from hf_embeddings.models.svd.configuration_svd import SvdConfig
        >>> X = sp.csr_matrix(np.kron(np.eye(2), np.ones((3, 3))))  # two blocks of words that co-occur
        >>> f = factorize(X, SvdConfig(vocab_size=6, vector_size=2, cds=1.0), seed=0)
        >>> f.word_vectors.shape, round(f.residual, 6)  # rank 2 is the whole matrix
        (torch.Size([6, 2]), 0.0)
    """
    t0 = time.perf_counter()
    counts = sp.csr_matrix(counts)
    m = ppmi_matrix(counts, cds=config.cds, neg=config.neg)
    t1 = time.perf_counter()
    if m.nnz == 0:
        raise ValueError(
            "the PPMI matrix is empty (no word-context pair is more frequent than chance"
            + (f" after the log({config.neg:g}) shift" if config.neg > 1 else "")
            + "): the corpus is too small for these settings"
        )
    u, s, v = truncated_svd(
        m, config.vector_size, solver=config.svd, seed=seed, device=device, n_iter=config.n_iter,
        n_oversamples=config.n_oversamples,
    )  # fmt: skip
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
    t2 = time.perf_counter()
    weights = s.pow(config.eig) if config.eig != 0 else torch.ones_like(s)
    data = m.data.astype(np.float64)
    norm2 = float(np.dot(data, data))
    captured = float(s.double().pow(2).sum())
    residual = max(0.0, 1.0 - captured / norm2)
    if with_context is None:
        with_context = config.add_context or config.keep_context
    return Factorization(
        word_vectors=u * weights,
        singular_values=s,
        residual=residual,
        context_vectors=v * weights if with_context else None,
        stats={
            "cooccurrence_nonzeros": int(counts.nnz),
            "ppmi_nonzeros": int(m.nnz),
            "ppmi_seconds": t1 - t0,
            "svd_seconds": t2 - t1,
            "svd_solver": config.svd,
            "residual": residual,
        },
    )
