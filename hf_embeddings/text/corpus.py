"""Corpora: any text source -> a tokenized corpus (flat int32 token ids + sentence offsets), cached on disk.

`load_corpus` accepts a text file or folder (one sentence/paragraph per line; plain, .gz, .bz2, .xz), a
list of strings, a `datasets` dataset (streaming ones too), a Hub dataset name, or None / "default" for
the bundled corpus. Without a tokenizer it builds the vocabulary (and word counts) in the same single pass
that encodes the text; with one it only encodes. Token ids are cached as a flat memory-mapped array keyed
by the source's fingerprint and the tokenizer settings, so epochs and later runs never re-tokenize.

Memory does not grow with the number of tokens: building merges each batch's distinct words into one
running word -> id map (it grows with the distinct words only) and writes ids and offsets to the cache as
it goes; training data reads the cache through `ArrayReader` (copies of ranges, gathers whose mapped
pages are dropped afterwards: pages a process has touched in a memory map count in its resident set) and
`SentenceIndex` (one count per block of sentences in memory), and `split` parts share their corpus's ids.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap  # (np.memmap's mapping type: to find a memmap's file)
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorpusError
from ..files import remove_stale_temporaries, temporary_path
from .sources import DECOMPRESSION_ERRORS, is_repo_id, open_compressed, public_name
from .tokenization import (
    SPECIAL_TOKENS,
    VocabularyRule,
    WordTokenizer,
    build_backend,
    fast_splitter,
    finalize_vocabulary,
    split_at_newlines,
)

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parents[1] / "data"  # hf_embeddings/data: the bundled corpus
DEFAULT_CORPUS = DATA_DIR / "wiki-sample.txt.xz"
DEFAULT_CORPUS_NAME = "default"
CACHE_FORMAT_VERSION = 3  # 3: meta.json holds checksums of the small files
_BATCH_BYTES = 4 << 20  # lines are read and tokenized in ~4 MB batches
#: elements per chunk of a sequential pass over a cache array (16 MB of int32 ids)
READ_CHUNK = 1 << 22
#: sentences per chunk of a pass over the offsets (a few MB of temporaries, whatever the corpus)
SENTENCE_CHUNK = 1 << 16


def cache_root() -> Path:
    """Folder of the token-id caches: $HF_EMBEDDINGS_CACHE, else $HF_HOME/hf_embeddings, else ~/.cache/..."""
    if os.environ.get("HF_EMBEDDINGS_CACHE"):
        return Path(os.environ["HF_EMBEDDINGS_CACHE"])
    hf_home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return Path(hf_home) / "hf_embeddings" / "corpora"


# --------------------------------------------------------------------------------------------------------
# bounded-memory access to the cache arrays
# --------------------------------------------------------------------------------------------------------
def file_location(array: np.ndarray) -> tuple[str, int] | None:
    """(file, byte offset of `array[0]`) when `array` is a contiguous 1-D view of a `np.memmap`, else None."""
    if not isinstance(array, np.memmap) or array.ndim != 1 or not array.flags.c_contiguous:
        return None
    root = array
    while isinstance(root.base, np.ndarray):
        root = root.base
    if not isinstance(root, np.memmap) or not isinstance(root.base, mmap.mmap) or not root.filename:
        return None
    return root.filename, int(root.offset) + (array.ctypes.data - root.ctypes.data)


#: a gather reads the elements between two wanted ones in the same call when they are this close
_GATHER_GAP = 1024


class ArrayReader:
    """Reads ranges (`read`, `chunks`), runs (`rows`) and gathers (`take`) of a 1-D array as fresh arrays.

    A memory-mapped cache file is read with positional reads (`os.preadv`) and never through its mapping:
    pages a process touches in a mapping count in its resident set until unmapped, and a fault maps its
    neighbours too (fault-around, 64 kB), so a pass over a `np.memmap`, or random gathers from one, would
    grow the peak RSS with the corpus. A gather reads the runs of nearby wanted elements, one call each.
    Any other array is sliced. Picklable: a DataLoader worker reopens the file.
    """

    def __init__(self, array: np.ndarray):
        if not isinstance(array, np.ndarray):
            array = np.asarray(array)
        if array.ndim != 1:
            raise ValueError(f"ArrayReader reads 1-D arrays, got shape {array.shape}")
        self.dtype = array.dtype
        self.length = len(array)
        located = file_location(array)
        self.path, self.byte_offset = located if located is not None else (None, 0)
        self._array = None if located is not None else array
        self._reset()

    def _reset(self) -> None:
        self._file = None
        self._pid = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("_file", "_pid", "_lock")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset()

    def __len__(self) -> int:
        return self.length

    @property
    def file_backed(self) -> bool:
        return self.path is not None

    def _fd(self) -> int:
        if self._pid != os.getpid():  # first use, or a forked worker: its own descriptor
            self._file = open(self.path, "rb", buffering=0)  # noqa: SIM115 (kept open for later reads)
            self._pid = os.getpid()
        return self._file.fileno()

    def _read_into(self, out: np.ndarray, lo: int) -> None:
        """Fill `out` with the elements from `lo` on (file-backed)."""
        buf = memoryview(out).cast("B")
        pos, done, fd = self.byte_offset + lo * self.dtype.itemsize, 0, self._fd()
        while done < len(buf):
            if hasattr(os, "preadv"):
                got = os.preadv(fd, [buf[done:]], pos + done)
            else:  # no positional reads (Windows): seek + read, one thread at a time
                with self._lock:
                    self._file.seek(pos + done)
                    got = self._file.readinto(buf[done:])
            if not got:
                raise CorpusError(f"{self.path} is shorter than its {self.length} elements: truncated?")
            done += got

    def read(self, lo: int, hi: int) -> np.ndarray:
        """A copy of elements lo .. hi-1 (clipped to the array)."""
        lo, hi = max(0, int(lo)), min(self.length, int(hi))
        if hi <= lo:
            return np.empty(0, self.dtype)
        if self._array is not None:
            return np.array(self._array[lo:hi])
        out = np.empty(hi - lo, self.dtype)
        self._read_into(out, lo)
        return out

    def chunks(
        self, size: int = READ_CHUNK, lo: int = 0, hi: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """(start, copy of elements start .. start+size-1) for consecutive chunks of lo .. hi-1."""
        hi = self.length if hi is None else min(int(hi), self.length)
        for start in range(int(lo), hi, int(size)):
            yield start, self.read(start, min(start + size, hi))

    def _runs(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Read the sorted ranges [lo, hi) merged where they (nearly) touch; returns (buffer, run starts,
        offset of each run in the buffer)."""
        cut = np.flatnonzero(lo[1:] > np.maximum.accumulate(hi)[:-1] + _GATHER_GAP) + 1
        first, last = np.r_[0, cut], np.r_[cut, len(lo)] - 1
        run_lo, run_hi = lo[first], np.maximum.accumulate(hi)[last]
        sizes = run_hi - run_lo
        base = np.cumsum(sizes) - sizes
        buf = np.empty(int(sizes.sum()), self.dtype)
        if not hasattr(os, "preadv"):
            for a, n, o in zip(run_lo.tolist(), sizes.tolist(), base.tolist()):
                self._read_into(buf[o : o + n], a)
            return buf, run_lo, base
        # the loop runs once per run (hundreds per batch): kept to one system call and no more
        item, fd, view, preadv = self.dtype.itemsize, self._fd(), memoryview(buf).cast("B"), os.preadv
        nbytes = (sizes * item).tolist()
        for pos, n, o in zip((self.byte_offset + run_lo * item).tolist(), nbytes, (base * item).tolist()):
            if preadv(fd, [view[o : o + n]], pos) != n:  # a short read: finish it the careful way
                self._read_into(buf[o // item : (o + n) // item], (pos - self.byte_offset) // item)
        return buf, run_lo, base

    def take(self, index: np.ndarray) -> np.ndarray:
        """`array[index]` for an integer index array (a copy)."""
        index = np.asarray(index)
        if self._array is not None:
            return np.asarray(self._array)[index]
        if index.size == 0:
            return np.empty(index.shape, self.dtype)
        flat = index.reshape(-1).astype(np.int64, copy=False)
        if flat.min() < 0 or flat.max() >= self.length:
            raise IndexError(f"index out of range for an array of {self.length} elements")
        wanted = np.unique(flat)
        buf, run_lo, base = self._runs(wanted, wanted + 1)
        run = np.searchsorted(run_lo, flat, side="right") - 1
        return buf[base[run] + flat - run_lo[run]].reshape(index.shape)

    def rows(self, starts: np.ndarray, width: int) -> np.ndarray:
        """(len(starts), width) array of the `width` elements from each start (>= 0); positions past the
        end repeat the last element. One read per run of nearby starts."""
        starts = np.asarray(starts, dtype=np.int64).reshape(-1)
        cols = np.arange(int(width))
        if self._array is not None or len(starts) == 0 or self.length == 0:
            return self.take(np.minimum(starts[:, None] + cols, max(self.length - 1, 0)))
        if starts.min() < 0 or starts.max() >= self.length:
            raise IndexError(f"row start out of range for an array of {self.length} elements")
        wanted = np.unique(starts)
        buf, run_lo, base = self._runs(wanted, np.minimum(wanted + width, self.length))
        run = np.searchsorted(run_lo, starts, side="right") - 1
        pos = np.minimum(starts[:, None] + cols, self.length - 1)
        return buf[base[run][:, None] + pos - run_lo[run][:, None]]


#: Feistel rounds of `SeededPermutation` (4 make a pseudo-random permutation; 2 more for margin)
_ROUNDS = 6
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (a bijective avalanche of 64 bits), vectorised; uint64 products wrap."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


class SeededPermutation:
    """A seeded pseudo-random bijection of [0, n) evaluated pointwise, in O(1) memory.

    A balanced Feistel network permutes [0, 4^h) (4^h >= n); values that land outside [0, n) are
    encrypted again until they fall inside (cycle walking, < 4 rounds on average). Shuffled training data
    uses it as item k -> `perm(k)` of an epoch instead of a `randperm` of 8 bytes per element.

    Example:
        >>> perm = SeededPermutation(10, seed=[0, 1])
        >>> sorted(perm(np.arange(10)).tolist()) == list(range(10))
        True
    """

    def __init__(self, n: int, seed: int | Sequence[int] = 0):
        self.n = int(n)
        bits = max(2, (max(self.n - 1, 1)).bit_length())
        self._half = np.uint64((bits + 1) // 2)
        self._mask = np.uint64((1 << int(self._half)) - 1)
        words = np.random.SeedSequence(seed).generate_state(_ROUNDS * 2, np.uint32).astype(np.uint64)
        self._keys = words[0::2] << np.uint64(32) | words[1::2]

    def _encrypt(self, x: np.ndarray) -> np.ndarray:
        left, right = x >> self._half, x & self._mask
        for key in self._keys:
            left, right = right, left ^ (_mix64(right ^ key) & self._mask)
        return (left << self._half) | right

    def __call__(self, k: np.ndarray | int) -> np.ndarray:
        k = np.asarray(k, dtype=np.int64)
        flat = k.reshape(-1)
        if flat.size and (flat.min() < 0 or flat.max() >= self.n):
            raise IndexError(f"permutation of [0, {self.n}) applied to values out of range")
        with np.errstate(over="ignore"):
            x = self._encrypt(flat.astype(np.uint64))
            outside = np.flatnonzero(x >= np.uint64(self.n))
            while len(outside):
                x[outside] = self._encrypt(x[outside])
                outside = outside[x[outside] >= np.uint64(self.n)]
        return x.astype(np.int64).reshape(k.shape)


class SentenceIndex:
    """Finds which sentence holds the k-th unit of a corpus (a token, a prediction target, a piece ...).

    Sentence i holds `units(length_i)` units (`units(0)` must be 0; default: its tokens); only the
    sentences of the corpus count (a `split` part's, when it is one). One cumulative count per `block`
    sentences stays in memory (8 / block bytes per sentence) and a lookup reads the offsets of the
    block it lands in, so random access costs no per-sentence array.
    """

    def __init__(
        self,
        corpus: TokenizedCorpus,
        units: Callable[[np.ndarray], np.ndarray] | None = None,
        *,
        block: int = 64,
    ):
        base, self._member = corpus.subset_of()
        self._offsets = ArrayReader(base.offsets)
        self._units = units
        self.block = int(block)
        self.num_sentences = self._offsets.length - 1
        step = self.block * max(1, SENTENCE_CHUNK // self.block)
        sums, tokens, longest = [np.zeros(1, np.int64)], 0, 0
        for lo in range(0, max(self.num_sentences, 0), step):
            hi = min(lo + step, self.num_sentences)
            lengths = np.diff(self._offsets.read(lo, hi + 1))
            counts = self._count(np.arange(lo, hi), lengths)
            sums.append(np.add.reduceat(counts, np.arange(0, len(counts), self.block)))
            used = counts > 0
            tokens += int(lengths[used].sum())
            longest = max(longest, int(lengths[used].max(initial=0)))
        self._cum = np.cumsum(np.concatenate(sums))
        #: units in the corpus; tokens of the sentences that hold some; the longest such sentence
        self.total = int(self._cum[-1])
        self.num_tokens = tokens
        self.max_length = longest

    def _count(self, rows: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        counts = (lengths if self._units is None else self._units(lengths)).astype(np.int64, copy=False)
        if self._member is not None:
            counts = np.where(self._member(rows), counts, 0)
        return counts

    def locate(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(sentence, rank of the unit inside it, sentence start, sentence length) for units `k`, int64."""
        k = np.asarray(k, dtype=np.int64).reshape(-1)
        if k.size and (k.min() < 0 or k.max() >= self.total):
            raise IndexError(f"unit index out of range [0, {self.total})")
        b = np.searchsorted(self._cum, k, side="right") - 1
        rows = b[:, None] * self.block + np.arange(self.block + 1)
        offs = self._offsets.rows(b * self.block, self.block + 1).astype(np.int64, copy=False)
        lengths = np.diff(offs, axis=1)
        counts = self._count(np.minimum(rows[:, :-1], max(self.num_sentences - 1, 0)), lengths)
        counts[rows[:, :-1] >= self.num_sentences] = 0
        within = np.cumsum(counts, axis=1)
        rest = k - self._cum[b]
        j = (within <= rest[:, None]).sum(axis=1)
        at = np.arange(len(k))
        rank = rest - np.where(j > 0, within[at, np.maximum(j - 1, 0)], 0)
        return b * self.block + j, rank, offs[at, j], lengths[at, j]

    def sentences(self, chunk: int = SENTENCE_CHUNK) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(sentence numbers, starts, lengths) of the sentences holding units, in corpus order, by chunks."""
        for lo in range(0, max(self.num_sentences, 0), chunk):
            hi = min(lo + chunk, self.num_sentences)
            offs = self._offsets.read(lo, hi + 1).astype(np.int64, copy=False)
            lengths = np.diff(offs)
            used = np.flatnonzero(self._count(np.arange(lo, hi), lengths) > 0)
            yield used + lo, offs[:-1][used], lengths[used]


@dataclass
class TokenizedCorpus:
    """A corpus as one flat array of token ids plus sentence offsets, and the tokenizer that made it.

    `ids[offsets[i]:offsets[i+1]]` is sentence i. Out-of-vocabulary words are kept as `<unk>` (id 0) so
    positions are preserved; models that drop them (Word2Vec, as gensim does) filter id 0 themselves.
    For a cached corpus both arrays are read-only memory maps; training data reads them through
    `ArrayReader` / `SentenceIndex` (`id_reader`, `subset_of`) so that its memory does not grow with them.
    """

    ids: np.ndarray
    offsets: np.ndarray
    tokenizer: WordTokenizer
    source: str = ""
    cache_dir: Path | None = None
    stats: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def num_tokens(self) -> int:
        """Number of token positions (OOV words included)."""
        return int(self.offsets[-1])

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def sentence(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    def iter_sentences(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self.sentence(i)

    def sentence_ids(self) -> np.ndarray:
        """Sentence index of every token position (int32, same length as `ids`)."""
        return np.repeat(np.arange(len(self), dtype=np.int32), self.lengths)

    def id_reader(self) -> ArrayReader:
        """Bounded-memory reads of `ids` (ranges, chunks, gathers)."""
        return ArrayReader(self.ids)

    def subset_of(self) -> tuple[TokenizedCorpus, Callable[[np.ndarray], np.ndarray] | None]:
        """(the corpus whose arrays hold this one's sentences, which of its sentences are this one's as a
        function of sentence numbers -> bool, or None for all): a `split` part answers its parent's."""
        return self, None

    def standalone(self) -> TokenizedCorpus:
        """This corpus with arrays of its own: itself, or for a `split` part a corpus over its gathered
        ids (for the readers that walk the ids in order rather than by sentence)."""
        return self

    def split(self, fractions: Sequence[float], *, seed: int = 0) -> list[TokenizedCorpus]:
        """Return corpora over disjoint random subsets of the sentences (e.g. `(0.8, 0.1, 0.1)`), in corpus
        order. Part j is the sentences i with bounds[j] <= perm(i) < bounds[j+1] (`SeededPermutation`,
        bounds = round(cumsum(fractions) * len)); the parts share this corpus's ids (one bit per sentence
        marks a part's sentences) and copy them only when their `ids` / `offsets` are read."""
        if not fractions or any(f < 0 for f in fractions) or sum(fractions) > 1 + 1e-9:
            raise CorpusError(f"split fractions must be >= 0 and sum to at most 1, got {list(fractions)}")
        n = len(self)
        bounds = np.round(np.cumsum([0, *fractions]) * n).astype(np.int64)
        perm = SeededPermutation(n, seed)
        masks = [np.zeros((n + 7) // 8, np.uint8) for _ in fractions]
        step = 8 * (SENTENCE_CHUNK // 8)
        for lo in range(0, n, step):
            part = np.searchsorted(bounds, perm(np.arange(lo, min(lo + step, n))), side="right") - 1
            for j, mask in enumerate(masks):
                packed = np.packbits(part == j)
                mask[lo // 8 : lo // 8 + len(packed)] = packed
        return [
            CorpusPart(self, mask, int(hi - lo), f"{self.source}[{lo}:{hi} of shuffled lines, seed {seed}]")
            for mask, lo, hi in zip(masks, bounds[:-1], bounds[1:])
        ]

    def held_out(self, fraction: float, *, seed: int = 0) -> tuple[TokenizedCorpus, TokenizedCorpus | None]:
        """(training part, held-out part) with `fraction` of the lines held out; (self, None) for 0."""
        if fraction <= 0:
            return self, None
        train, held = self.split([1 - fraction, fraction], seed=seed)
        return train, held

    def decode(self, i: int) -> list[str]:
        return self.tokenizer.convert_ids_to_tokens(self.sentence(i).tolist())


class SentenceMask:
    """Membership of sentence numbers in a set, one bit per sentence (picklable, without the corpus)."""

    def __init__(self, bits: np.ndarray):
        self.bits = bits

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        return ((self.bits[rows >> 3] >> (7 - (rows & 7)).astype(np.uint8)) & 1).astype(bool)


class CorpusPart(TokenizedCorpus):
    """Some sentences of a corpus (a part from `TokenizedCorpus.split`) that share its token ids.

    Training data reads them in place through `subset_of`; `ids` and `offsets` (this part's own flat
    arrays, as a plain corpus has them) are gathered into memory the first time they are read.
    """

    def __init__(self, parent: TokenizedCorpus, mask: np.ndarray, count: int, source: str):
        self.parent = parent
        self.tokenizer = parent.tokenizer
        self.source = source
        self.cache_dir = None  # per-corpus caches (GloVe's co-occurrences) are the parent's, not this part's
        self.stats = {}
        self._member = SentenceMask(mask)
        self._count = count
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None
        self._num_tokens: int | None = None

    def __repr__(self) -> str:
        return f"CorpusPart({self.source!r}, {self._count} sentences)"

    def __len__(self) -> int:
        return self._count

    def contains(self, rows: np.ndarray) -> np.ndarray:
        """Whether each of the parent's sentences `rows` belongs to this part."""
        return self._member(rows)

    def subset_of(self) -> tuple[TokenizedCorpus, Callable[[np.ndarray], np.ndarray] | None]:
        return self.parent, self._member

    def standalone(self) -> TokenizedCorpus:
        return TokenizedCorpus(self.ids, self.offsets, self.tokenizer, self.source)

    def _rows(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(starts, lengths) in the parent's ids of this part's sentences, in order, by chunks."""
        offsets = ArrayReader(self.parent.offsets)
        n = offsets.length - 1
        for lo in range(0, max(n, 0), SENTENCE_CHUNK):
            hi = min(lo + SENTENCE_CHUNK, n)
            offs = offsets.read(lo, hi + 1).astype(np.int64, copy=False)
            keep = self.contains(np.arange(lo, hi))
            yield offs[:-1][keep], np.diff(offs)[keep]

    @property
    def num_tokens(self) -> int:
        if self._num_tokens is None:
            self._num_tokens = sum(int(lengths.sum()) for _, lengths in self._rows())
        return self._num_tokens

    def _materialized(self) -> tuple[np.ndarray, np.ndarray]:
        if self._arrays is None:
            reader = self.parent.id_reader()
            ids, lens = [], []
            for starts, lengths in self._rows():
                within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
                ids.append(reader.take(np.repeat(starts, lengths) + within))
                lens.append(lengths)
            flat = np.concatenate(ids) if ids else np.zeros(0, np.int32)
            offsets = np.concatenate([[0], np.cumsum(np.concatenate(lens) if lens else [])]).astype(np.int64)
            self._arrays = (flat, offsets)
        return self._arrays

    @property
    def ids(self) -> np.ndarray:  # type: ignore[override]
        return self._materialized()[0]

    @property
    def offsets(self) -> np.ndarray:  # type: ignore[override]
        return self._materialized()[1]


# --------------------------------------------------------------------------------------------------------
# sources
# --------------------------------------------------------------------------------------------------------
@dataclass
class _Source:
    description: str
    fingerprint: str
    batches: Any  # zero-arg callable -> iterator of list[str]
    size_hint: int | None = None  # bytes (files) or rows (datasets) for the progress bar


#: the longest word a corpus line may hold; a longer run without whitespace is refused (bounded memory)
MAX_WORD_BYTES = 1 << 20


def _open_text(path: Path):
    try:
        return open_compressed(path)
    except OSError as e:
        raise CorpusError(f"cannot read corpus file {path}: {e.strerror or e}") from None


class _ContinuedLines(list):
    """A batch of lines whose last line goes on in the next batch: a line longer than a batch (text8 is one
    100 MB line) is cut after a space or tab, so it is never held, decoded or split whole."""


def _decode(data: bytes, path: Path, lineno: int, column0: int) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        bad_line = data.count(b"\n", 0, e.start)
        line_start = data.rfind(b"\n", 0, e.start) + 1
        column = e.start - line_start + 1 + (column0 if bad_line == 0 else 0)
        raise CorpusError(
            f"{path}, line {lineno + bad_line + 1}: not valid UTF-8 (byte {data[e.start]:#04x} at "
            f"column {column}); re-encode the file as UTF-8"
        ) from None


def _file_batches(files: list[Path], progress) -> Iterator[list[str]]:
    """Yield the lines of `files` in ~4 MB batches: block reads cut at the last newline (a readline
    per line costs more than the decompression itself on .xz files); a longer line is cut at whitespace
    into `_ContinuedLines` pieces."""
    for path in files:
        lineno = 0
        column0 = 0  # bytes of the current line already yielded in earlier pieces
        rest = b""
        first = True
        with _open_text(path) as f:
            while True:
                try:
                    block = f.read(_BATCH_BYTES)
                except (*DECOMPRESSION_ERRORS, ValueError) as e:
                    raise CorpusError(f"cannot read corpus file {path} after line {lineno}: {e}") from None
                if first:  # a UTF-8 byte-order mark is not part of the first word
                    block, first = block.removeprefix(b"\xef\xbb\xbf"), False
                if block:
                    cut = block.rfind(b"\n")
                    if cut < 0:  # no line end in this block: the line goes on
                        rest += block
                        # (not at its very end: a byte must stay for a later batch to close the line, even at EOF)
                        end = len(rest) - 1
                        space = (
                            max(rest.rfind(b" ", 0, end), rest.rfind(b"\t", 0, end))
                            if end >= _BATCH_BYTES
                            else -1
                        )
                        if space < 0:
                            if len(rest) > _BATCH_BYTES + MAX_WORD_BYTES:  # bounded memory, not a text
                                raise CorpusError(
                                    f"{path}, line {lineno + 1}: no space or tab in {len(rest):,} bytes (words "
                                    f"are at most {MAX_WORD_BYTES:,} bytes): is this a text corpus?"
                                )
                            continue
                        data, rest = rest[: space + 1], rest[space + 1 :]
                        text = _decode(data, path, lineno, column0)
                        column0 += len(data)
                        if progress is not None:
                            progress.update(len(data))
                        yield _ContinuedLines([text])
                        continue
                    data, rest = rest + block[: cut + 1], block[cut + 1 :]
                else:
                    data, rest = rest, b""
                    if not data:
                        break
                text = _decode(data, path, lineno, column0)
                column0 = 0
                lineno += data.count(b"\n")
                if progress is not None:
                    progress.update(len(data))
                yield split_at_newlines(text)


def _files_of(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not files:
        raise CorpusError(f"corpus folder {path} contains no files")
    return files


def _dataset_text_column(ds, text_column: str | None) -> str:
    """The column holding the text: `text_column`, else "text", else the only string column. A streaming
    dataset may not know its features (None) until read: its first row is read to tell."""
    features = getattr(ds, "features", None) or {}
    if not features:
        try:
            first = next(iter(ds.take(1) if hasattr(ds, "take") else ds), None)
        except Exception as e:  # noqa: BLE001 (datasets raises many kinds while opening a stream)
            raise CorpusError(f"cannot read the first row of the dataset: {type(e).__name__}: {e}") from None
        if first is None:
            raise CorpusError("the dataset has no rows")
        features = {k: _StrColumn() if isinstance(v, str) else None for k, v in first.items()}
    if text_column is not None:
        if features and text_column not in features:
            raise CorpusError(f"dataset has no column {text_column!r} (columns: {', '.join(features)})")
        return text_column
    string_cols = [k for k, v in features.items() if getattr(v, "dtype", None) in ("string", "large_string")]
    if "text" in features:
        return "text"
    if len(string_cols) == 1:
        return string_cols[0]
    raise CorpusError(
        f"cannot tell which dataset column holds the text (string columns: {string_cols or 'none'}); "
        "pass text_column="
    )


class _StrColumn:
    """Stands for a `datasets.Value("string")` feature of a row read from a stream without features."""

    dtype = "string"


def _load_hub_dataset(name: str, split: str, config_name: str | None):
    import datasets
    from huggingface_hub import constants

    offline = constants.HF_HUB_OFFLINE or os.environ.get("HF_DATASETS_OFFLINE") == "1"
    try:
        return datasets.load_dataset(name, config_name, split=split)
    except Exception as e:  # datasets raises many types for "not reachable / not cached"
        if offline:
            hint = "HF_HUB_OFFLINE=1 is set and the dataset is not in the local cache"
        else:
            hint = "the Hugging Face Hub could not be reached (no network?) or the dataset does not exist"
        raise CorpusError(
            f"cannot load Hub dataset {name!r} (split {split!r}): {hint}. Pass a local file, folder or "
            f"'default' instead. [{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}]"
        ) from None


def _looks_like_path(s: str) -> bool:
    return not is_repo_id(s, owner_required=False) or Path(s).suffix.lower() in (
        ".txt",
        ".gz",
        ".bz2",
        ".xz",
        ".text",
    )


#: files up to this size are hashed whole for the cache key; larger ones by size, mtime and sampled blocks
_FULL_HASH_BYTES = 32 << 20
_SAMPLE_BLOCKS, _SAMPLE_BYTES = 64, 64 << 10


def _file_fingerprint(path: Path, st: os.stat_result) -> list:
    """Size, mtime and a content hash of `path` (whole up to 32 MB, else 64 blocks of 64 kB spread over
    the file), so that an edited file whose size and mtime were restored is not served stale tokens."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            if st.st_size <= _FULL_HASH_BYTES:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            else:
                step = (st.st_size - _SAMPLE_BYTES) / (_SAMPLE_BLOCKS - 1)
                for i in range(_SAMPLE_BLOCKS):
                    f.seek(int(i * step))
                    digest.update(f.read(_SAMPLE_BYTES))
    except OSError as e:
        raise CorpusError(f"cannot read corpus file {path}: {e.strerror or e}") from None
    return [st.st_size, st.st_mtime_ns, digest.hexdigest()]


def _resolve(source, text_column: str | None, split: str, config_name: str | None) -> _Source:
    if source is None or (isinstance(source, str) and source == DEFAULT_CORPUS_NAME):
        source = DEFAULT_CORPUS
    if isinstance(source, (str, os.PathLike)) and not str(source).strip():
        raise CorpusError("the corpus is an empty name: give a file, a folder, a dataset or 'default'")
    if isinstance(source, (str, os.PathLike)) and (Path(source).exists() or _looks_like_path(str(source))):
        path = Path(source)
        if not path.exists():
            raise CorpusError(f"corpus not found: {path}")
        if not os.access(path, os.R_OK):
            raise CorpusError(f"corpus is not readable: {path}")
        files = _files_of(path)
        stats = [f.stat() for f in files]
        fp = json.dumps([[str(f.resolve()), *_file_fingerprint(f, s)] for f, s in zip(files, stats)])
        size = sum(s.st_size for s in stats)
        return _Source(str(path), fp, lambda progress=None: _file_batches(files, progress), size)
    if isinstance(source, str):
        return _dataset_source(_load_hub_dataset(source, split, config_name), text_column, source)
    if _is_dataset(source):
        return _dataset_source(source, text_column, type(source).__name__)
    if isinstance(source, Iterable) and not isinstance(source, (bytes, dict)):
        texts = source if isinstance(source, Sequence) else list(source)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise CorpusError(f"corpus item {i} is a {type(t).__name__}, expected str")
        digest = hashlib.sha256()
        for t in texts:
            digest.update(t.encode("utf-8", "surrogatepass") + b"\n")

        def batches(progress=None):
            for i in range(0, len(texts), 10_000):
                chunk = [line for t in texts[i : i + 10_000] for line in split_at_newlines(t)]
                yield chunk

        return _Source(f"<{len(texts)} strings>", digest.hexdigest(), batches, None)
    raise CorpusError(f"unsupported corpus type {type(source).__name__}: give a path, list of str or dataset")


def _is_dataset(obj) -> bool:
    mod = type(obj).__module__ or ""
    return mod.startswith("datasets")


def _stream_fingerprint(ds) -> str:
    """A cache key for a streaming `IterableDataset` read straight from data files, or "" (no cache).

    Only an untransformed stream (no map, filter, shuffle, skip ...) of files that cannot change unseen is
    keyed: local files by their fingerprints (`_file_fingerprint`), Hub files by a path pinned to a commit
    (`hf://datasets/<repo>@<40-hex revision>/...`). Anything else is tokenized again on every call."""
    import re

    ex = getattr(ds, "_ex_iterable", None)
    kwargs = getattr(ex, "kwargs", None)
    if type(ex).__name__ not in ("ArrowExamplesIterable", "ExamplesIterable") or not isinstance(kwargs, dict):
        return ""
    if getattr(ds, "_distributed", None) is not None or getattr(ds, "_formatting", None) is not None:
        return ""
    files = kwargs.get("base_files")
    if not files or not all(isinstance(f, str) for f in files):
        return ""
    keyed = []
    for f in files:
        if re.match(r"^hf://datasets/[^@]+@[0-9a-f]{40}/", f):
            keyed.append(f)
        elif "://" not in f and Path(f).is_file():
            keyed.append([str(Path(f).resolve()), *_file_fingerprint(Path(f), Path(f).stat())])
        else:
            return ""
    info = getattr(ds, "info", None)
    about = [getattr(info, a, None) for a in ("builder_name", "config_name", "dataset_name")]
    split = getattr(ds, "split", None)
    return json.dumps(["stream", about, str(split) if split is not None else None, keyed], default=str)


def _dataset_source(ds, text_column: str | None, name: str) -> _Source:
    import datasets

    if isinstance(ds, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        if "train" not in ds:
            raise CorpusError(f"dataset {name} has no 'train' split (splits: {', '.join(ds)}); pass split=")
        ds = ds["train"]
    col = _dataset_text_column(ds, text_column)
    fingerprint = getattr(ds, "_fingerprint", None)
    if not fingerprint and isinstance(ds, datasets.IterableDataset):
        fingerprint = _stream_fingerprint(ds)
    fingerprint = json.dumps([fingerprint, col]) if fingerprint else ""  # the column is part of the source
    rows = len(ds) if isinstance(ds, datasets.Dataset) else None

    def batches(progress=None):
        for batch in ds.iter(batch_size=10_000):
            texts = batch[col]
            if progress is not None:
                progress.update(len(texts))
            yield [line for t in texts if t is not None for line in split_at_newlines(t)]

    return _Source(f"dataset {name}[{col}]", fingerprint, batches, rows)


# --------------------------------------------------------------------------------------------------------
# encoding
# --------------------------------------------------------------------------------------------------------
def _npy_header(length: int, dtype: np.dtype) -> bytes:
    """The `.npy` header of a 1-D array; numpy pads it so that its size does not depend on the length
    (room for a 21-digit shape), which lets `_IdSink` write the offsets before it knows how many."""
    import io

    buf = io.BytesIO()
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
        "fortran_order": False,
        "shape": (length,),
    }
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue()


class _IdSink:
    """Append-only int32 token-id and int64 offset storage: files in a cache folder (`ids.bin`, and
    `offsets.npy` written as the lines come), or memory when not caching."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.parts: list[np.ndarray] = []
        self.offsets: list[np.ndarray] = [np.zeros(1, np.int64)]
        self.fh = self.off_fh = None
        if folder is not None:
            self.fh = open(folder / "ids.bin", "wb")  # noqa: SIM115 (closed in finish)
            self.off_fh = open(folder / "offsets.npy", "wb")  # noqa: SIM115
            self.off_fh.write(_npy_header(0, np.int64))
            self.off_fh.write(np.zeros(1, np.int64).tobytes())
        self.pending: np.ndarray | None = None  # lengths of the last lines added (the last may go on)
        self.n = 0
        self.written = 0  # tokens of the lines whose offsets are written
        self.num_lines = 0

    def add(self, ids: np.ndarray, lengths: np.ndarray, continues: bool = False) -> None:
        """Append the ids of some lines; `continues`: their first line is the rest of the last one added."""
        ids = ids.astype(np.int32, copy=False)
        lengths = np.asarray(lengths, dtype=np.int64)
        if continues and self.pending is not None and len(lengths):
            self.pending = self.pending.copy()
            self.pending[-1] += lengths[0]
            lengths = lengths[1:]
        if self.fh is not None:
            self.fh.write(ids.tobytes())
        else:
            self.parts.append(ids)
        if len(lengths):  # (so that the pending lines, when there are some, end with the last line)
            self._flush()
            self.pending = lengths
        self.n += len(ids)

    def _flush(self) -> None:
        if self.pending is None:
            return
        ends = self.written + np.cumsum(self.pending)
        if self.off_fh is not None:
            self.off_fh.write(ends.tobytes())
        else:
            self.offsets.append(ends)
        self.written = int(ends[-1])
        self.num_lines += len(ends)
        self.pending = None

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        self._flush()
        if self.fh is None:
            ids = np.concatenate(self.parts) if self.parts else np.zeros(0, np.int32)
            return ids, np.concatenate(self.offsets)
        self.fh.close()
        header = _npy_header(self.num_lines + 1, np.int64)
        if len(header) != len(_npy_header(0, np.int64)):  # numpy changed its padding: cannot happen today
            raise CorpusError("cannot write offsets.npy in place (unexpected .npy header size)")
        self.off_fh.seek(0)
        self.off_fh.write(header)
        self.off_fh.close()
        offsets = np.load(self.folder / "offsets.npy", mmap_mode="r", allow_pickle=False)
        ids = (
            np.memmap(self.folder / "ids.bin", dtype=np.int32, mode="r", shape=(self.n,))
            if self.n
            else np.zeros(0, np.int32)
        )
        return ids, offsets

    def close(self) -> None:
        for f in (self.fh, self.off_fh):
            if f is not None and not f.closed:
                f.close()


def _split_words(tokenizer_backend, splitter, lines: list[str]) -> list[list[str]]:
    if splitter is not None:
        return splitter(lines)
    out = []
    # not encode_batch_fast: it leaves `tokens` empty (it skips offsets and token strings)
    for enc in tokenizer_backend.encode_batch(lines, add_special_tokens=False):
        out.append(enc.tokens)
    return out


def _encode_pass(
    src: _Source, sink: _IdSink, tokenizer: WordTokenizer | None, options: dict, show_progress: bool
):
    """Tokenize every batch of `src` into `sink`. When building a vocabulary returns (words, counts) in
    first-appearance order, the provisional ids written to the sink being positions in that list; with a
    tokenizer returns None (the sink holds final ids)."""
    import pandas as pd

    if tokenizer is not None:
        backend = tokenizer.backend_tokenizer
        vocab_index = pd.Index(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer)))))
    else:
        backend = build_backend({SPECIAL_TOKENS[0]: 0}, **options)
        vocab_index = None
    splitter = fast_splitter(backend)
    # the running vocabulary: word -> provisional id (first-appearance order) and the counts so far; each
    # batch merges in its distinct words only, so memory grows with the distinct words, not the tokens
    word_ids: dict[str, int] = {}
    counts = np.zeros(1 << 16, np.int64)
    progress = None
    if show_progress:
        from tqdm.auto import tqdm

        progress = tqdm(
            total=src.size_hint,
            unit="B" if src.description and src.size_hint else "it",
            unit_scale=True,
            desc="tokenizing",
            leave=False,
        )
    try:
        continues = False  # the first line of this batch is the rest of the previous batch's last line
        for lines in src.batches(progress):
            if splitter is not None:
                words, lengths = splitter.flat(lines)
                flat = np.fromiter(words, dtype=object, count=len(words))
                del words
            else:
                words_per_line = _split_words(backend, None, lines)
                lengths = np.fromiter(map(len, words_per_line), dtype=np.int64, count=len(words_per_line))
                flat = np.fromiter(
                    (w for ws in words_per_line for w in ws), dtype=object, count=int(lengths.sum())
                )
            if vocab_index is not None:
                ids = vocab_index.get_indexer(flat)
                ids[ids < 0] = 0
                sink.add(ids, lengths, continues)
                continues = isinstance(lines, _ContinuedLines)
                continue
            codes, uniques = pd.factorize(flat)
            del flat
            # one dict lookup per distinct word of the batch (not per token); new words get the next ids
            known = np.fromiter(
                (word_ids.setdefault(w, len(word_ids)) for w in uniques), dtype=np.int64, count=len(uniques)
            )
            if len(word_ids) > len(counts):
                counts = np.concatenate(
                    [counts, np.zeros(max(len(word_ids), 2 * len(counts)) - len(counts), np.int64)]
                )
            counts[known] += np.bincount(codes, minlength=len(uniques))
            sink.add(known[codes], lengths, continues)
            continues = isinstance(lines, _ContinuedLines)
    finally:
        if progress is not None:
            progress.close()
    if vocab_index is not None:
        return None
    return list(word_ids), counts[: len(word_ids)].copy()


def _remap_file(
    path: Path, remap: np.ndarray, n: int, show_progress: bool = False, chunk: int = READ_CHUNK
) -> None:
    """ids.bin[i] = remap[ids.bin[i]], in chunks read and written back with plain file I/O (no mapping)."""
    progress = None
    if show_progress:  # the vocabulary's final ids: one more pass over the corpus's tokens
        from tqdm.auto import tqdm

        progress = tqdm(total=n, unit="tok", unit_scale=True, desc="numbering by frequency", leave=False)
    try:
        with open(path, "r+b") as f:
            for lo in range(0, n, chunk):
                f.seek(4 * lo)
                part = np.fromfile(f, dtype=np.int32, count=min(chunk, n - lo))
                f.seek(4 * lo)
                remap[part].astype(np.int32, copy=False).tofile(f)
                if progress is not None:
                    progress.update(len(part))
    finally:
        if progress is not None:
            progress.close()


def load_corpus(
    source: Any = None,
    *,
    tokenizer: WordTokenizer | None = None,
    min_count: int = 5,
    max_vocab_size: int | None = None,
    max_final_vocab: int | None = None,
    keep_words: Iterable[str] | str | os.PathLike | None = None,
    lowercase: bool = True,
    unicode_normalization: str | None = "NFKC",
    split_punctuation: bool = True,
    text_column: str | None = None,
    split: str = "train",
    config_name: str | None = None,
    use_cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    show_progress: bool = False,
) -> TokenizedCorpus:
    """Return the tokenized corpus of `source` (file/folder path, list of str, dataset, Hub name, or None).

    With `tokenizer=None` a vocabulary of the words seen >= `min_count` times is built in the same pass,
    with counts, shaped by `max_final_vocab` (gensim's: min_count raised to fit), `keep_words` (words, or
    a file of one word per line, kept whatever their count) and `max_vocab_size` (a cut to the most
    frequent words), as `VocabularyRule` says; otherwise `tokenizer`'s vocabulary is used as is.

    Example:
        >>> corpus = load_corpus(["the cat sat", "the dog sat"], min_count=1)
        >>> corpus.num_tokens, len(corpus), corpus.decode(1)
        (6, 2, ['the', 'dog', 'sat'])
    """
    options = dict(
        lowercase=lowercase, unicode_normalization=unicode_normalization, split_punctuation=split_punctuation
    )
    build_backend({SPECIAL_TOKENS[0]: 0}, **options)  # validates the options early
    rule = VocabularyRule.build(
        options, min_count=min_count, max_vocab_size=max_vocab_size, max_final_vocab=max_final_vocab,
        keep_words=keep_words,
    )  # fmt: skip
    src = _resolve(source, text_column, split, config_name)

    folder = None
    if use_cache and src.fingerprint:
        key = hashlib.sha256(
            json.dumps(
                {
                    "v": CACHE_FORMAT_VERSION,
                    "source": src.fingerprint,
                    "options": options,
                    **rule.record(),
                    "tokenizer": None if tokenizer is None else tokenizer.backend_tokenizer.to_str(),
                },
                sort_keys=True,
            ).encode()
        ).hexdigest()[:32]
        folder = Path(cache_dir) if cache_dir is not None else cache_root()
        folder = folder / key
        cached = _read_cache(folder, tokenizer, src.description)
        if cached is not None:
            return cached

    tmp = None
    if folder is not None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(folder.parent)  # builds of killed runs
        tmp = temporary_path(folder)
        tmp.mkdir()
    sink = None
    try:
        sink = _IdSink(tmp)
        built = _encode_pass(src, sink, tokenizer, options, show_progress)
        ids, offsets = sink.finish()
        stats = {
            "total_words": int(offsets[-1]),
            "num_sentences": len(offsets) - 1,
            "source": public_name(src.description),  # published with the vocabulary: no local path
        }
        if built is not None:
            words, counts = built
            kept, kept_counts, remap, rule_stats = finalize_vocabulary(words, counts, rule, src.description)
            if tmp is not None:
                _remap_file(tmp / "ids.bin", remap, len(ids), show_progress)
            else:
                ids = remap[ids]
            stats.update(**rule_stats, distinct_words=len(words), **options)
            tokenizer = WordTokenizer.from_vocabulary(
                kept, kept_counts, unk_count=int(counts[remap == 0].sum()), stats=stats, **options
            )
            del words, counts, remap
        if offsets[-1] == 0:
            raise CorpusError(f"corpus {src.description} is empty: no words found")
        if tmp is None:
            return TokenizedCorpus(ids, offsets, tokenizer, src.description, None, stats)
        if built is not None:
            tokenizer.save_pretrained(tmp / "tokenizer")
        (tmp / "meta.json").write_text(
            json.dumps({"format_version": CACHE_FORMAT_VERSION, "stats": stats, "checksums": _checksums(tmp)})
        )
        del ids, offsets
        given = None if built is not None else tokenizer
        try:
            os.replace(tmp, folder)
        except OSError:  # another process finished the same cache first, or a broken entry is in the way
            if _read_cache(folder, given, src.description) is None:
                broken = folder.with_name(f".broken-{folder.name}-{os.getpid()}")
                os.replace(folder, broken)
                shutil.rmtree(broken, ignore_errors=True)
                os.replace(tmp, folder)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
        tmp = None
        cached = _read_cache(folder, given, src.description)
        if cached is None:
            raise CorpusError(f"token cache {folder} could not be read back")
        return cached
    finally:
        if sink is not None:
            sink.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _check_offsets(folder: Path, offsets: np.ndarray) -> None:
    """Raise ValueError unless offsets.npy is a non-decreasing integer array from 0 whose last value
    matches the size of ids.bin (checked in chunks, before ids.bin is mapped)."""
    if offsets.ndim != 1 or len(offsets) < 1 or offsets.dtype.kind not in "iu" or offsets[0] != 0:
        raise ValueError("offsets.npy is not a 1-D integer array starting at 0")
    previous = 0
    for _, chunk in ArrayReader(offsets).chunks(SENTENCE_CHUNK):
        if chunk[0] < previous or np.any(np.diff(chunk) < 0):
            raise ValueError("offsets.npy is not non-decreasing")
        previous = chunk[-1]
    n = int(offsets[-1])
    size = (folder / "ids.bin").stat().st_size if n else 0
    if size != 4 * n:
        raise ValueError(f"ids.bin holds {size} bytes, expected {4 * n}")


def _check_ids(ids: np.ndarray, vocab_size: int) -> None:
    """Raise ValueError unless every id is in the vocabulary (a damaged ids.bin must never reach a
    compiled kernel): one min/max pass over the file, in chunks read without mapping it."""
    for _, chunk in ArrayReader(ids).chunks():
        low, high = int(chunk.min()), int(chunk.max())
        if low < 0 or high >= vocab_size:
            raise ValueError(f"token ids out of range: [{low}, {high}] for a vocabulary of {vocab_size}")


def _checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of the cache entry's small files (offsets, tokenizer): an edit that keeps them well-formed
    (a renamed word, a special token turned into a word) must not be served. ids.bin is too large to hash
    on every open; its ids are range-checked instead. Files are hashed by blocks (offsets.npy holds 8
    bytes per line)."""
    files = [folder / "offsets.npy", *sorted((folder / "tokenizer").glob("*"))]
    sums = {}
    for p in files:
        if p.is_file():
            digest = hashlib.sha256()
            with open(p, "rb") as f:
                for block in iter(lambda f=f: f.read(1 << 20), b""):
                    digest.update(block)
            sums[p.relative_to(folder).as_posix()] = digest.hexdigest()
    return sums


def _read_cache(folder: Path, tokenizer: WordTokenizer | None, description: str) -> TokenizedCorpus | None:
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("format_version") != CACHE_FORMAT_VERSION:
            return None
        if not isinstance(meta.get("stats", {}), dict):
            raise ValueError("meta.json: stats is not an object")
        if meta.get("checksums") != _checksums(folder):
            raise ValueError("a file of the entry changed since it was written")
        offsets = np.load(folder / "offsets.npy", mmap_mode="r", allow_pickle=False)
        _check_offsets(folder, offsets)
        n = int(offsets[-1])
        ids = (
            np.memmap(folder / "ids.bin", dtype=np.int32, mode="r", shape=(n,))
            if n
            else np.zeros(0, np.int32)
        )
        if tokenizer is None:
            tokenizer = WordTokenizer.from_pretrained(folder / "tokenizer")
        _check_ids(ids, len(tokenizer))
    except Exception as e:  # noqa: BLE001 (numpy, json and tokenizers each raise their own kinds)
        logger.warning("ignoring unreadable token cache %s (%s); rebuilding it", folder, e)
        return None
    return TokenizedCorpus(ids, offsets, tokenizer, description, folder, meta.get("stats", {}))
