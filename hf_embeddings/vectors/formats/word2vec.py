"""Streaming readers and writers for the word2vec C-tool formats (text and binary).

Both formats start with a ``"N D"`` header line (vector count, dimension). Text rows are
``word v1 ... vD``; binary records are the word's UTF-8 bytes, one space, ``D`` little-endian
float32 and usually a ``"\\n"`` (the C tool writes it, gensim does not; both are read).

Readers stream: the ``(N, D)`` array is allocated from the header and filled record by record,
so a 3M-word file never exists twice in memory. Every malformed file raises
:class:`~hf_embeddings.errors.FormatError` naming the file and the line (text) or entry
(binary), never a bare numpy/struct/UnicodeDecodeError. Writers are atomic: they write a
temporary file next to the target and ``os.replace`` it, so a crash or a bad word never leaves
a half-written file behind.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import gzip
import lzma
import os
import re
import secrets
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any, Literal

import numpy as np
from numpy.typing import DTypeLike

from ...errors import FormatError, HFEmbeddingsError

__all__ = [
    "detect_vector_format",
    "iter_word2vec_format",
    "read_word2vec_format",
    "to_gensim_keyed_vectors",
    "write_word2vec_format",
]

VectorFormat = Literal["word2vec_binary", "word2vec_text", "glove_text"]
PathLike = str | os.PathLike

_CHUNK = 1 << 20  # bytes read at a time from binary files
_MAX_WORD_BYTES = 1 << 16  # a "word" longer than this means the file is garbled
_MAX_HEADER_BYTES = 1 << 10
_MAX_SNIFF_BYTES = 1 << 22
_BOM = b"\xef\xbb\xbf"
_ASCII_WS = b" \t\n\r\x0b\x0c"  # exactly what bytes.split() splits on
_WS_RE = re.compile(r"[ \t\n\r\x0b\x0c]")
_CONTROL = bytes(c for c in range(32) if c not in (9, 13))  # control bytes other than \t and \r
_MAGIC = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))
_SUFFIX_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open, ".lzma": lzma.open}
_DECOMPRESSION_ERRORS = (EOFError, OSError, zlib.error, lzma.LZMAError)


# --------------------------------------------------------------------------- shared helpers


def _preview(raw: bytes, width: int = 40) -> str:
    """A short printable excerpt of raw bytes for error messages."""
    text = raw[:width].decode("utf-8", "backslashreplace").rstrip("\r\n")
    return repr(text + ("..." if len(raw) > width else ""))


def _is_float(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _check_read_args(limit: int | None, unicode_errors: str, dtype: DTypeLike) -> np.dtype:
    """Validate reader arguments up front so bad calls fail before any I/O."""
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise ValueError(f"limit must be None or a non-negative int, got {limit!r}")
    try:
        codecs.lookup_error(unicode_errors)
    except LookupError:
        raise ValueError(f"unknown unicode_errors handler {unicode_errors!r}") from None
    out = np.dtype(dtype)
    if not np.issubdtype(out, np.floating):
        raise ValueError(f"dtype must be a floating type, got {out}")
    return out


def _open_compressed(path: PathLike) -> IO[bytes]:
    """Open for binary reading, decompressing .gz/.bz2/.xz by suffix (or by magic bytes if no known suffix)."""
    name = os.fspath(path)
    opener = _SUFFIX_OPENERS.get(os.path.splitext(name)[1].lower())
    if opener is None:
        with open(name, "rb") as probe:
            magic = probe.read(6)
        opener = next((op for sig, op in _MAGIC if magic.startswith(sig)), open)
    return opener(name, "rb")


@contextmanager
def _reading(path: PathLike) -> Iterator[IO[bytes]]:
    """Open ``path`` and turn decompression failures inside the block into FormatError."""
    f = _open_compressed(path)
    compressed = isinstance(f, (gzip.GzipFile, bz2.BZ2File, lzma.LZMAFile))
    try:
        with f:
            yield f
    except _DECOMPRESSION_ERRORS as exc:
        if not compressed:
            raise
        raise FormatError(f"corrupt or truncated compressed data ({exc})", path=path) from exc


def _decode(raw: bytes, unicode_errors: str, path: PathLike, where: str, line: int | None) -> str:
    try:
        return raw.decode("utf-8", unicode_errors)
    except UnicodeDecodeError:
        raise FormatError(
            f"{where}: word is not valid UTF-8 (pass unicode_errors='replace' or 'ignore' to read it anyway)",
            path=path,
            line=line,
            expected="UTF-8 bytes",
            found=_preview(raw),
        ) from None


def _unique(rows: Iterable[tuple[str, Any, int]], path: PathLike, unit: str) -> Iterator[tuple[str, Any]]:
    """Pass rows through, raising on the first word seen twice (a silent overwrite would lose a vector)."""
    seen: dict[str, int] = {}
    for word, values, pos in rows:
        first = seen.setdefault(word, pos)
        if first != pos:
            raise FormatError(
                f"duplicate word {word!r} at {unit} {first} and {unit} {pos}",
                path=path,
                line=pos if unit == "line" else None,
            )
        yield word, values


def _allocate(count: int, dim: int, dtype: np.dtype, path: PathLike) -> np.ndarray:
    try:
        return np.empty((count, dim), dtype=dtype)
    except (MemoryError, ValueError):
        raise FormatError(
            f"cannot allocate the {count} x {dim} array the header declares; pass limit= to read fewer",
            path=path,
            line=1,
        ) from None


def _parse_header(line: bytes) -> tuple[int, int] | None:
    parts = line.split()
    if len(parts) != 2:
        return None
    try:
        return int(parts[0]), int(parts[1])
    except ValueError:
        return None


def _read_header(f: IO[bytes], path: PathLike) -> tuple[int, int, int]:
    """Return (declared count, dim, header byte length); the header is what makes a file word2vec."""
    raw = f.readline(_MAX_HEADER_BYTES)
    header = _parse_header(raw[3:] if raw.startswith(_BOM) else raw)
    if header is None:
        raise FormatError(
            "missing or garbled word2vec header (headerless GloVe-style text: use no_header=True)",
            path=path,
            line=1,
            expected="'N D' header",
            found=_preview(raw) if raw else "an empty file",
        )
    count, dim = header
    if count <= 0 or dim <= 0:
        raise FormatError(
            "header must declare a positive vector count and dimension",
            path=path,
            line=1,
            expected="'N D' with N, D > 0",
            found=_preview(raw),
        )
    return count, dim, len(raw)


# --------------------------------------------------------------------------- format detection


def _looks_like_text_row(sample: bytes, dim: int) -> bool:
    """Decide text vs binary from the bytes after the header (see detect_vector_format)."""
    s = sample.lstrip(b"\r\n")
    if not s.strip():
        return True  # nothing after the header: either reader reports the truncation the same way
    m = re.search(rb"[ \t]", s)
    if m is None:
        return False
    region = s[m.end() :].split(b"\n", 1)[0]
    if not region.strip() or not region.isascii() or len(region.translate(None, _CONTROL)) != len(region):
        return False
    tokens = region.split()
    numeric = sum(map(_is_float, tokens))
    if len(tokens) == dim and numeric == dim:
        return True
    # A malformed text row (wrong count, a typo'd value) is still text: the text reader then names it.
    return len(tokens) >= 2 and 2 * numeric >= len(tokens)


def detect_vector_format(path: PathLike) -> VectorFormat:
    """Guess whether ``path`` is word2vec binary, word2vec text or headerless GloVe text.

    Why a heuristic: none of these formats carries a magic number. The rule:

    * first line is exactly two integers -> a word2vec ``"N D"`` header (a 1-d GloVe row whose word
      is an integer is therefore read as a header; pass ``binary=``/use the GloVe reader explicitly);
    * otherwise, a first line ``word v1 ... vD`` ending in a number -> ``"glove_text"``;
    * after a header, skip newlines, find the first word's space, and look at the bytes up to the
      next ``"\\n"``: if they are printable ASCII that split into exactly D floats (or, for a malformed
      text row, into >= 2 tokens at least half of which are floats) -> ``"word2vec_text"``, else
      ``"word2vec_binary"``. Real float32 bytes almost always contain non-ASCII or control bytes; the
      only realistic ambiguity is D = 1, where 4 float bytes can spell a number (pass ``binary=``).

    Compressed files (.gz/.bz2/.xz) are looked through.
    """
    with _reading(path) as f:
        first = f.readline(_MAX_SNIFF_BYTES)
        if first.startswith(_BOM):
            first = first[3:]
        if not first:
            raise FormatError("file is empty", path=path)
        header = _parse_header(first)
        if header is None:
            fields = first.split()
            if len(fields) >= 2 and _is_float(fields[-1]):
                return "glove_text"
            raise FormatError(
                "not a word-vector file",
                path=path,
                line=1,
                expected="an 'N D' header or a 'word v1 ... vD' row",
                found=_preview(first),
            )
        dim = header[1]
        sample = f.read(min(_MAX_SNIFF_BYTES, _MAX_WORD_BYTES + 32 * max(dim, 1) + 2))
    return "word2vec_text" if _looks_like_text_row(sample, dim) else "word2vec_binary"


# --------------------------------------------------------------------------- record parsers


def _text_rows(
    f: IO[bytes],
    path: PathLike,
    count: int,
    declared: int,
    dim: int,
    unicode_errors: str,
    check_trailing: bool,
) -> Iterator[tuple[str, list[float], int]]:
    """Yield (word, values, line number) for ``count`` text rows after the header (line 1)."""
    line_no = 1
    read = 0
    readline = f.readline
    while read < count:
        raw = readline()
        line_no += 1
        if not raw:
            raise FormatError(f"header declares {declared} vectors, file ends after {read}", path=path)
        fields = raw.split()
        if not fields:
            continue  # blank lines carry nothing
        word = _decode(fields[0], unicode_errors, path, f"vector {read + 1}", line_no)
        if len(fields) != dim + 1:
            raise FormatError(
                f"wrong number of values for word {word!r}",
                path=path,
                line=line_no,
                expected=f"{dim} (from the header)",
                found=str(len(fields) - 1),
            )
        try:
            values = list(map(float, fields[1:]))
        except ValueError:
            bad = next(t for t in fields[1:] if not _is_float(t))
            raise FormatError(
                f"non-numeric value for word {word!r}",
                path=path,
                line=line_no,
                expected="a number",
                found=_preview(bad),
            ) from None
        yield word, values, line_no
        read += 1
    if check_trailing:
        for raw in iter(readline, b""):
            line_no += 1
            if raw.strip():
                raise FormatError(
                    f"header declares {declared} vectors but the file holds more",
                    path=path,
                    line=line_no,
                    expected="end of file",
                    found=_preview(raw),
                )


def _binary_rows(
    f: IO[bytes],
    path: PathLike,
    count: int,
    declared: int,
    dim: int,
    unicode_errors: str,
    check_trailing: bool,
    offset: int,
) -> Iterator[tuple[str, np.ndarray, int]]:
    """Yield (word, float32 view, entry number) for ``count`` binary records, reading 1 MiB chunks.

    ``offset`` is the file position of the first record, used to report byte offsets in errors.
    Leading newlines before a word are skipped, so files with and without a newline after each
    vector both parse. The yielded vector is a read-only view: copy it before keeping it.
    """
    vec_bytes = 4 * dim
    buf = b""
    pos = 0  # start of the unread part of buf
    base = offset  # file offset of buf[0]
    for i in range(count):
        entry = i + 1
        sp = buf.find(b" ", pos)
        while sp == -1:
            rest = buf[pos:]
            if len(rest) > _MAX_WORD_BYTES:
                raise FormatError(
                    f"entry {entry} (byte offset {base + pos}): no space after the word within "
                    f"{_MAX_WORD_BYTES} bytes; is this really a binary word2vec file?",
                    path=path,
                    expected="'word' + space + vector",
                    found=_preview(rest),
                )
            chunk = f.read(_CHUNK)
            if not chunk:
                leftover = (
                    f" (a partial record {_preview(rest.strip(_ASCII_WS))} follows)" if rest.strip() else ""
                )
                raise FormatError(
                    f"header declares {declared} vectors, file ends after {i}{leftover}", path=path
                )
            base += pos
            buf, pos = rest + chunk, 0
            sp = buf.find(b" ", len(rest))
        word_bytes = buf[pos:sp].lstrip(b"\r\n")
        where = f"entry {entry} (byte offset {base + pos})"
        if not word_bytes or any(c in word_bytes for c in (b"\n", b"\t", b"\r")):
            raise FormatError(
                f"{where}: expected a word before the vector; is the dimension in the header ({dim}) right?",
                path=path,
                expected="'word '",
                found=_preview(buf[pos : sp + 1]),
            )
        word = _decode(word_bytes, unicode_errors, path, where, None)
        end = sp + 1 + vec_bytes
        while end > len(buf):
            chunk = f.read(max(_CHUNK, end - len(buf)))
            if not chunk:
                raise FormatError(
                    f"{where}: truncated vector for word {word!r}; header declares {declared} vectors, "
                    f"file ends after {i}",
                    path=path,
                    expected=f"{vec_bytes} bytes",
                    found=f"{len(buf) - sp - 1} bytes",
                )
            base += pos
            buf, sp, end, pos = buf[pos:] + chunk, sp - pos, end - pos, 0
        yield word, np.frombuffer(buf, dtype="<f4", count=dim, offset=sp + 1), entry
        pos = end
    if check_trailing:
        rest = buf[pos:]
        while True:
            if rest.strip(_ASCII_WS):
                raise FormatError(
                    f"header declares {declared} vectors but more data follows "
                    f"(byte offset {base + pos + len(rest) - len(rest.lstrip(_ASCII_WS))})",
                    path=path,
                    expected="end of file",
                    found=_preview(rest.lstrip(_ASCII_WS)),
                )
            base += pos + len(rest)
            pos = 0
            rest = f.read(_CHUNK)
            if not rest:
                break


@contextmanager
def _word2vec_records(
    path: PathLike, binary: bool | None, limit: int | None, unicode_errors: str
) -> Iterator[tuple[int, int, Iterator[tuple[str, Any]]]]:
    """Open a word2vec file and yield (rows to read, dim, record iterator) with duplicates rejected."""
    if binary is None:
        kind = detect_vector_format(path)
        if kind == "glove_text":
            with _reading(path) as f:
                _read_header(f, path)  # raises the precise "missing header" error
        binary = kind == "word2vec_binary"
    with _reading(path) as f:
        declared, dim, header_len = _read_header(f, path)
        count = declared if limit is None else min(declared, limit)
        check_trailing = limit is None
        if binary:
            rows = _binary_rows(f, path, count, declared, dim, unicode_errors, check_trailing, header_len)
        else:
            rows = _text_rows(f, path, count, declared, dim, unicode_errors, check_trailing)
        yield count, dim, _unique(rows, path, "entry" if binary else "line")


# --------------------------------------------------------------------------- public readers


def iter_word2vec_format(
    path: PathLike,
    *,
    binary: bool | None = None,
    limit: int | None = None,
    unicode_errors: str = "strict",
    dtype: DTypeLike = np.float32,
    no_header: bool = False,
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(word, vector)`` pairs one at a time, for files too large to hold in memory.

    Takes the same arguments as :func:`read_word2vec_format`; each vector is a fresh array.
    """
    out_dtype = _check_read_args(limit, unicode_errors, dtype)
    if no_header:
        if binary:
            raise ValueError("no_header=True applies to text files only: binary word2vec always has a header")
        from .glove import iter_glove_format

        yield from iter_glove_format(path, limit=limit, unicode_errors=unicode_errors, dtype=out_dtype)
        return
    with _word2vec_records(path, binary, limit, unicode_errors) as (_, _, rows):
        for word, values in rows:
            yield word, np.array(values, dtype=out_dtype)


