"""Corpora: any text source -> a tokenized corpus (flat int32 token ids + sentence offsets), cached on disk.

`load_corpus` accepts a text file or folder (one sentence/paragraph per line; plain, .gz, .bz2, .xz), a
list of strings, a `datasets` dataset, a Hub dataset name, or None / "default" for the bundled corpus.
Without a tokenizer it builds the vocabulary (and word counts) in the same single pass that encodes the
text; with one it only encodes. Token ids are cached as a flat memory-mapped array keyed by the source's
fingerprint and the tokenizer settings, so epochs and later runs never re-tokenize, and a corpus larger
than RAM streams through in chunks.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorpusError
from ..files import remove_stale_temporaries, temporary_path
from .sources import DECOMPRESSION_ERRORS, is_repo_id, open_compressed, public_name
from .tokenization import (
    SPECIAL_TOKENS,
    WordTokenizer,
    build_backend,
    check_vocabulary_args,
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


def cache_root() -> Path:
    """Folder of the token-id caches: $HF_EMBEDDINGS_CACHE, else $HF_HOME/hf_embeddings, else ~/.cache/..."""
    if os.environ.get("HF_EMBEDDINGS_CACHE"):
        return Path(os.environ["HF_EMBEDDINGS_CACHE"])
    hf_home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return Path(hf_home) / "hf_embeddings" / "corpora"


@dataclass
class TokenizedCorpus:
    """A corpus as one flat array of token ids plus sentence offsets, and the tokenizer that made it.

    `ids[offsets[i]:offsets[i+1]]` is sentence i. Out-of-vocabulary words are kept as `<unk>` (id 0) so
    positions are preserved; models that drop them (Word2Vec, as gensim does) filter id 0 themselves.
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

    def split(self, fractions: Sequence[float], *, seed: int = 0) -> list[TokenizedCorpus]:
        """Return corpora over disjoint random subsets of the sentences (e.g. `(0.8, 0.1, 0.1)`)."""
        if not fractions or any(f < 0 for f in fractions) or sum(fractions) > 1 + 1e-9:
            raise CorpusError(f"split fractions must be >= 0 and sum to at most 1, got {list(fractions)}")
        order = np.random.default_rng(seed).permutation(len(self))
        bounds = np.round(np.cumsum([0, *fractions]) * len(self)).astype(int)
        parts = []
        for lo, hi in itertools.pairwise(bounds):
            rows = np.sort(order[lo:hi])
            lens = self.lengths[rows]
            starts = self.offsets[rows]
            idx = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(
                lens.sum()
            )
            parts.append(
                TokenizedCorpus(
                    ids=np.asarray(self.ids[idx]),
                    offsets=np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
                    tokenizer=self.tokenizer,
                    source=f"{self.source}[{lo}:{hi} of shuffled lines, seed {seed}]",
                )
            )
        return parts

    def held_out(self, fraction: float, *, seed: int = 0) -> tuple[TokenizedCorpus, TokenizedCorpus | None]:
        """(training part, held-out part) with `fraction` of the lines held out; (self, None) for 0."""
        if fraction <= 0:
            return self, None
        train, held = self.split([1 - fraction, fraction], seed=seed)
        return train, held

    def decode(self, i: int) -> list[str]:
        return self.tokenizer.convert_ids_to_tokens(self.sentence(i).tolist())


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
    features = getattr(ds, "features", None) or {}
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


