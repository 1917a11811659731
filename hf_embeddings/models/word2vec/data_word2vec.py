"""Word2Vec training data: corpus spans for the compiled CPU kernel, or batches vectorised in torch.

On a CPU with numba, `Word2VecSpans` hands the compiled kernel (`kernels_word2vec`) plain spans of token
ids, and the kernel subsamples, windows and trains them as gensim's Cython loop does. Everywhere else
(GPU, or `cpu_kernel="torch"`), `Word2VecBatches` builds the examples with tensor ops, on the device:

One batch covers a fixed span of `words_per_batch` in-vocabulary corpus positions (so the learning-rate
schedule, which decays per step, decays per word as gensim's does). Per span:

1. frequent-word subsampling with gensim's keep probability (sqrt(c / (s*T)) + 1) * (s*T) / c;
2. a shrunk ("dynamic") window per centre word: window - randint(window), inside its sentence;
3. the kept positions are cut into blocks of `block_size` consecutive centre words. A block carries its
   centres (`centres`, (blocks, B)), the positions around them (`context`, (blocks, B + 2*window): the
   centres plus `window` positions on each side), which of those pairs with which centre (`pair_mask`,
   (blocks, B + 2*window, B): inside the centre's shrunk window, same sentence, not itself) and
   `negatives_per_block` negatives from the unigram^ns_exponent distribution (alias method) that the
   block's examples share.

Skip-gram trains every (context -> centre) pair (the C tool's orientation: the context word's input
vector against the centre word's output vector), CBOW every centre against its averaged context, exactly
the pairs and windows gensim trains. Sharing negatives within a small block (as Ji et al. 2016,
"Parallelizing Word2Vec in Shared and Distributed Memory", and BlazingText share them within a window)
turns the work into small dense matrix products, reads each input row (B + 2*window) / B times instead
of 2*window times, and with each negative weighted negative / negatives_per_block keeps the expected
update of gensim's independent negatives.

Everything is a handful of tensor ops per batch on the device given; on a CPU (cpu_kernel="torch") the
family builds them in a DataLoader worker, overlapping training. Batches are deterministic functions of
(seed, epoch, batch index).

Memory does not grow with the corpus: a span is cut from the token-id cache when it is asked for (the
raw positions it covers come from one in-vocabulary count per 65,536 positions, its sentence numbers
from the sentence offsets through `SentenceIndex`), read with `ArrayReader` copies, so neither the ids
nor per-token sentence numbers are ever held whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from ...text.corpus import ArrayReader, SentenceIndex, TokenizedCorpus
from ..family import BatchRanges, data_parallel_processes

#: training data only: never bundled as remote code (hub/remote_code.py)
__training_only__ = True

#: id of padding positions (they pair with nothing; any valid row id would do)
PAD_CONTEXT_ID = 0
#: raw corpus positions per in-vocabulary count kept in memory (8 bytes per 65,536 tokens)
RAW_BLOCK = 1 << 16


def keep_probabilities(counts: np.ndarray, sample: float, num_special: int) -> np.ndarray:
    """Return gensim's per-id probability of keeping a word occurrence (1 for rare words and sample=0)."""
    counts = counts.astype(np.float64)
    p = np.ones_like(counts)
    retain_total = counts[num_special:].sum()
    if sample > 0 and retain_total > 0:
        threshold = sample * retain_total
        c = np.maximum(counts, 1)
        p = np.minimum((np.sqrt(c / threshold) + 1) * threshold / c, 1.0)
    p[:num_special] = 0.0
    return p


def negative_distribution(counts: np.ndarray, exponent: float, num_special: int) -> np.ndarray:
    """Return the unigram^exponent distribution over ids (special tokens get no mass)."""
    w = counts.astype(np.float64) ** exponent
    w[:num_special] = 0.0
    total = w.sum()
    if total <= 0:
        raise ValueError("cannot build the negative-sampling table: every word count is zero")
    return w / total