def read_word2vec_format(
    path: PathLike,
    *,
    binary: bool | None = None,
    limit: int | None = None,
    unicode_errors: str = "strict",
    dtype: DTypeLike = np.float32,
    no_header: bool = False,
) -> tuple[list[str], np.ndarray]:
    """Read a word2vec text or binary file (optionally .gz/.bz2/.xz) into ``(words, vectors)``.

    ``binary=None`` auto-detects (see :func:`detect_vector_format`). ``limit`` reads only the first
    N vectors (the rest of the file is not touched). ``unicode_errors`` is passed to
    ``bytes.decode``: the C tool truncates long words mid-character, which ``'replace'`` or
    ``'ignore'`` tolerate. ``no_header=True`` reads headerless text (GloVe-style, see
    :func:`~hf_embeddings.vectors.formats.glove.read_glove_format`). The array is allocated once from the
    header and filled as the file streams by; without ``limit`` the whole file is validated,
    including that it holds exactly the declared number of vectors.
    """
    out_dtype = _check_read_args(limit, unicode_errors, dtype)
    if no_header:
        if binary:
            raise ValueError("no_header=True applies to text files only: binary word2vec always has a header")
        from .glove import read_glove_format

        return read_glove_format(path, limit=limit, unicode_errors=unicode_errors, dtype=out_dtype)
    with _word2vec_records(path, binary, limit, unicode_errors) as (count, dim, rows):
        vectors = _allocate(count, dim, out_dtype, path)
        words: list[str] = []
        for i, (word, values) in enumerate(rows):
            words.append(word)
            vectors[i] = values
    return words, vectors


