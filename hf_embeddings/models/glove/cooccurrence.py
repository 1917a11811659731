"""GloVe co-occurrence counting (Stanford `cooccur.c` semantics), vectorised and memory-bounded.

Semantics, as the reference tool:

- out-of-vocabulary words (ids below the tokenizer's special tokens, i.e. `<unk>`) are dropped before
  windowing: they do not occupy positions;
- the window never crosses a sentence (line) boundary;
- for every word w2 at position p and every word w1 at position p - d (1 <= d <= window) of the same
  sentence, X[w1, w2] += 1/d (or 1 without distance weighting); `symmetric` also adds X[w2, w1] += 1/d,
  so a word next to itself adds 2/d to the diagonal. The symmetric matrix is therefore A + A^T, where A
  is the left-context-only matrix, which is what is counted.

Implementation: the token stream is cut into chunks (sized from the `memory` budget, in GB like the C
tool's `-memory`). Per chunk, every (left word, right word, distance) triple becomes one int64 key
`((w1 * V + w2) << bits) | d`; one `np.sort` (vectorised) groups them and a run-length reduction sums
the weights per cell, giving a canonical CSR block. Weights are accumulated as exact integers
(`lcm(1..window) / d`, divided out at the end) whenever that cannot overflow, so the result does not
depend on the chunking at all; beyond that (huge windows) they are float64. Blocks are summed (CSR + CSR
is a linear merge); when the blocks held exceed half the budget they are merged and spilled to a
temporary `.npz`; at the end spilled files are merged pairwise (never more than two open at a time).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ...errors import FormatError
from ...files import atomic_file
from ...text.corpus import ArrayReader, SentenceIndex
from .configuration_glove import COOCCURRENCE_FILE

__all__ = ["Cooccurrence", "count_cooccurrences", "load_cooccurrence"]

FORMAT_VERSION = 1
#: bytes of working memory per (token, window slot) while counting a chunk (keys, sorted keys, weights ...)
_BYTES_PER_SLOT = 48
_MIN_CHUNK = 16
#: larger chunks sort slower (cache misses) and save nothing: measured on gcide, 2^18 is the sweet spot
_MAX_CHUNK = 1 << 18


@dataclass
class Cooccurrence:
    """A co-occurrence matrix as sorted COO arrays: X[rows[k], cols[k]] = values[k] (row-major order).

    Rows and columns are tokenizer ids (shape `vocab_size` x `vocab_size`; special-token rows are empty).

    Example:
        >>> from hf_embeddings.text.corpus import load_corpus
        >>> corpus = load_corpus(["the cat sat", "the cat"], min_count=1)
        >>> X = count_cooccurrences(corpus, window_size=2)
        >>> the, cat, sat = corpus.tokenizer.convert_tokens_to_ids(["the", "cat", "sat"])
        >>> float(X.to_scipy()[the, cat]), float(X.to_scipy()[sat, the])  # 1 at distance 1 (twice), 1/2 at 2
        (2.0, 0.5)
    """

    rows: np.ndarray  # int32
    cols: np.ndarray  # int32
    values: np.ndarray  # float32
    vocab_size: int
    window_size: int
    symmetric: bool
    distance_weighting: bool
    num_tokens: int = 0  # in-vocabulary tokens counted

    @property
    def nnz(self) -> int:
        return len(self.values)

    def to_scipy(self) -> sp.csr_matrix:
        """Return X as a scipy CSR matrix (float32)."""
        return sp.csr_matrix((self.values, (self.rows, self.cols)), shape=(self.vocab_size, self.vocab_size))

    def settings(self) -> dict:
        return {
            "window_size": self.window_size,
            "symmetric": self.symmetric,
            "distance_weighting": self.distance_weighting,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write an uncompressed `.npz` (atomically); returns its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path, "wb") as f:  # a killed run's partial file is removed by the next save
            self._write(f)
        return path

    def _write(self, f) -> None:
        np.savez(
            f,
            format_version=np.int64(FORMAT_VERSION),
            rows=self.rows,
            cols=self.cols,
            values=self.values,
            meta=np.array(
                [
                    self.vocab_size,
                    self.window_size,
                    int(self.symmetric),
                    int(self.distance_weighting),
                    self.num_tokens,
                ],
                dtype=np.int64,
            ),
        )


def load_cooccurrence(path: str | os.PathLike) -> Cooccurrence:
    """Read a matrix written by `Cooccurrence.save` (a file, or a model folder holding `cooccurrence.npz`)."""
    path = Path(path)
    if path.is_dir():
        path = path / COOCCURRENCE_FILE
    try:
        with np.load(path, allow_pickle=False) as z:
            version = int(z["format_version"])
            if version != FORMAT_VERSION:
                raise FormatError(f"unsupported co-occurrence format version {version}", path=path)
            rows, cols, values, meta = z["rows"], z["cols"], z["values"], z["meta"]
    except (OSError, KeyError, ValueError) as e:
        if isinstance(e, FormatError):
            raise
        raise FormatError(f"not a co-occurrence file ({type(e).__name__}: {e})", path=path) from None
    if not (len(rows) == len(cols) == len(values)) or len(meta) != 5:
        raise FormatError("inconsistent co-occurrence arrays", path=path)
    vocab, window, sym, dist, ntok = (int(x) for x in meta)
    return Cooccurrence(rows, cols, values, vocab, window, bool(sym), bool(dist), ntok)


# --------------------------------------------------------------------------------------------------------
# counting
# --------------------------------------------------------------------------------------------------------
def _weights(window: int, distance_weighting: bool, max_tokens: int) -> tuple[np.ndarray, int | None]:
    """Per-distance weights (index d) and the integer scale they carry (None: float64 weights 1/d)."""
    if not distance_weighting:
        w = np.ones(window + 1, dtype=np.int64)
        w[0] = 0
        return w, 1
    scale = math.lcm(*range(1, window + 1))
    # worst case for one cell: every slot of every token adds `scale` (x2 for the symmetric sum)
    if 2 * max(max_tokens, 1) * window * scale < 2**62:
        w = np.zeros(window + 1, dtype=np.int64)
        w[1:] = scale // np.arange(1, window + 1)
        return w, scale
    w = np.zeros(window + 1, dtype=np.float64)
    w[1:] = 1.0 / np.arange(1, window + 1)
    return w, None


def _chunks(
    corpus, num_special: int, chunk: int, window: int
) -> Iterator[tuple[np.ndarray, np.ndarray, int, int]]:
    """Yield (ids, clipped position-in-sentence, number of leading context-only tokens, tokens of the stream
    read so far) per chunk of the token stream with OOV words removed; each chunk is preceded by the last `window` kept tokens of the
    previous one, so every left context is available. The ids and the offsets of the chunk's sentences
    are read from the cache by copies (`ArrayReader`, `SentenceIndex`), never mapped whole."""
    reader = corpus.id_reader()
    offsets = ArrayReader(corpus.offsets)
    sentences = SentenceIndex(corpus)  # unit = token position: locate() gives its sentence
    pos_dtype = np.uint8 if window < 255 else np.int32
    prev_ids = np.zeros(0, np.int32)
    prev_pos = np.zeros(0, pos_dtype)
    prev_sid = -1
    for lo, raw in reader.chunks(chunk):
        kept = np.flatnonzero(raw >= num_special)
        if len(kept) == 0:
            yield np.zeros(0, np.int32), np.zeros(0, pos_dtype), 0, lo + len(raw)
            continue
        # sentence index of each kept token (offsets are sentence starts)
        first, last = sentences.locate(kept[[0, -1]] + lo)[0]
        sid = first + np.searchsorted(offsets.read(first, last + 1), kept + lo, side="right") - 1
        new = np.empty(len(kept), dtype=bool)
        new[0] = True
        np.not_equal(sid[1:], sid[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        pos = np.arange(len(kept), dtype=np.int64) - np.repeat(starts, np.diff(np.r_[starts, len(kept)]))
        if sid[0] == prev_sid:  # the first run continues the previous chunk's sentence
            pos[: starts[1] if len(starts) > 1 else len(kept)] += int(prev_pos[-1]) + 1
        pos = np.minimum(pos, window).astype(pos_dtype)
        all_ids = np.concatenate([prev_ids, raw[kept].astype(np.int32, copy=False)])
        all_pos = np.concatenate([prev_pos, pos])
        yield all_ids, all_pos, len(prev_ids), lo + len(raw)
        # the last `window` kept tokens (possibly from several chunks back) are the next chunk's context
        prev_ids, prev_pos, prev_sid = all_ids[-window:], all_pos[-window:], int(sid[-1])


def _count_block(
    ids: np.ndarray, pos: np.ndarray, start: int, window: int, vocab: int, weights: np.ndarray
) -> sp.csr_matrix:
    """Left-context counts of the tokens ids[start:] (contexts may reach back into ids[:start]) as CSR."""
    n = len(ids)
    bits = max(1, int(window).bit_length())
    parts = []
    for d in range(1, window + 1):
        a = max(start, d)
        if a >= n:
            break
        ok = pos[a:] >= d
        key = ids[a - d : n - d][ok].astype(np.int64)
        key *= vocab
        key += ids[a:][ok]
        key <<= bits
        key |= d
        parts.append(key)
    if not parts:
        return sp.csr_matrix((vocab, vocab), dtype=weights.dtype)
    keys = np.concatenate(parts)
    del parts
    keys.sort()
    w = weights[keys & ((1 << bits) - 1)]
    keys >>= bits
    first = np.empty(len(keys), dtype=bool)
    if len(keys):
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    values = np.add.reduceat(w, starts) if len(starts) else w[:0]
    cells = keys[starts]
    rows = cells // vocab
    cols = (cells - rows * vocab).astype(np.int32)
    indptr = np.zeros(vocab + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=vocab), out=indptr[1:])
    return sp.csr_matrix((values, cols, indptr), shape=(vocab, vocab))


def _nbytes(m: sp.csr_matrix) -> int:
    return m.data.nbytes + m.indices.nbytes + m.indptr.nbytes


def _tree_sum(blocks: list) -> sp.csr_matrix:
    """Sum CSR blocks pairwise (balanced, so each entry is merged O(log k) times), dropping each pair
    from `blocks` once summed so that the sums never sit beside all of their operands."""
    while len(blocks) > 1:
        nxt = []
        for i in range(0, len(blocks) - 1, 2):
            nxt.append(blocks[i] + blocks[i + 1])
            blocks[i] = blocks[i + 1] = None
        if len(blocks) % 2:
            nxt.append(blocks[-1])
        blocks = nxt
    return blocks[0]


class _Partials:
    """Holds summed CSR blocks within a byte budget, spilling merged blocks to `.npz` files beyond it."""

    def __init__(self, budget: int, folder: Path):
        self.budget = budget
        self.folder = folder
        self.blocks: list[sp.csr_matrix] = []
        self.held = 0
        self.files: list[Path] = []
        self.spills = 0
        self.merges = 0

    def add(self, block: sp.csr_matrix) -> None:
        self.blocks.append(block)
        self.held += _nbytes(block)
        if self.held > self.budget:
            self._spill(self._merged())

    def _merged(self) -> sp.csr_matrix:
        self.merges += max(0, len(self.blocks) - 1)
        m = _tree_sum(self.blocks)
        self.blocks, self.held = [], 0
        return m

    def _spill(self, m: sp.csr_matrix) -> Path:
        path = self.folder / f"part-{self.spills:06d}.npz"
        sp.save_npz(path, m, compressed=False)
        self.files.append(path)
        self.spills += 1
        return path

    def result(self, vocab: int, dtype) -> sp.csr_matrix:
        """Merge everything pairwise: two operands loaded at a time, their sum spilled until the last level."""
        queue: list = list(self.files)
        if self.blocks:
            queue.append(self._merged())
        if not queue:
            return sp.csr_matrix((vocab, vocab), dtype=dtype)
        while len(queue) > 1:
            nxt = []
            for i in range(0, len(queue) - 1, 2):
                pair = queue[i : i + 2]
                queue[i] = queue[i + 1] = None  # (an in-memory operand is freed with its merge)
                a, b = (sp.load_npz(x) if isinstance(x, Path) else x for x in pair)
                for x in pair:
                    if isinstance(x, Path):
                        x.unlink()
                del pair
                m = a + b
                self.merges += 1
                del a, b
                # while more than one level is left to merge, merged matrices wait on disk: at most two
                # operands and their sum are in memory at a time, however many spills there were
                nxt.append(self._spill(m) if len(queue) > 3 else m)
                del m
            if len(queue) % 2:
                nxt.append(queue[-1])
            queue = nxt
        m = queue[0]
        return sp.load_npz(m) if isinstance(m, Path) else m


def count_cooccurrences(
    corpus,
    *,
    window_size: int = 10,
    symmetric: bool = True,
    distance_weighting: bool = True,
    memory: float = 4.0,
    tmp_dir: str | os.PathLike | None = None,
    stats: dict | None = None,
    show_progress: bool = False,
) -> Cooccurrence:
    """Return the co-occurrence matrix of a `TokenizedCorpus` (Stanford `cooccur.c` semantics).

    `memory` is a soft limit in GB for the counting work (chunk size and spilling), as the C tool's
    `-memory`; the final matrix itself is returned in memory. `stats`, if given, receives counters
    (chunks, spills, merges, seconds). `show_progress` draws a bar over the corpus's tokens.

    Example:
        >>> from hf_embeddings.text.corpus import load_corpus
        >>> X = count_cooccurrences(load_corpus(["a b c", "b c a"], min_count=1), window_size=2)
        >>> X.nnz, X.vocab_size  # every pair of the 3 words, both ways; 4 special tokens + 3 words
        (6, 7)
    """
    if not isinstance(window_size, int) or isinstance(window_size, bool) or window_size < 1:
        raise ValueError(f"window_size must be a positive integer, got {window_size!r}")
    if not memory > 0:
        raise ValueError(f"memory must be > 0 (GB), got {memory!r}")
    t0 = time.perf_counter()
    tok = corpus.tokenizer
    vocab = len(tok)
    ns = getattr(tok, "num_special_tokens", 4)
    corpus = corpus.standalone()  # a split part: its own (gathered) arrays
    n = corpus.num_tokens
    if (vocab * vocab) << max(1, window_size.bit_length()) >= 2**63:
        raise ValueError(f"a vocabulary of {vocab} ids is too large to count (at most ~2^29 ids)")
    weights, scale = _weights(window_size, distance_weighting, n)
    budget = int(memory * 2**30)
    chunk = min(_MAX_CHUNK, max(_MIN_CHUNK, budget // (4 * _BYTES_PER_SLOT * window_size)))
    folder = Path(tempfile.mkdtemp(prefix="hfe-cooccur-", dir=tmp_dir))
    parts = _Partials(budget // 2, folder)
    chunks = kept = 0
    progress = None
    if show_progress:
        from tqdm.auto import tqdm

        progress = tqdm(total=n, unit="tok", unit_scale=True, desc="counting co-occurrences", leave=False)
    try:
        for ids, pos, start, read in _chunks(corpus, ns, chunk, window_size):
            if len(ids) > start:
                parts.add(_count_block(ids, pos, start, window_size, vocab, weights))
                chunks += 1
                kept += len(ids) - start
            if progress is not None:
                progress.update(read - progress.n)
        if progress is not None:
            progress.set_description("merging co-occurrence counts")
        a = parts.result(vocab, weights.dtype)
    finally:
        if progress is not None:
            progress.close()
        shutil.rmtree(folder, ignore_errors=True)
    x = (a + a.T.tocsr()) if symmetric else a
    del a
    x = x.tocsr()
    x.sum_duplicates()  # canonical: sorted columns within each row
    values = x.data.astype(np.float64) / scale if scale is not None else x.data
    rows = np.repeat(np.arange(vocab, dtype=np.int32), np.diff(x.indptr))
    result = Cooccurrence(
        rows=rows,
        cols=x.indices.astype(np.int32, copy=False),
        values=values.astype(np.float32),
        vocab_size=vocab,
        window_size=window_size,
        symmetric=bool(symmetric),
        distance_weighting=bool(distance_weighting),
        num_tokens=kept,
    )
    if stats is not None:
        stats.update(
            chunks=chunks,
            chunk_tokens=chunk,
            spills=parts.spills,
            merges=parts.merges,
            exact_integer_weights=scale is not None,
            seconds=time.perf_counter() - t0,
        )
    return result