def _dataset_source(ds, text_column: str | None, name: str) -> _Source:
    import datasets

    if isinstance(ds, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        if "train" not in ds:
            raise CorpusError(f"dataset {name} has no 'train' split (splits: {', '.join(ds)}); pass split=")
        ds = ds["train"]
    col = _dataset_text_column(ds, text_column)
    fingerprint = getattr(ds, "_fingerprint", None)
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
class _IdSink:
    """Append-only int32 token-id storage: a file in a cache folder, or memory when not caching."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.parts: list[np.ndarray] = []
        self.lengths: list[np.ndarray] = []
        self.fh = open(folder / "ids.bin", "wb") if folder is not None else None
        self.n = 0

    def add(self, ids: np.ndarray, lengths: np.ndarray, continues: bool = False) -> None:
        """Append the ids of some lines; `continues`: their first line is the rest of the last one added."""
        ids = ids.astype(np.int32, copy=False)
        if continues and self.lengths and len(lengths):
            last = self.lengths[-1] = self.lengths[-1].copy()
            last[-1] += lengths[0]
            lengths = lengths[1:]
        if self.fh is not None:
            self.fh.write(ids.tobytes())
        else:
            self.parts.append(ids)
        if len(lengths):  # (so that the last array, when there is one, ends with the last line)
            self.lengths.append(lengths.astype(np.int64, copy=False))
        self.n += len(ids)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        if self.fh is not None:
            self.fh.close()
            ids = (
                np.memmap(self.folder / "ids.bin", dtype=np.int32, mode="r+", shape=(self.n,))
                if self.n
                else np.zeros(0, np.int32)
            )
        else:
            ids = np.concatenate(self.parts) if self.parts else np.zeros(0, np.int32)
        return ids, offsets


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
    first-appearance order and the map from the provisional ids written to the sink to those words; with
    a tokenizer returns None (the sink holds final ids)."""
    import pandas as pd

    if tokenizer is not None:
        backend = tokenizer.backend_tokenizer
        vocab_index = pd.Index(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer)))))
    else:
        backend = build_backend({SPECIAL_TOKENS[0]: 0}, **options)
        vocab_index = None
    splitter = fast_splitter(backend)
    chunk_words: list[np.ndarray] = []  # per batch: its distinct words, in first-appearance order
    chunk_counts: list[np.ndarray] = []
    base = 0
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
            else:
                words_per_line = _split_words(backend, None, lines)
                lengths = np.fromiter(map(len, words_per_line), dtype=np.int64, count=len(words_per_line))
                flat = np.fromiter(
                    itertools.chain.from_iterable(words_per_line), dtype=object, count=int(lengths.sum())
                )
            if vocab_index is not None:
                ids = vocab_index.get_indexer(flat)
                ids[ids < 0] = 0
                sink.add(ids, lengths, continues)
                continues = isinstance(lines, _ContinuedLines)
                continue
            # provisional id = position in the concatenation of every batch's distinct words; one global
            # factorize at the end merges them (no per-word Python)
            codes, uniques = pd.factorize(flat)
            chunk_words.append(np.asarray(uniques, dtype=object))
            chunk_counts.append(np.bincount(codes, minlength=len(uniques)))
            sink.add(codes + base, lengths, continues)
            continues = isinstance(lines, _ContinuedLines)
            base += len(uniques)
    finally:
        if progress is not None:
            progress.close()
    if vocab_index is not None:
        return None
    if not chunk_words:
        return [], np.zeros(0, np.int64), np.zeros(0, np.int64)
    prov_to_word, words = pd.factorize(np.concatenate(chunk_words))  # keeps first-appearance order
    counts = np.bincount(prov_to_word, weights=np.concatenate(chunk_counts), minlength=len(words))
    return list(words), np.rint(counts).astype(np.int64), prov_to_word


def _remap_inplace(ids: np.ndarray, remap: np.ndarray, chunk: int = 1 << 24) -> None:
    for lo in range(0, len(ids), chunk):
        ids[lo : lo + chunk] = remap[ids[lo : lo + chunk]]


