"""Helpers shared by the word2vec and GloVe readers and writers.

Reading: argument checks, opening (compressed files looked through), word decoding, duplicate
detection and error excerpts. Writing: table and word checks, exact text rows, atomic output, and
:func:`write_table`, the writer behind both ``write_word2vec_format`` and ``write_glove_format``.
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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

import numpy as np
from numpy.typing import DTypeLike

from ...errors import FormatError, HFEmbeddingsError
from ...text.sources import COMPRESSED_FILE_TYPES, DECOMPRESSION_ERRORS, open_compressed

PathLike = str | os.PathLike

BOM = b"\xef\xbb\xbf"
_WS_RE = re.compile(r"[ \t\n\r\x0b\x0c]")


# --------------------------------------------------------------------------- reading


def preview(raw: bytes, width: int = 40) -> str:
    """A short printable excerpt of raw bytes for error messages."""
    text = raw[:width].decode("utf-8", "backslashreplace").rstrip("\r\n")
    return repr(text + ("..." if len(raw) > width else ""))


def is_float(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def check_read_args(limit: int | None, unicode_errors: str, dtype: DTypeLike) -> np.dtype:
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


@contextmanager
def reading(path: PathLike) -> Iterator[IO[bytes]]:
    """Open ``path`` (compression detected by suffix or magic bytes) and turn decompression failures
    inside the block into FormatError."""
    f = open_compressed(path, sniff=True)
    compressed = isinstance(f, COMPRESSED_FILE_TYPES)
    try:
        with f:
            yield f
    except DECOMPRESSION_ERRORS as exc:
        if not compressed:
            raise
        raise FormatError(f"corrupt or truncated compressed data ({exc})", path=path) from exc


def decode_word(raw: bytes, unicode_errors: str, path: PathLike, where: str, line: int | None) -> str:
    try:
        return raw.decode("utf-8", unicode_errors)
    except UnicodeDecodeError:
        raise FormatError(
            f"{where}: word is not valid UTF-8 (pass unicode_errors='replace' or 'ignore' to read it anyway)",
            path=path,
            line=line,
            expected="UTF-8 bytes",
            found=preview(raw),
        ) from None


def unique_rows(rows: Iterable[tuple[str, Any, int]], path: PathLike, unit: str) -> Iterator[tuple[str, Any]]:
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


def parse_header(line: bytes) -> tuple[int, int] | None:
    """``(count, dim)`` if ``line`` is exactly two integers (a word2vec ``"N D"`` header), else None."""
    parts = line.split()
    if len(parts) != 2:
        return None
    try:
        return int(parts[0]), int(parts[1])
    except ValueError:
        return None


# --------------------------------------------------------------------------- writing


@contextmanager
def atomic_output(path: PathLike) -> Iterator[IO[bytes]]:
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


def check_table(words: Sequence[str], vectors: Any) -> np.ndarray:
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


def encode_word(word: Any, index: int, seen: dict[str, int]) -> bytes:
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
            word = encode_word(words[start + offset], start + offset, seen)
            lines.append(word + b" " + (fmt % tuple(row)).encode("ascii") + b"\n")
        out.write(b"".join(lines))


def write_table(path: PathLike, words: Sequence[str], vectors: Any, *, binary: bool, header: bool) -> None:
    """Write ``(words, vectors)`` as word2vec text/binary or (``header=False``) GloVe text, atomically.

    The rules are those documented on ``write_word2vec_format``.
    """
    words = words if isinstance(words, Sequence) else list(words)
    arr = check_table(words, vectors)
    if binary and not header:
        raise ValueError("binary word2vec files always have a header")
    with atomic_output(path) as out:
        if header:
            out.write(f"{arr.shape[0]} {arr.shape[1]}\n".encode("ascii"))
        if not binary:
            _write_text_rows(out, words, arr)
            return
        data = np.ascontiguousarray(arr, dtype="<f4")
        seen: dict[str, int] = {}
        for i, row in enumerate(data):
            out.write(encode_word(words[i], i, seen) + b" " + row.tobytes() + b"\n")