# --------------------------------------------------------------------------- writers


@contextmanager
def _atomic_output(path: PathLike) -> Iterator[IO[bytes]]:
    """Yield a binary stream whose content replaces ``path`` only if the block finishes.

    The temporary file lives in the target's directory so ``os.replace`` is an atomic rename;
    it is compressed by the target's suffix (.gz/.bz2/.xz) and fsync'ed before the rename.
    """
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    tmp = os.path.join(directory, f".{os.path.basename(target)}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with open(fd, "wb") as raw:
            suffix = os.path.splitext(target)[1].lower()
            stream: IO[bytes]
            if suffix == ".gz":
                stream = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
            elif suffix == ".bz2":
                stream = bz2.BZ2File(raw, "wb")
            elif suffix in (".xz", ".lzma"):
                stream = lzma.LZMAFile(
                    raw, "wb", format=lzma.FORMAT_XZ if suffix == ".xz" else lzma.FORMAT_ALONE
                )
            else:
                stream = raw
            try:
                yield stream
            finally:
                if stream is not raw:
                    stream.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows it
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _check_table(words: Sequence[str], vectors: Any) -> np.ndarray:
    """Validate the (words, vectors) pair shared by every writer; returns vectors as an ndarray."""
    arr = np.asarray(vectors)
    if arr.ndim != 2:
        raise HFEmbeddingsError(f"vectors must be a 2-d array, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise HFEmbeddingsError(f"vectors must be real numbers, got dtype {arr.dtype}")
    if len(words) != arr.shape[0]:
        raise HFEmbeddingsError(f"{len(words)} words but {arr.shape[0]} vectors")
    if arr.shape[1] == 0:
        raise HFEmbeddingsError("vectors have dimension 0")
    return arr


def _encode_word(word: Any, index: int, seen: dict[str, int]) -> bytes:
    """Check one word for the writers (str, non-empty, no separator whitespace, unique) and encode it."""
    if not isinstance(word, str):
        raise HFEmbeddingsError(f"word #{index} is a {type(word).__name__}, not a str: {word!r}")
    if not word or _WS_RE.search(word):
        raise HFEmbeddingsError(
            f"word #{index} {word!r} is empty or contains whitespace, which the format uses as a separator"
        )
    first = seen.setdefault(word, index)
    if first != index:
        raise HFEmbeddingsError(f"duplicate word {word!r} at positions {first} and {index}")
    try:
        return word.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise HFEmbeddingsError(f"word #{index} {word!r} cannot be encoded as UTF-8: {exc}") from None


def _write_text_rows(out: IO[bytes], words: Sequence[str], arr: np.ndarray) -> None:
    """Write ``word v1 ... vD`` lines whose numbers parse back to exactly the same floats.

    float64 input uses ``repr`` (shortest exact float64); anything else is stored as float32 with
    ``%.9g``: 9 significant digits identify a float32 uniquely, and the decimal is within 0.09 ulp
    of the value, so even parsing via float64 (as Python, numpy and gensim do) rounds back exactly.
    """
    if arr.dtype == np.float64 or np.issubdtype(arr.dtype, np.integer):
        data, spec = arr.astype(np.float64, copy=False), "%r"
    else:
        data, spec = arr.astype(np.float32, copy=False), "%.9g"
    fmt = " ".join([spec] * data.shape[1])
    seen: dict[str, int] = {}
    block = 1024
    for start in range(0, data.shape[0], block):
        lines = []
        for offset, row in enumerate(data[start : start + block].tolist()):
            word = _encode_word(words[start + offset], start + offset, seen)
            lines.append(word + b" " + (fmt % tuple(row)).encode("ascii") + b"\n")
        out.write(b"".join(lines))


def write_word2vec_format(
    path: PathLike,
    words: Sequence[str],
    vectors: Any,
    *,
    binary: bool = False,
    header: bool = True,
) -> None:
    """Write ``(words, vectors)`` in word2vec text or binary format, atomically.

    Text values round-trip exactly (float32 via ``%.9g``, float64 via ``repr``). Binary stores
    little-endian float32 plus ``"\\n"`` after each vector, as the C tool does (float64 input is
    rounded to float32 there: the format has no other width). ``header=False`` writes headerless
    (GloVe-style) text. A ``.gz``/``.bz2``/``.xz`` suffix compresses. Words must be unique,
    non-empty and free of ASCII whitespace; a bad word aborts the write and leaves no file.
    """
    words = words if isinstance(words, Sequence) else list(words)
    arr = _check_table(words, vectors)
    if binary and not header:
        raise ValueError("binary word2vec files always have a header")
    with _atomic_output(path) as out:
        if header:
            out.write(f"{arr.shape[0]} {arr.shape[1]}\n".encode("ascii"))
        if not binary:
            _write_text_rows(out, words, arr)
            return
        data = np.ascontiguousarray(arr, dtype="<f4")
        seen: dict[str, int] = {}
        for i, row in enumerate(data):
            out.write(_encode_word(words[i], i, seen) + b" " + row.tobytes() + b"\n")


# --------------------------------------------------------------------------- gensim bridge


def to_gensim_keyed_vectors(
    words: Sequence[str],
    vectors: Any,
    counts: Sequence[int] | Mapping[str, int] | None = None,
) -> Any:
    """Build a ``gensim.models.KeyedVectors`` in memory (no file round trip, no pickle).

    ``counts`` (aligned with ``words``, or a word -> count mapping) becomes gensim's ``count``
    vector attribute, which its ``save_word2vec_format`` uses to order words.
    """
    try:
        from gensim.models import KeyedVectors
    except ImportError as exc:
        raise ImportError(
            "to_gensim_keyed_vectors needs gensim: pip install gensim (or pip install 'hf-embeddings[test]')"
        ) from exc
    words = list(words)
    arr = _check_table(words, vectors)
    if len(set(words)) != len(words):
        seen: dict[str, int] = {}
        for i, word in enumerate(words):
            first = seen.setdefault(word, i)
            if first != i:
                raise HFEmbeddingsError(f"duplicate word {word!r} at positions {first} and {i}")
    dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float32
    kv = KeyedVectors(vector_size=arr.shape[1], count=0, dtype=dtype)
    kv.add_vectors(words, arr.astype(dtype, copy=False))
    if counts is not None:
        values = [counts[w] for w in words] if isinstance(counts, Mapping) else list(counts)
        if len(values) != len(words):
            raise HFEmbeddingsError(f"{len(values)} counts but {len(words)} words")
        kv.allocate_vecattrs(["count"], [np.int64])
        kv.expandos["count"][:] = np.asarray(values, dtype=np.int64)
    return kv
