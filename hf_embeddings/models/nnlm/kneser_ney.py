"""Interpolated Kneser-Ney n-gram language model, vectorised with numpy (the NNLM's baseline).

The model (Kneser & Ney 1995; Chen & Goodman 1999, interpolated form), for order N and context h of
k - 1 words:

    P_k(w | h) = max(a_k(h w) - D_k(a_k(h w)), 0) / A_k(h)  +  gamma_k(h) * P_{k-1}(w | h')

where h' drops the oldest word of h, A_k(h) = sum_w a_k(h w), gamma_k(h) = sum_{w: a_k(h w) > 0}
D_k(a_k(h w)) / A_k(h), and a_k is the raw count c(h w) at the highest order (k = N) and the
continuation count N1+(. h w) (distinct words seen before h w) below it. A context never seen (A_k = 0)
defers to the lower order. The recursion ends in the unigram continuation distribution interpolated with
the uniform distribution over the predictable vocabulary (every id except `<s>` and `<pad>`), so every
word, seen or not, gets a non-zero probability and each P_k(. | h) sums to 1.

Discounts, per order: "modified" (Chen & Goodman's D1, D2, D3+ for counts 1, 2, >= 3, estimated from
the count-of-counts of a_k), "interpolated" (one D = n1 / (n1 + 2 n2) per order, the original KN
estimate), or fixed numbers.

Sentences are padded as the NNLM's windows are (`sentence_stream`): N - 1 `<s>` before, one `</s>` after,
which is a target; `<s>` is never predicted.

`nltk_compat=True` reproduces NLTK's `KneserNeyInterpolated` exactly (for validation only): NLTK pads
both ends with N - 1 symbols and counts every n-gram of the padded sentence, uses one fixed discount,
computes gamma's numerator from the raw count types of the context, and ends the recursion in the
undiscounted unigram continuation distribution.

Everything is vectorised: each k-gram gets an integer id from np.unique over (id of its first k - 1
words, last word) keys, so counts, context totals and lookups are bincounts and searchsorted calls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .data_nnlm import sentence_stream

DISCOUNT_METHODS = ("modified", "interpolated")


def _as_ids_offsets(corpus) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(corpus, "ids") and hasattr(corpus, "offsets"):
        return np.asarray(corpus.ids), np.asarray(corpus.offsets)
    sentences = [np.asarray(s, dtype=np.int64) for s in corpus]
    lengths = np.array([len(s) for s in sentences], dtype=np.int64)
    ids = np.concatenate(sentences) if sentences else np.zeros(0, np.int64)
    return ids, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def estimate_discounts(counts: np.ndarray, method: str) -> np.ndarray:
    """Discounts (D1, D2, D3+) from the count-of-counts of `counts` (the a_k of one order)."""
    n = np.bincount(np.minimum(counts[counts > 0], 5), minlength=6).astype(np.float64)
    n1, n2, n3, n4 = n[1], n[2], n[3], n[4]
    y = n1 / (n1 + 2 * n2) if n1 > 0 and n2 > 0 else 0.5
    if method == "interpolated":
        d = np.array([y, y, y])
    elif method == "modified":
        d = np.array(
            [
                1 - 2 * y * n2 / n1 if n1 > 0 else y,
                2 - 3 * y * n3 / n2 if n2 > 0 else y,
                3 - 4 * y * n4 / n3 if n3 > 0 else y,
            ]
        )
    else:
        raise ValueError(f"discount method must be one of {DISCOUNT_METHODS} or numbers, got {method!r}")
    # D_r must stay in (0, r]: > 0 keeps some mass for unseen words, <= r keeps every distribution normalised
    return np.clip(d, 1e-3, np.array([1.0, 2.0, 3.0]))


class KneserNeyLM:
    """Interpolated Kneser-Ney language model of order `order` over integer token ids.

    Args:
        order: N (3 = trigram).
        vocab_size: number of ids (the tokenizer's size).
        discount: "modified" (default), "interpolated", one number for every order, or a sequence of N
            numbers / (D1, D2, D3+) triples, lowest order first.
        bos_id, eos_id, pad_id: the tokenizer's `<s>`, `</s>`, `<pad>` ids.

    Example:
        >>> lm = KneserNeyLM(3, vocab_size=8).fit([[4, 5, 6], [4, 5, 7]])
        >>> round(lm.prob(6, [4, 5]) + lm.prob(7, [4, 5]), 3) < 1
        True
    """

    def __init__(
        self,
        order: int,
        vocab_size: int,
        *,
        discount: str | float | Sequence = "modified",
        bos_id: int = 2,
        eos_id: int = 3,
        pad_id: int = 1,
        nltk_compat: bool = False,
    ):
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        self.order = int(order)
        self.vocab_size = int(vocab_size)
        self.discount = discount
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.nltk_compat = bool(nltk_compat)
        self.fitted = False

    # ---------------------------------------------------------------------------------------------- fit
    def fit(self, corpus) -> KneserNeyLM:
        """Count a corpus: a `TokenizedCorpus` or a list of id sequences (one per sentence)."""
        ids, offsets = _as_ids_offsets(corpus)
        N, V = self.order, self.vocab_size
        if len(ids) and (ids.min() < 0 or ids.max() >= V):
            raise ValueError(f"token ids must be in [0, {V}), got [{ids.min()}, {ids.max()}]")
        compat = self.nltk_compat
        stream, targets, starts = sentence_stream(
            ids,
            offsets,
            N - 1,
            bos_id=self.bos_id,
            eos_id=self.eos_id,
            eos_count=max(N - 1, 1) if compat else 1,
            keep_empty=compat,
        )
        depth = np.arange(len(stream)) - starts  # position inside the padded sentence
        if compat:  # NLTK counts every n-gram of the padded sentence
            counted = np.ones(len(stream), dtype=bool)
        else:
            counted = np.zeros(len(stream), dtype=bool)
            counted[targets] = True
        # ids[k][p]: id of the k-gram ending at stream position p (-1 where it would leave the sentence)
        self._keys: list[np.ndarray] = [np.zeros(1, np.int64)]  # sorted keys of each order's types
        gram = [np.zeros(len(stream), np.int64)]
        for k in range(1, N + 1):
            valid = depth >= k - 1
            # (k-1)-gram ending at p - 1 (the empty gram, id 0, for unigrams)
            prev = gram[0] if k == 1 else np.concatenate([[-1], gram[k - 1][:-1]])
            key = prev * V + stream
            keys = np.unique(key[valid])
            g = np.full(len(stream), -1, np.int64)
            g[valid] = np.searchsorted(keys, key[valid])
            self._keys.append(keys)
            gram.append(g)
        self._a, self._total, self._gamma_num, self._disc = [None], [None], [None], [None]
        for k in range(1, N + 1):
            n_types = len(self._keys[k])
            if k == N:  # raw counts
                pos = counted & (gram[k] >= 0)
                a = np.bincount(gram[k][pos], minlength=n_types)
            else:  # continuation counts: distinct (k+1)-gram types per k-gram suffix
                pos = counted & (gram[k + 1] >= 0)
                uniq, first = np.unique(gram[k + 1][pos], return_index=True)
                a = np.bincount(gram[k][pos][first], minlength=n_types)
            disc = self._discounts(k, a)
            ctx = self._keys[k] // V  # id of each type's context, in the (k-1)-gram id space
            n_ctx = len(self._keys[k - 1])
            total = np.bincount(ctx, weights=a, minlength=n_ctx)
            if compat:
                raw_seen = np.zeros(n_types, dtype=bool)
                raw_seen[gram[k][counted & (gram[k] >= 0)]] = True
                gamma_num = disc[0] * np.bincount(ctx[raw_seen], minlength=n_ctx)
            else:
                d_of_type = np.where(a > 0, disc[np.clip(a, 1, 3) - 1], 0.0)
                gamma_num = np.bincount(ctx, weights=d_of_type, minlength=n_ctx)
            self._a.append(a)
            self._total.append(total)
            self._gamma_num.append(gamma_num)
            self._disc.append(disc)
        predictable = np.ones(V, dtype=bool)
        predictable[[self.bos_id, self.pad_id]] = False
        self._num_predictable = int(predictable.sum())
        self._predictable = predictable
        self.num_train_targets = len(targets)
        self.fitted = True
        return self

    def _discounts(self, k: int, a: np.ndarray) -> np.ndarray:
        spec = self.discount
        if self.nltk_compat:
            d = 0.0 if k == 1 else float(spec if not isinstance(spec, str) else 0.1)
            return np.array([d, d, d])
        if isinstance(spec, str):
            return estimate_discounts(a, spec)
        if isinstance(spec, (int, float)):
            return np.full(3, float(spec))
        item = spec[k - 1]
        return np.full(3, float(item)) if np.ndim(item) == 0 else np.asarray(item, dtype=np.float64)

    @property
    def discounts(self) -> list[np.ndarray]:
        """The (D1, D2, D3+) of each order, lowest first."""
        self._check_fitted()
        return [d.copy() for d in self._disc[1:]]

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError("call fit() first")

    # -------------------------------------------------------------------------------------------- score
    def _lookup(self, k: int, prefix_id: np.ndarray, word: np.ndarray) -> np.ndarray:
        """Id of the k-gram (prefix, word) among the training types, or -1."""
        keys = self._keys[k]
        key = prefix_id * self.vocab_size + word
        idx = np.searchsorted(keys, key)
        idx_c = np.minimum(idx, len(keys) - 1)
        found = (prefix_id >= 0) & (keys[idx_c] == key)
        return np.where(found, idx_c, -1)

    def window_log_probs(self, windows: np.ndarray) -> np.ndarray:
        """Natural-log probability of the last column of each row given the columns before it:
        windows (Q, L) int ids, L >= 1; only the last N - 1 context columns are used."""
        self._check_fitted()
        windows = np.asarray(windows, dtype=np.int64)
        if windows.ndim != 2 or windows.shape[1] < 1:
            raise ValueError(f"windows must be (queries, context + 1), got shape {windows.shape}")
        N = self.order
        if windows.shape[1] < N:  # short context: the sentence start is <s> padding
            pad = np.full((len(windows), N - windows.shape[1]), self.bos_id, np.int64)
            windows = np.concatenate([pad, windows], axis=1)
        windows = windows[:, -N:]
        if windows.min(initial=0) < 0 or windows.max(initial=0) >= self.vocab_size:
            raise ValueError(f"token ids must be in [0, {self.vocab_size})")
        Q = len(windows)
        word = windows[:, -1]
        # ctx[j]: id of the j-gram made of the last j context words (j = 0 .. N-1), built oldest first
        ctx = [np.zeros(Q, np.int64)]
        for j in range(1, N):
            g = np.zeros(Q, np.int64)  # the empty gram
            for i in range(j):  # extend with context word N-1-j+i (0-based column), i.e. the last j columns
                col = windows[:, N - 1 - j + i]
                g = self._lookup(i + 1, g, col)
            ctx.append(g)
        a1 = self._a[1]
        w1 = self._lookup(1, np.zeros(Q, np.int64), word)
        a = np.where(w1 >= 0, a1[np.maximum(w1, 0)], 0).astype(np.float64)
        total1 = self._total[1][0]
        d = self._disc[1]
        if self.nltk_compat:
            p = a / total1
        else:
            disc = np.where(a > 0, d[np.clip(a, 1, 3).astype(np.int64) - 1], 0.0)
            uniform = self._predictable[word] / self._num_predictable
            p = np.maximum(a - disc, 0) / total1 + self._gamma_num[1][0] / total1 * uniform
        for k in range(2, N + 1):
            h = ctx[k - 1]
            seen = h >= 0
            hs = np.maximum(h, 0)
            total = np.where(seen, self._total[k][hs], 0.0)
            seen &= total > 0
            gid = self._lookup(k, np.where(seen, h, -1), word)
            a = np.where(gid >= 0, self._a[k][np.maximum(gid, 0)], 0).astype(np.float64)
            dk = self._disc[k]
            disc = (
                np.where(a > 0, dk[np.clip(a, 1, 3).astype(np.int64) - 1], 0.0)
                if not self.nltk_compat
                else dk[0]
            )
            safe = np.where(seen, total, 1.0)
            alpha = np.maximum(a - disc, 0) / safe
            gamma = self._gamma_num[k][hs] / safe
            p = np.where(seen, alpha + gamma * p, p)
        with np.errstate(divide="ignore"):
            return np.log(p)

    def prob(self, word: int, context: Sequence[int] = ()) -> float:
        """P(word | context), context oldest first (only the last N - 1 ids are used)."""
        row = np.asarray([*list(context), word], dtype=np.int64)[None, :]
        return float(math.exp(self.window_log_probs(row)[0]))

    def log_probs(self, corpus) -> np.ndarray:
        """Natural-log probability of every target of `corpus` (each word and each sentence's `</s>`,
        in corpus order, as the NNLM's windows enumerate them)."""
        ids, offsets = _as_ids_offsets(corpus)
        n = self.order - 1
        stream, targets, _ = sentence_stream(ids, offsets, n, bos_id=self.bos_id, eos_id=self.eos_id)
        out = np.empty(len(targets), np.float64)
        step = 1 << 20
        for lo in range(0, len(targets), step):
            t = targets[lo : lo + step]
            out[lo : lo + step] = self.window_log_probs(stream[t[:, None] + np.arange(-n, 1)])
        return out

    def perplexity(self, corpus) -> float:
        """exp(mean negative log-likelihood) over the targets of `corpus`."""
        lp = self.log_probs(corpus)
        return float(math.exp(-math.fsum(lp) / len(lp))) if len(lp) else float("nan")
