"""CPU training kernel: gensim's per-pair SGD inner loop, compiled with numba, over our batches.

On a CPU the batched tensor path (`modeling_word2vec._NegativeSamplingLoss`) is bound by per-row gathers
and scatters of 100-float rows and per-op overhead, not by arithmetic; gensim's Cython loop touches each
row once per pair with no intermediate tensors. This module is that loop: for every (context -> centre)
pair of a batch (skip-gram) or every centre and its context mean (CBOW), it draws `negative` noise
words from the unigram^0.75 alias table, computes the scores and applies the SGD updates in place, as
word2vec.c and gensim do (and, with hierarchical softmax, walks the word's Huffman path), including
their MAX_EXP rule (a score beyond +-6 gives no update). Blocks of
the batch are split between threads that update the shared tables without locks ("Hogwild", as gensim's
workers do), so with more than one thread runs are not bitwise reproducible; with one thread they are.

The batch layout is the one `Word2VecBatches` builds (blocks of B centres, U = B + 2*window context
slots, `pair_mask` (blocks, U, B)); the block's shared negatives are not used here: each example draws
its own, as in gensim.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

try:
    import numba
except ImportError:  # optional: without numba the tensor path trains on the CPU too
    numba = None

MAX_EXP = 6.0


def available() -> bool:
    return numba is not None


if numba is not None:

    @numba.njit(cache=True, fastmath=True, inline="always")
    def _draw(state, accept, alias):
        # xorshift64*; two 32-bit halves give the bucket and the coin of the alias method
        x = state[0]
        x ^= x >> np.uint64(12)
        x ^= x << np.uint64(25)
        x ^= x >> np.uint64(27)
        state[0] = x
        r = x * np.uint64(2685821657736338717)
        n = accept.shape[0]
        i = np.int64((r >> np.uint64(32)) % np.uint64(n))
        u = np.float64(r & np.uint64(0xFFFFFFFF)) / 4294967296.0
        return i if u < accept[i] else alias[i]

    @numba.njit(cache=True, fastmath=True, inline="always")
    def _train_target(h, syn1, t, label, alpha, neu1e, d):
        """One (hidden, target) example: returns its loss; adds its error to neu1e, updates syn1[t]."""
        f = np.float32(0.0)
        for j in range(d):
            f += h[j] * syn1[t, j]
        z = f if label > 0 else -f  # loss = -log sigmoid(z); one exp serves the loss and the gradient
        e = math.exp(-abs(z))
        loss = math.log1p(e) + (0.0 if z >= 0 else -z)
        if f <= -MAX_EXP or f >= MAX_EXP:
            return loss
        sig_f = 1.0 / (1.0 + e) if f >= 0 else e / (1.0 + e)
        g = np.float32((label - sig_f) * alpha)
        for j in range(d):
            neu1e[j] += g * syn1[t, j]
            syn1[t, j] += g * h[j]
        return loss

    @numba.njit(cache=True, fastmath=True, inline="always")
    def _train_example(
        h, syn1, syn1hs, centre, state, accept, alias, negative, codes, points, lengths, alpha, neu1e, d
    ):
        """One input vector h against its target word: the Huffman path (hs) and/or `negative` draws."""
        loss = 0.0
        for i in range(lengths[centre]):
            loss += _train_target(h, syn1hs, points[centre, i], 1.0 - codes[centre, i], alpha, neu1e, d)
        if negative > 0:
            loss += _train_target(h, syn1, centre, 1.0, alpha, neu1e, d)
            for _ in range(negative):
                t = _draw(state, accept, alias)
                if t == centre:
                    continue
                loss += _train_target(h, syn1, t, 0.0, alpha, neu1e, d)
        return loss

    @numba.njit(cache=True, nogil=True, fastmath=True)
    def _train_blocks(
        syn0,
        syn1,
        syn1hs,
        context,
        centres,
        pair_mask,
        accept,
        alias,
        negative,
        codes,
        points,
        lengths,
        alpha,
        skipgram,
        cbow_mean,
        seed,
        first,
        last,
        stream,
    ):
        """Blocks first .. last-1 of the batch, with random stream `stream` of `seed`; releases the GIL,
        so several threads run it at once on disjoint block ranges (Hogwild on the shared tables)."""
        U = context.shape[1]
        B = centres.shape[1]
        d = syn0.shape[1]
        state = np.empty(1, np.uint64)
        state[0] = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(stream)
        neu1e = np.empty(d, np.float32)
        hidden = np.empty(d, np.float32)
        loss = 0.0
        count = 0
        for g in range(first, last):
            for c in range(B):
                centre = centres[g, c]
                if skipgram:
                    for u in range(U):
                        if not pair_mask[g, u, c]:
                            continue
                        w = context[g, u]
                        neu1e[:] = 0.0
                        loss += _train_example(
                            syn0[w],
                            syn1,
                            syn1hs,
                            centre,
                            state,
                            accept,
                            alias,
                            negative,
                            codes,
                            points,
                            lengths,
                            alpha,
                            neu1e,
                            d,
                        )
                        for j in range(d):
                            syn0[w, j] += neu1e[j]
                        count += 1
                else:
                    n_ctx = 0
                    hidden[:] = 0.0
                    for u in range(U):
                        if pair_mask[g, u, c]:
                            n_ctx += 1
                            for j in range(d):
                                hidden[j] += syn0[context[g, u], j]
                    if n_ctx == 0:
                        continue
                    if cbow_mean:
                        for j in range(d):
                            hidden[j] /= n_ctx
                    neu1e[:] = 0.0
                    loss += _train_example(
                        hidden,
                        syn1,
                        syn1hs,
                        centre,
                        state,
                        accept,
                        alias,
                        negative,
                        codes,
                        points,
                        lengths,
                        alpha,
                        neu1e,
                        d,
                    )
                    if not cbow_mean:  # gensim: the sum's error is shared out over the context words
                        for j in range(d):
                            neu1e[j] /= n_ctx
                    for u in range(U):
                        if pair_mask[g, u, c]:
                            for j in range(d):
                                syn0[context[g, u], j] += neu1e[j]
                    count += 1
        return loss, count


_EXECUTORS: dict[int, ThreadPoolExecutor] = {}


def _executor(threads: int) -> ThreadPoolExecutor:
    if threads not in _EXECUTORS:
        _EXECUTORS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="word2vec-kernel")
    return _EXECUTORS[threads]


def train_batch(
    weight_in,
    weight_out,
    context,
    centres,
    pair_mask,
    noise_accept,
    noise_alias,
    *,
    negative: int,
    learning_rate: float,
    skipgram: bool,
    cbow_mean: bool,
    seed: int,
    threads: int,
    hs_weight=None,
    hs_codes=None,
    hs_points=None,
    hs_lengths=None,
) -> tuple[float, int]:
    """SGD over one batch, in place on the float32 CPU tables; returns (summed loss, examples).

    `negative` draws per example from the alias table (0: none); with `hs_weight` (the inner-node
    vectors) and the Huffman paths, the hierarchical-softmax terms too."""
    if numba is None:
        raise RuntimeError("the numba CPU kernel needs numba (pip install numba)")
    syn0 = weight_in.detach().numpy()
    syn1 = weight_out.detach().numpy()
    if hs_weight is None:  # no tree: every word's path is empty
        syn1hs = np.zeros((1, syn0.shape[1]), np.float32)
        codes, points = np.zeros((1, 1), np.int8), np.zeros((1, 1), np.int32)
        lengths = np.zeros(syn0.shape[0], np.int32)
    else:
        syn1hs = hs_weight.detach().numpy()
        codes, points, lengths = hs_codes.numpy(), hs_points.numpy(), hs_lengths.numpy()
    args = (
        syn0,
        syn1,
        syn1hs,
        np.ascontiguousarray(context.numpy()),
        np.ascontiguousarray(centres.numpy()),
        np.ascontiguousarray(pair_mask.numpy()),
        noise_accept.numpy(),
        noise_alias.numpy(),
        int(negative),
        codes,
        points,
        lengths,
        np.float32(learning_rate),
        bool(skipgram),
        bool(cbow_mean),
        int(seed) & 0xFFFFFFFFFFFF,
    )
    nb = args[3].shape[0]
    threads = max(1, int(threads))
    if threads == 1 or nb < 2 * threads:
        loss, n = _train_blocks(*args, 0, nb, 1)
        return float(loss), int(n)
    # like gensim's job queue: many small chunks that idle threads pick up, so one thread slowed down by
    # another process on its core delays one chunk, not the whole batch
    n_chunks = min(nb, threads * 8)
    bounds = np.linspace(0, nb, n_chunks + 1).astype(np.int64)
    pool = _executor(threads)
    jobs = [pool.submit(_train_blocks, *args, bounds[k], bounds[k + 1], 2 * k + 1) for k in range(n_chunks)]
    loss, n = 0.0, 0
    for job in jobs:
        part_loss, part_n = job.result()
        loss += part_loss
        n += part_n
    return float(loss), int(n)


def draw_noise(accept, alias, n: int, seed: int) -> np.ndarray:
    """`n` draws of the kernel's noise sampler (for tests: it must follow the alias table's distribution)."""
    if numba is None:
        raise RuntimeError("the numba CPU kernel needs numba (pip install numba)")
    return _draw_many(np.asarray(accept, np.float64), np.asarray(alias, np.int64), int(n), int(seed))


if numba is not None:

    @numba.njit(cache=True)
    def _draw_many(accept, alias, n, seed):
        state = np.empty(1, np.uint64)
        state[0] = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1)
        out = np.empty(n, np.int64)
        for i in range(n):
            out[i] = _draw(state, accept, alias)
        return out