def alias_table(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias table of a discrete distribution: draw i uniformly, keep it with probability
    `accept[i]`, else take `alias[i]`. Exact up to float64 rounding; O(1) per draw (two gathers)."""
    n = len(probs)
    scaled = np.asarray(probs, dtype=np.float64) * n
    accept = np.ones(n, dtype=np.float64)
    alias = np.arange(n, dtype=np.int64)
    small = [i for i in np.flatnonzero(scaled < 1.0).tolist()]
    large = [i for i in np.flatnonzero(scaled >= 1.0).tolist()]
    scaled_l = scaled.tolist()
    while small and large:
        s, big = small.pop(), large[-1]
        accept[s] = scaled_l[s]
        alias[s] = big
        scaled_l[big] -= 1.0 - scaled_l[s]
        if scaled_l[big] < 1.0:
            small.append(large.pop())
    # leftovers are 1 up to rounding; a zero-probability id must never be accepted
    accept[probs <= 0] = 0.0
    for i in small + large:
        if probs[i] > 0:
            accept[i] = 1.0
    return accept, alias


def huffman_tree(counts: np.ndarray, num_special: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """word2vec.c's Huffman tree over the words (ids >= num_special) by count, for hierarchical softmax.

    Returns `codes` (V, L) int8 (the branch bits from the root down), `points` (V, L) int32 (the inner
    nodes on that path, root first, numbered 0 .. n_words - 2 with the root last) and `lengths` (V,)
    int32; special tokens get an empty path. Ties are broken as word2vec.c does on a count-sorted
    vocabulary (two queues: the leaves by decreasing count, then the inner nodes as they are made)."""
    counts = np.asarray(counts, dtype=np.int64)
    V = len(counts)
    words = np.arange(num_special, V)
    n = len(words)
    codes = np.zeros((V, 1), np.int8)
    points = np.zeros((V, 1), np.int32)
    lengths = np.zeros(V, np.int32)
    if n < 2:
        return codes, points, lengths
    order = words[np.argsort(-counts[words], kind="stable")]  # leaf k = the k-th most frequent word
    count = np.concatenate([counts[order], np.full(n - 1, np.iinfo(np.int64).max // 4)]).tolist()
    parent = [0] * (2 * n - 1)
    binary = [0] * (2 * n - 1)
    pos1, pos2 = n - 1, n
    for a in range(n - 1):
        picked = []
        for _ in range(2):
            if pos1 >= 0 and count[pos1] < count[pos2]:
                picked.append(pos1)
                pos1 -= 1
            else:
                picked.append(pos2)
                pos2 += 1
        count[n + a] = count[picked[0]] + count[picked[1]]
        parent[picked[0]] = parent[picked[1]] = n + a
        binary[picked[1]] = 1
    root = 2 * n - 2
    paths = []
    for leaf in range(n):
        bits, nodes, b = [], [], leaf
        while b != root:
            bits.append(binary[b])
            b = parent[b]
            nodes.append(b - n)
        paths.append((bits[::-1], nodes[::-1]))
    L = max(len(bits) for bits, _ in paths)
    codes = np.zeros((V, L), np.int8)
    points = np.zeros((V, L), np.int32)
    for leaf, (bits, nodes) in enumerate(paths):
        w = order[leaf]
        lengths[w] = len(bits)
        codes[w, : len(bits)] = bits
        points[w, : len(nodes)] = nodes
    return codes, points, lengths


def _split_long_sentences(sent: np.ndarray, max_len: int) -> np.ndarray:
    """Sentence ids with sentences longer than `max_len` cut into pieces (gensim's MAX_WORDS_IN_BATCH):
    the reference construction over a whole in-vocabulary id array (the datasets cut spans instead)."""
    starts = np.flatnonzero(np.r_[True, sent[1:] != sent[:-1]])
    pos_in_sent = np.arange(len(sent)) - np.repeat(starts, np.diff(np.r_[starts, len(sent)]))
    piece = pos_in_sent // max_len
    key = sent.astype(np.int64) * (len(sent) // max_len + 2) + piece
    return np.r_[0, np.cumsum(key[1:] != key[:-1])].astype(np.int32)


@dataclass
class Word2VecBatchSpec:
    architecture: str
    window: int
    negative: int
    shrink_windows: bool


class Word2VecSpans(Dataset):
    """Map-style dataset whose item k is the k-th span of `words_per_batch` in-vocabulary corpus positions
    of the current epoch, untouched: what the compiled CPU kernel (`kernels_word2vec.train_span`) trains,
    subsampling and windowing included. Keys: `tokens` (N,) int32 ids, `sentence_ids` (N,) int32,
    `num_words`, `span_seed` (a function of seed, epoch and k) and the shared per-vocabulary tables
    (`keep_probs`, the alias table `noise_accept` / `noise_alias`, and with hierarchical softmax the Huffman
    paths `hs_codes` / `hs_points` / `hs_lengths`). Building an item is one read of its raw span from the
    cache (`span`), so no DataLoader worker is needed. Use with `per_device_train_batch_size=1` and `unwrap_batch` as the collator (what
    the family's `build_training_data` sets up). `set_epoch` changes the random draws.
    """

    def __init__(
        self,
        corpus: TokenizedCorpus,
        *,
        architecture: str,
        window: int,
        negative: int,
        sample: float,
        ns_exponent: float,
        hierarchical_softmax: bool = False,
        shrink_windows: bool = True,
        max_sentence_length: int = 10000,
        words_per_batch: int = 262144,
        seed: int = 0,
        processes: int | None = None,
    ):
        counts = corpus.tokenizer.word_counts
        if counts is None:
            raise ValueError(
                "the tokenizer has no word counts: build it with load_corpus or WordTokenizer.train"
            )
        ns = corpus.tokenizer.num_special_tokens
        corpus = corpus.standalone()  # a split part: its own (gathered) arrays
        self.num_special = ns
        self._ids = corpus.id_reader()
        self._offsets = ArrayReader(corpus.offsets)
        self._sentences = SentenceIndex(corpus)  # unit = token position: locate() gives its sentence
        # in-vocabulary positions before every RAW_BLOCK-th raw position (gensim drops OOV words before
        # windowing): one chunked pass, 8 bytes per block
        kept = [np.zeros(1, np.int64)]
        for _, chunk in self._ids.chunks(16 * RAW_BLOCK):
            inside = (chunk >= ns).astype(np.int64)
            kept.append(np.add.reduceat(inside, np.arange(0, len(inside), RAW_BLOCK)))
        self._kept_before = np.cumsum(np.concatenate(kept))
        self.max_sentence_length = int(max_sentence_length)
        self._split = self._sentences.max_length > self.max_sentence_length
        self.spec = Word2VecBatchSpec(architecture, window, negative, shrink_windows)
        self.words_per_batch = int(words_per_batch)
        if self.words_per_batch < 1:
            raise ValueError(f"words_per_batch must be >= 1, got {words_per_batch}")
        self.seed = int(seed)
        # shared memory: a persistent DataLoader worker sees the epoch the trainer sets in the main process
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()
        self.num_words = int(self._kept_before[-1])
        # several processes: a number of spans they share out evenly (no span trained twice an epoch)
        self._spans = BatchRanges(
            self.num_words, self.words_per_batch, processes or data_parallel_processes()
        )
        self.raw_words = int(corpus.num_tokens)
        probs = negative_distribution(counts, ns_exponent, ns)
        accept, alias = alias_table(probs)
        self._keep_p = torch.as_tensor(keep_probabilities(counts, sample, ns), dtype=torch.float32)
        self._accept = torch.as_tensor(accept, dtype=torch.float64)
        self._alias = torch.as_tensor(alias)
        self._hs = None
        if hierarchical_softmax:
            self._hs = tuple(torch.from_numpy(a) for a in huffman_tree(counts, ns))
        for t in (self._keep_p, self._accept, self._alias, *(self._hs or ())):
            t.share_memory_()  # every item carries them: DataLoader workers must not copy them per item

    @property
    def epoch(self) -> int:
        return int(self._epoch[0])

    def set_epoch(self, epoch: int) -> None:
        self._epoch[0] = int(epoch)

    def __len__(self) -> int:
        return len(self._spans)

    def _batch_seed(self, index: int) -> int:
        return ((self.seed * 1_000_003 + self.epoch) * 1_000_000_007 + index) % (2**62)

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self):
            raise IndexError(index)

    def span(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(in-vocabulary ids, sentence numbers) of span `index`, both int32: in-vocabulary positions
        index * words_per_batch onwards (several processes: an even share of the positions), cut from
        the cache. Sentence numbers are the corpus's (or, when sentences longer than
        `max_sentence_length` are cut into pieces, labels numbered from 0 within the span); only where
        they change matters, as windows never cross a change."""
        lo, hi = self._spans[index]
        if hi <= lo:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        kb = self._kept_before
        b0 = int(np.searchsorted(kb, lo, side="right")) - 1
        b1 = int(np.searchsorted(kb, hi, side="left"))
        raw_lo = b0 * RAW_BLOCK
        raw = self._ids.read(raw_lo, b1 * RAW_BLOCK)
        inside = raw >= self.num_special
        pos = np.flatnonzero(inside)[lo - int(kb[b0]) : hi - int(kb[b0])]
        tokens = raw[pos].astype(np.int32, copy=False)
        pos += raw_lo
        first, last = self._sentences.locate(pos[[0, -1]])[0]
        starts = self._offsets.read(first, last + 1).astype(np.int64, copy=False)
        local = np.searchsorted(starts, pos, side="right") - 1
        if not self._split:
            return tokens, (local + first).astype(np.int32)
        # pieces of max_sentence_length in-vocabulary words: a token's piece is its in-vocabulary rank
        # minus that of its sentence's start, divided by the length
        before = np.concatenate([[0], np.cumsum(inside)]) + kb[b0]  # in-vocabulary rank at raw_lo + j
        start_rank = before[np.clip(starts - raw_lo, 0, len(raw))]
        if starts[0] < raw_lo:  # the first sentence began in an earlier block
            b = int(starts[0]) // RAW_BLOCK
            head = self._ids.read(b * RAW_BLOCK, int(starts[0]))
            start_rank[0] = kb[b] + int((head >= self.num_special).sum())
        piece = (lo + np.arange(len(pos)) - start_rank[local]) // self.max_sentence_length
        change = (local[1:] != local[:-1]) | (piece[1:] != piece[:-1])
        return tokens, np.concatenate([[0], np.cumsum(change)]).astype(np.int32)

    def _tables(self) -> dict[str, torch.Tensor]:
        hs = {} if self._hs is None else dict(zip(("hs_codes", "hs_points", "hs_lengths"), self._hs))
        return {"noise_accept": self._accept, "noise_alias": self._alias, **hs}

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        self._check_index(index)
        tokens, sentences = self.span(index)
        tokens = torch.from_numpy(tokens)
        return {
            "tokens": tokens,
            "sentence_ids": torch.from_numpy(sentences),
            "keep_probs": self._keep_p,
            "num_words": torch.tensor(len(tokens)),
            "span_seed": torch.tensor(self._batch_seed(index)),
            **self._tables(),
        }


class Word2VecBatches(Word2VecSpans):
    """Map-style dataset whose item k is the k-th training batch of the current epoch, as blocks (the
    tensor path's layout, GPU or CPU without the compiled kernel; a dict of tensors).

    Item keys (see the module docstring): `context` (blocks, B + 2*window) ids, `centres` (blocks, B)
    ids, `pair_mask` (blocks, B + 2*window, B) bool, `negatives` (blocks, negatives_per_block) ids and
    `num_words` (in-vocabulary corpus words the batch covers, before subsampling). Padding (past the
    last kept word, or outside the batch) has id `PAD_CONTEXT_ID` and pairs with nothing. Use with
    `per_device_train_batch_size=1` and `unwrap_batch` as the collator (what the family's
    `build_training_data` sets up). `set_epoch` changes the random draws.
    """

    def __init__(
        self,
        corpus: TokenizedCorpus,
        *,
        words_per_batch: int = 16384,
        block_size: int = 8,
        negatives_per_block: int | None = None,
        device: str | torch.device = "cpu",
        **options,
    ):
        super().__init__(corpus, words_per_batch=words_per_batch, **options)
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        self.block_size = int(block_size)
        self.negatives_per_block = int(negatives_per_block or max(self.spec.negative, 1))
        self.device = torch.device(device)
        self._on_device = False

    def to(self, device: str | torch.device) -> Word2VecBatches:
        """Generate batches on `device` (the per-vocabulary tables live there; each span is copied over)."""
        self.device = torch.device(device)
        self._on_device = False
        return self

    def _materialize(self) -> None:
        if not self._on_device:
            for name in ("_keep_p", "_accept", "_alias"):
                setattr(self, name, getattr(self, name).to(self.device))
            self._on_device = True

    def _generator(self, index: int) -> torch.Generator:
        g = torch.Generator(device=self.device)
        g.manual_seed(self._batch_seed(index))
        return g

    def sample_negatives(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """Draw ids from the unigram^ns_exponent distribution (alias method)."""
        self._materialize()
        n = len(self._accept)
        i = torch.randint(0, n, shape, generator=generator, device=self.device)
        u = torch.rand(shape, generator=generator, device=self.device, dtype=torch.float64)
        return torch.where(u < self._accept[i], i, self._alias[i])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        self._check_index(index)
        self._materialize()
        dev = self.device
        g = self._generator(index)
        tokens, sentences = self.span(index)
        ids = torch.from_numpy(tokens).to(dev).long()
        sent = torch.from_numpy(sentences).to(dev)
        n_words = len(ids)
        kept = torch.rand(n_words, generator=g, device=dev) < self._keep_p[ids]
        ids, sent = ids[kept], sent[kept]
        n, w, B = len(ids), self.spec.window, self.block_size
        if self.spec.shrink_windows:
            eff = w - torch.randint(0, w, (n,), generator=g, device=dev)
        else:
            eff = torch.full((n,), w, device=dev)
        nb = max(1, -(-n // B))
        # positions padded to whole blocks plus a halo of `window` on each side; padding belongs to no
        # sentence (-1), so it never pairs with anything
        ids_h = torch.full((nb * B + 2 * w,), PAD_CONTEXT_ID, dtype=ids.dtype, device=dev)
        sent_h = torch.full((nb * B + 2 * w,), -1, dtype=sent.dtype, device=dev)
        eff_p = torch.zeros(nb * B, dtype=eff.dtype, device=dev)
        ids_h[w : w + n] = ids
        sent_h[w : w + n] = sent
        eff_p[:n] = eff
        span = B + 2 * w
        context = ids_h.unfold(0, span, B)  # (nb, B+2w): block b's centres are slots w..w+B-1
        sent_u = sent_h.unfold(0, span, B)
        centres = context[:, w : w + B]
        sent_c = sent_u[:, w : w + B]
        # slot j is at distance |j - w - c| from centre c of the same block
        dist = (torch.arange(span, device=dev)[:, None] - w - torch.arange(B, device=dev)[None, :]).abs()
        pair_mask = (
            (sent_u[:, :, None] == sent_c[:, None, :])
            & (sent_c[:, None, :] >= 0)
            & (dist[None] > 0)
            & (dist[None] <= eff_p.view(nb, 1, B))
        )
        negatives = self.sample_negatives((nb, self.negatives_per_block), g)
        return {
            "context": context.contiguous(),
            "centres": centres.contiguous(),
            "pair_mask": pair_mask,
            "negatives": negatives,
            "num_words": torch.tensor(n_words, device=dev),
        }
