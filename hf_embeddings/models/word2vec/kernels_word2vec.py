"""CPU training kernel: gensim's / word2vec.c's whole per-sentence training loop, compiled with numba.

On a CPU the batched tensor path (`modeling_word2vec._NegativeSamplingLoss`) is bound by per-row gathers
and scatters of 100-float rows and per-op overhead, not by arithmetic; gensim's Cython loop touches each
row once per example with no intermediate tensors, and builds its examples on the fly. This module is
that loop. It takes a span of the corpus as token ids (`Word2VecSpans` hands it over untouched) and, in
compiled code, does what the C tool does per sentence:

1. frequent-word subsampling (gensim's keep probability per id);
2. a shrunk window per kept word, inside its sentence;
3. per example (skip-gram: each context word -> centre; CBOW: the context mean (or sum) -> centre), the
   word's Huffman path (hierarchical softmax) and/or `negative` noise words drawn from the
   unigram^0.75 alias table, with the SGD updates applied in place, with the MAX_EXP rule of word2vec.c
   and gensim (a score beyond +-6 gives no update; its loss still counts).

The rows of the noise words are prefetched as soon as they are drawn (and the next centre's output row
and the input row about to enter the window one position ahead): the tables are far larger than the L2
cache, and waiting for random rows is what bounds this loop (without the prefetches it ran, per thread,
at about gensim's speed; bench/word2vec_vs_gensim.py has the end-to-end figures). The learning rate
decays linearly across the span (from the step's rate to the next step's), so the schedule is per word
as in the C tool, whatever the batch size. The sigmoid and the loss come from an
interpolated table over [-MAX_EXP, MAX_EXP] (gensim uses a 1000-entry step table for the sigmoid and
computes no loss by default): interpolation error below 3e-7 per term, one multiply-add instead of an
exp and a log1p; beyond MAX_EXP the loss is computed exactly. The loss is summed in float64.

The span is cut into chunks of `CHUNK_WORDS` positions (windows stop at chunk edges, as gensim's stop at
its 10,000-word jobs); chunks are taken up by a pool of threads that update the shared tables without
locks ("Hogwild", as gensim's workers do). Each chunk's random stream depends only on the seed and its
position, so with one thread a run is bitwise reproducible; with more, the interleaving is not.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

try:
    import numba
except ImportError:  # optional: without numba the tensor path trains on the CPU too
    numba = None

#: training only (numba): never bundled as remote code, so loading a model needs no numba (hub/remote_code.py)
__training_only__ = True

MAX_EXP = 6.0
#: intervals of the sigmoid / loss table over [-MAX_EXP, MAX_EXP]
TABLE_SIZE = 4096
#: corpus positions per chunk (the unit of work of one thread)
CHUNK_WORDS = 8192


def available() -> bool:
    return numba is not None


def sigmoid_loss_table(size: int = TABLE_SIZE) -> np.ndarray:
    """(size, 4) float32: per interval of [-MAX_EXP, MAX_EXP], sigmoid(f) at its left end and its step,
    and -log sigmoid(f) at its left end and its step (for linear interpolation)."""
    f = np.linspace(-MAX_EXP, MAX_EXP, size + 1)
    sig = 1.0 / (1.0 + np.exp(-f))
    nll = np.logaddexp(0.0, -f)
    return np.stack([sig[:-1], np.diff(sig), nll[:-1], np.diff(nll)], axis=1).astype(np.float32)


_TABLE = sigmoid_loss_table()


if numba is not None:
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def _prefetch(typingctx, arr, row, col):
        """Hint the CPU to fetch the cache line holding arr[row, col] (llvm.prefetch: for writing, since the
        rows fetched are updated, high locality)."""

        def codegen(context, builder, sig, args):
            arrty = sig.args[0]
            ary = context.make_array(arrty)(context, builder, args[0])
            idx = [context.cast(builder, v, t, types.intp) for v, t in zip(args[1:], sig.args[1:])]
            ptr = cgutils.get_item_pointer(context, builder, arrty, ary, idx)
            i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), "llvm.prefetch.p0"
            )
            builder.call(
                fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 1), ir.Constant(i32, 3), ir.Constant(i32, 1)]
            )
            return context.get_dummy_value()

        return types.void(arr, row, col), codegen

    @numba.njit(cache=True, inline="always")
    def _prefetch_row(table, row):
        # the whole row (16 float32 = one 64-byte line per step): random rows of a table far larger than
        # the L2 cache are what the loop waits for; fetching them while other work runs hides that wait
        for col in range(0, table.shape[1], 16):
            _prefetch(table, row, col)

    @numba.njit(cache=True, inline="always")
    def _next(state):
        # xorshift64*
        x = state[0]
        x ^= x >> np.uint64(12)
        x ^= x << np.uint64(25)
        x ^= x >> np.uint64(27)
        state[0] = x
        return x * np.uint64(2685821657736338717)

    @numba.njit(cache=True, inline="always")
    def _seed_state(state, seed, stream):
        # splitmix64 of (seed, stream): nearby seeds and streams give unrelated sequences
        z = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(stream) * np.uint64(
            0xBF58476D1CE4E5B9
        )
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
        state[0] = z if z != np.uint64(0) else np.uint64(1)

    @numba.njit(cache=True, inline="always")
    def _draw(state, accept, alias):
        # alias method: the high 32 bits pick the bucket (multiply-shift, not a division), the low 32 bits
        # are the coin
        r = _next(state)
        i = np.int64(((r >> np.uint64(32)) * np.uint64(accept.shape[0])) >> np.uint64(32))
        u = np.float64(r & np.uint64(0xFFFFFFFF)) / 4294967296.0
        return i if u < accept[i] else alias[i]

    @numba.njit(cache=True, fastmath=True, inline="always")
    def _train_target(h, syn1, t, label, alpha, neu1e, d, table):
        """One (hidden, target) example: returns its loss; adds its error to neu1e, updates syn1[t]."""
        f = np.float32(0.0)
        for j in range(d):
            f += h[j] * syn1[t, j]
        if f <= -MAX_EXP or f >= MAX_EXP:  # no update (word2vec.c); the loss, exactly
            z = f if label > 0 else -f
            return math.log1p(math.exp(-abs(z))) + (0.0 if z >= 0 else -z)
        x = (f + MAX_EXP) * (TABLE_SIZE / (2 * MAX_EXP))
        i = min(int(x), TABLE_SIZE - 1)
        r = x - i
        sig = table[i, 0] + r * table[i, 1]
        nll = table[i, 2] + r * table[i, 3]  # -log sigmoid(f); -log sigmoid(-f) = that + f
        g = np.float32((label - sig) * alpha)
        for j in range(d):
            neu1e[j] += g * syn1[t, j]
            syn1[t, j] += g * h[j]
        return np.float64(nll) if label > 0 else np.float64(nll) + f

    @numba.njit(cache=True, fastmath=True, inline="always")
    def _train_example(
        h,
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
        table,
        negs,
    ):
        """One input vector h against its target word: the Huffman path (hs) and/or `negative` draws
        (into the buffer `negs`)."""
        loss = 0.0
        for i in range(lengths[centre]):
            loss += _train_target(
                h, syn1hs, points[centre, i], 1.0 - codes[centre, i], alpha, neu1e, d, table
            )
        if negative > 0:
            for k in range(negative):  # draw first, so the rows are on their way during the positive
                negs[k] = _draw(state, accept, alias)
                _prefetch_row(syn1, negs[k])
            loss += _train_target(h, syn1, centre, 1.0, alpha, neu1e, d, table)
            for k in range(negative):
                t = negs[k]
                if t == centre:  # as word2vec.c: a draw of the target itself is skipped
                    continue
                loss += _train_target(h, syn1, t, 0.0, alpha, neu1e, d, table)
        return loss

    @numba.njit(cache=True, nogil=True, fastmath=True)
    def _train_chunk(
        syn0,
        syn1,
        syn1hs,
        tokens,
        sentences,
        keep,
        accept,
        alias,
        negative,
        codes,
        points,
        lengths,
        window,
        shrink,
        alpha0,
        alpha1,
        skipgram,
        cbow_mean,
        table,
        seed,
        first,
        last,
    ):
        """Positions first .. last-1 of the span: subsample, window, train. Releases the GIL, so several
        threads run it at once on different chunks (Hogwild on the shared tables)."""
        state = np.empty(1, np.uint64)
        _seed_state(state, seed, first)
        n = last - first
        ids = np.empty(n, np.int32)
        sid = np.empty(n, np.int32)
        lr = np.empty(n, np.float32)
        total = tokens.shape[0]
        m = 0
        for p in range(first, last):
            w = tokens[p]
            k = keep[w]
            if k < 1.0:
                u = np.float64(_next(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
                if u >= k:
                    continue
            ids[m] = w
            sid[m] = sentences[p]
            lr[m] = alpha0 + (alpha1 - alpha0) * (p / total)
            m += 1
        d = syn0.shape[1]
        neu1e = np.empty(d, np.float32)
        hidden = np.empty(d, np.float32)
        negs = np.empty(max(negative, 1), np.int64)
        loss = 0.0
        count = 0
        for i in range(m):
            b = (
                np.int64(((_next(state) >> np.uint64(32)) * np.uint64(window)) >> np.uint64(32))
                if shrink
                else 0
            )
            lo = max(i - window + b, 0)
            hi = min(i + window + 1 - b, m)
            centre = ids[i]
            if i + 1 < m and negative > 0:
                _prefetch_row(syn1, ids[i + 1])  # the next centre's output row
            if i + window + 1 < m:
                _prefetch_row(syn0, ids[i + window + 1])  # the input row entering the window next
            s = sid[i]
            alpha = lr[i]
            if skipgram:
                for j in range(lo, hi):
                    if j == i or sid[j] != s:
                        continue
                    w = ids[j]
                    neu1e[:] = 0.0
                    loss += _train_example(
                        syn0[w], syn1, syn1hs, centre, state, accept, alias, negative, codes, points, lengths,
                        alpha, neu1e, d, table, negs,
                    )  # fmt: skip
                    for q in range(d):
                        syn0[w, q] += neu1e[q]
                    count += 1
            else:
                n_ctx = 0
                hidden[:] = 0.0
                for j in range(lo, hi):
                    if j != i and sid[j] == s:
                        n_ctx += 1
                        for q in range(d):
                            hidden[q] += syn0[ids[j], q]
                if n_ctx == 0:
                    continue
                if cbow_mean:
                    inv = np.float32(1.0) / np.float32(n_ctx)
                    for q in range(d):
                        hidden[q] *= inv
                neu1e[:] = 0.0
                loss += _train_example(
                    hidden, syn1, syn1hs, centre, state, accept, alias, negative, codes, points, lengths,
                    alpha, neu1e, d, table, negs,
                )  # fmt: skip
                if not cbow_mean:  # gensim: the sum's error is shared out over the context words
                    for q in range(d):
                        neu1e[q] /= n_ctx
                for j in range(lo, hi):
                    if j != i and sid[j] == s:
                        for q in range(d):
                            syn0[ids[j], q] += neu1e[q]
                count += 1
        return loss, count


_EXECUTORS: dict[int, ThreadPoolExecutor] = {}


def _executor(threads: int) -> ThreadPoolExecutor:
    if threads not in _EXECUTORS:
        _EXECUTORS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="word2vec-kernel")
    return _EXECUTORS[threads]


def _np(t) -> np.ndarray:
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def train_span(
    weight_in,
    weight_out,
    tokens,
    sentence_ids,
    keep_probs,
    noise_accept,
    noise_alias,
    *,
    window: int,
    negative: int,
    learning_rate: float,
    learning_rate_end: float | None = None,
    skipgram: bool,
    cbow_mean: bool = True,
    shrink_windows: bool = True,
    seed: int = 0,
    threads: int = 1,
    hs_weight=None,
    hs_codes=None,
    hs_points=None,
    hs_lengths=None,
    chunk_words: int = CHUNK_WORDS,
) -> tuple[float, int]:
    """Train one span of the corpus in place on the float32 CPU tables; returns (summed loss, examples).

    `tokens` (N,) are in-vocabulary ids in corpus order, `sentence_ids` (N,) their sentence numbers (a
    window never crosses a change), `keep_probs` (V,) the subsampling keep probability per id. The rate
    goes linearly from `learning_rate` at the first position to `learning_rate_end` (default: the same)
    after the last. `negative` draws per example from the alias table (0: none); with `hs_weight` (the
    inner-node vectors) and the Huffman paths, the hierarchical-softmax terms too."""
    if numba is None:
        raise RuntimeError("the numba CPU kernel needs numba (pip install numba)")
    syn0, syn1 = _np(weight_in), _np(weight_out)
    if hs_weight is None:  # no tree: every word's path is empty
        syn1hs = np.zeros((1, syn0.shape[1]), np.float32)
        codes, points = np.zeros((1, 1), np.int8), np.zeros((1, 1), np.int32)
        lengths = np.zeros(syn0.shape[0], np.int32)
    else:
        syn1hs, codes, points, lengths = _np(hs_weight), _np(hs_codes), _np(hs_points), _np(hs_lengths)
    tokens = np.ascontiguousarray(_np(tokens), dtype=np.int32)
    sentences = np.ascontiguousarray(_np(sentence_ids), dtype=np.int32)
    if len(tokens) != len(sentences):
        raise ValueError(f"tokens ({len(tokens)}) and sentence_ids ({len(sentences)}) differ in length")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    end = learning_rate if learning_rate_end is None else learning_rate_end
    args = (
        syn0, syn1, syn1hs, tokens, sentences,
        np.ascontiguousarray(_np(keep_probs), dtype=np.float64),
        np.ascontiguousarray(_np(noise_accept), dtype=np.float64),
        np.ascontiguousarray(_np(noise_alias), dtype=np.int64),
        int(negative), codes, points, lengths, int(window), bool(shrink_windows),
        np.float32(learning_rate), np.float32(end), bool(skipgram), bool(cbow_mean), _TABLE,
        int(seed) & 0xFFFFFFFFFFFFFFF,
    )  # fmt: skip
    n = len(tokens)
    bounds = list(range(0, n, max(1, int(chunk_words)))) + [n]
    chunks = list(zip(bounds[:-1], bounds[1:]))
    threads = max(1, int(threads))
    if threads == 1 or len(chunks) < 2:
        results = [_train_chunk(*args, a, b) for a, b in chunks]
    else:  # like gensim's job queue: idle threads take the next chunk
        # queued alternately from the two halves of the span: threads running at the same time work on
        # distant text, so they less often update the same (topical) rows at once
        half = (len(chunks) + 1) // 2
        order = [k for pair in zip(range(half), range(half, 2 * half)) for k in pair if k < len(chunks)]
        pool = _executor(threads)
        results = [job.result() for job in [pool.submit(_train_chunk, *args, *chunks[k]) for k in order]]
    return float(sum(r[0] for r in results)), int(sum(r[1] for r in results))


def draw_noise(accept, alias, n: int, seed: int) -> np.ndarray:
    """`n` draws of the kernel's noise sampler (for tests: it must follow the alias table's distribution)."""
    if numba is None:
        raise RuntimeError("the numba CPU kernel needs numba (pip install numba)")
    return _draw_many(np.asarray(accept, np.float64), np.asarray(alias, np.int64), int(n), int(seed))


if numba is not None:

    @numba.njit(cache=True)
    def _draw_many(accept, alias, n, seed):
        state = np.empty(1, np.uint64)
        _seed_state(state, seed, 0)
        out = np.empty(n, np.int64)
        for i in range(n):
            out[i] = _draw(state, accept, alias)
        return out