def load_corpus(
    source: Any = None,
    *,
    tokenizer: WordTokenizer | None = None,
    min_count: int = 5,
    max_vocab_size: int | None = None,
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

    With `tokenizer=None` a vocabulary of the words seen >= `min_count` times (at most `max_vocab_size`)
    is built in the same pass, with counts; otherwise `tokenizer`'s vocabulary is used as is.

    Example:
        >>> corpus = load_corpus(["the cat sat", "the dog sat"], min_count=1)
        >>> corpus.num_tokens, len(corpus), corpus.decode(1)
        (6, 2, ['the', 'dog', 'sat'])
    """
    check_vocabulary_args(min_count, max_vocab_size)
    options = dict(
        lowercase=lowercase, unicode_normalization=unicode_normalization, split_punctuation=split_punctuation
    )
    build_backend({SPECIAL_TOKENS[0]: 0}, **options)  # validates the options early
    src = _resolve(source, text_column, split, config_name)

    folder = None
    if use_cache and src.fingerprint:
        key = hashlib.sha256(
            json.dumps(
                {
                    "v": CACHE_FORMAT_VERSION,
                    "source": src.fingerprint,
                    "options": options,
                    "min_count": min_count,
                    "max_vocab_size": max_vocab_size,
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
            words, counts, prov_to_word = built
            kept, kept_counts, remap = finalize_vocabulary(
                words, counts, min_count, max_vocab_size, src.description
            )
            _remap_inplace(ids, remap[prov_to_word])
            stats.update(
                min_count=min_count, max_vocab_size=max_vocab_size, distinct_words=len(words), **options
            )
            tokenizer = WordTokenizer.from_vocabulary(
                kept, kept_counts, unk_count=int(counts[remap == 0].sum()), stats=stats, **options
            )
        elif offsets[-1] == 0:
            raise CorpusError(f"corpus {src.description} is empty: no words found")
        if offsets[-1] == 0:
            raise CorpusError(f"corpus {src.description} is empty: no words found")
        corpus = TokenizedCorpus(ids, offsets, tokenizer, src.description, None, stats)
        if tmp is not None:
            if isinstance(ids, np.memmap):
                ids.flush()
            np.save(tmp / "offsets.npy", offsets)
            if built is not None:
                tokenizer.save_pretrained(tmp / "tokenizer")
            (tmp / "meta.json").write_text(
                json.dumps(
                    {"format_version": CACHE_FORMAT_VERSION, "stats": stats, "checksums": _checksums(tmp)}
                )
            )
            del ids, corpus
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
        return corpus
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _check_offsets(folder: Path, offsets: np.ndarray) -> None:
    """Raise ValueError unless offsets.npy is a non-decreasing integer array from 0 whose last value
    matches the size of ids.bin (checked before the file is mapped)."""
    if offsets.ndim != 1 or len(offsets) < 1 or offsets.dtype.kind not in "iu" or offsets[0] != 0:
        raise ValueError("offsets.npy is not a 1-D integer array starting at 0")
    if len(offsets) > 1 and np.any(np.diff(offsets) < 0):
        raise ValueError("offsets.npy is not non-decreasing")
    n = int(offsets[-1])
    size = (folder / "ids.bin").stat().st_size if n else 0
    if size != 4 * n:
        raise ValueError(f"ids.bin holds {size} bytes, expected {4 * n}")


def _check_ids(ids: np.ndarray, vocab_size: int) -> None:
    """Raise ValueError unless every id is in the vocabulary (a damaged ids.bin must never reach a
    compiled kernel): one min/max pass over the memmap, in chunks."""
    for lo in range(0, len(ids), 1 << 24):
        chunk = ids[lo : lo + (1 << 24)]
        low, high = int(chunk.min()), int(chunk.max())
        if low < 0 or high >= vocab_size:
            raise ValueError(f"token ids out of range: [{low}, {high}] for a vocabulary of {vocab_size}")


def _checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of the cache entry's small files (offsets, tokenizer): an edit that keeps them well-formed
    (a renamed word, a special token turned into a word) must not be served. ids.bin is too large to hash
    on every open; its ids are range-checked instead."""
    files = [folder / "offsets.npy", *sorted((folder / "tokenizer").glob("*"))]
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in files
        if p.is_file()
    }


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
        offsets = np.load(folder / "offsets.npy", allow_pickle=False)
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
