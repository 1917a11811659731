"""Helpers shared by the word2vec and GloVe readers and writers.

Reading: argument checks, opening (compressed files looked through), bounded line reading, word
decoding, duplicate detection, the finiteness check, the cut-last-row check and error excerpts.
Writing: table and word checks, exact text rows, atomic output, and :func:`write_table`, the writer
behind both ``write_word2vec_format`` and ``write_glove_format``.
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
import stat
import sys
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

#: A "word" longer than this means the file is garbled (binary records; the word part of a text row).
MAX_WORD_BYTES = 1 << 16
#: The most bytes one value of a text row may take, separators included: a float64 ``repr`` is at most
#: 24 characters and word2vec.c's ``"%lf "`` of 3.4e38 is 47. A text line longer than a word plus this
#: much per value cannot be a row of that dimension and is refused before it is split.
MAX_BYTES_PER_VALUE = 64
#: Longest first row of a headerless (GloVe) file when ``dim`` is not given, i.e. before the dimension
#: is known: 16K values even at the full 64 bytes, 65K at ``%.9g``. Longer rows need ``dim=``.
MAX_FIRST_ROW_BYTES = 1 << 20
#: Values checked for NaN/inf at a time while a table is filled (bounds the boolean temporary).
_FINITE_CHECK_VALUES = 1 << 16


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


def check_leading_rows(leading_rows: int) -> int:
    """Validate the readers' ``leading_rows`` (zero rows before the file's vectors)."""
    if not isinstance(leading_rows, int) or isinstance(leading_rows, bool) or leading_rows < 0:
        raise ValueError(f"leading_rows must be a non-negative int, got {leading_rows!r}")
    return leading_rows


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


def unique_rows(
    rows: Iterable[tuple[str, Any, int, int]], path: PathLike, unit: str
) -> Iterator[tuple[str, Any, int]]:
    """Pass ``(word, values, pos, loc)`` rows on as ``(word, values, loc)``, raising on the first word
    seen twice (a silent overwrite would lose a vector). ``pos`` is the line (text) or entry (binary)
    number, ``loc`` what errors about the row name: the line (text) or byte offset (binary)."""
    seen: dict[str, int] = {}
    for word, values, pos, loc in rows:
        first = seen.setdefault(word, pos)
        if first != pos:
            raise FormatError(
                f"duplicate word {word!r} at {unit} {first} and {unit} {pos}",
                path=path,
                line=pos if unit == "line" else None,
            )
        yield word, values, loc


def plain_file_size(f: IO[bytes]) -> int | None:
    """The size of ``f`` if it is an uncompressed regular file (what the header is checked against)."""
    if isinstance(f, COMPRESSED_FILE_TYPES):
        return None
    try:
        st = os.fstat(f.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def row_bytes_limit(dim: int) -> int:
    """The longest text line (newline included) a row of ``dim`` values may be."""
    return min(MAX_WORD_BYTES + MAX_BYTES_PER_VALUE * dim, sys.maxsize - 1)


def read_line(readline: Any, limit: int, path: PathLike, line: int, why: str) -> bytes:
    """Read one line of at most ``limit`` bytes (newline included) without ever holding more.

    A longer line raises FormatError (``why`` says where the limit comes from): one huge "row" would
    otherwise be read whole and split into millions of objects.
    """
    raw = readline(limit + 1)
    if len(raw) > limit:
        raise FormatError(
            f"line is longer than {limit} bytes, more than {why}",
            path=path,
            line=line,
            expected=f"at most {limit} bytes",
            found=f"a longer line starting {preview(raw)}",
        )
    return raw


def check_last_row(raw: bytes, values: Sequence[bytes], path: PathLike, line: int, word: str) -> None:
    """Refuse a last line that looks cut: it has all its values but ends the file without a newline
    while its last value is shorter (sign aside) than every other value of the row.

    Every writer (ours, gensim, word2vec.c, GloVe) ends each row with a newline, so a file that stops
    mid-row usually stops inside a number (``0.12`` where ``0.1234`` was); rows with missing values
    are refused by the value count already. A complete last row without the final newline whose values
    are alike (``a 1 2 3``) or which ends in whitespace is read as it is.
    """
    if len(values) < 2 or raw[-1:].isspace():
        return
    last = len(values[-1].lstrip(b"+-"))
    shortest = min(len(v.lstrip(b"+-")) for v in values[:-1])
    if last < shortest:
        raise FormatError(
            f"the file ends inside the row of word {word!r}, which has no final newline and whose last "
            f"value is shorter than the others: the file looks truncated (end it with a newline if the "
            f"row is complete)",
            path=path,
            line=line,
            expected=f"a last value of at least {shortest} characters, then a newline",
            found=preview(values[-1]),
        )


class FiniteCheck:
    """Refuse NaN/inf (parsed, or out of range for the output dtype) in a table filled row by row,
    at no per-row cost.

    The reader calls ``check(table, filled, words)`` whenever ``filled`` (rows stored so far) reaches
    ``next`` (every ~64K values) and once at the end: the rows stored since the last check are tested
    with one vectorised ``np.isfinite(...).all()``. Row ``r`` of ``table`` is ``words[word_base + r]``.
    Only when a row fails is ``locate(index)`` called, to find its line (text) or byte offset (binary,
    with ``binary=True``) by reading the file again up to that row. ``enabled=False``
    (``allow_non_finite=True``) turns it off: ``next`` is then never reached.
    """

    def __init__(
        self,
        path: PathLike,
        dim: int,
        enabled: bool,
        locate: Any = None,
        *,
        binary: bool = False,
        word_base: int = 0,
    ) -> None:
        self.path, self.enabled, self.locate, self.binary = path, enabled, locate, binary
        self.word_base = word_base
        self.step = max(1, _FINITE_CHECK_VALUES // max(dim, 1))
        self.start = 0  # first table row not yet checked
        self.next = self.step if enabled else -1

    def check(self, table: np.ndarray, filled: int, words: Sequence[str]) -> None:
        if not self.enabled or filled <= self.start:
            return
        block = table[self.start : filled]
        if not np.isfinite(block).all():
            row = int((~np.isfinite(block)).any(axis=1).argmax())
            index = self.word_base + self.start + row
            self.fail(words[index], block[row], self.locate(index), index + 1)
        self.start = filled
        self.next = filled + self.step

    def check_row(self, word: str, vector: np.ndarray, loc: int, entry: int) -> None:
        """Check one row at once (the ``iter_*`` readers)."""
        if self.enabled and not np.isfinite(vector).all():
            self.fail(word, vector, loc, entry)

    def fail(self, word: str, vector: np.ndarray, loc: int, entry: int) -> None:
        col = int((~np.isfinite(vector)).argmax())
        message = (
            f"non-finite value for word {word!r} (value {col + 1} of {len(vector)}); "
            f"pass allow_non_finite=True (convert import: --allow-non-finite) to read it anyway"
        )
        if self.binary:
            message = f"entry {entry} (byte offset {loc}): {message}"
        raise FormatError(
            message,
            path=self.path,
            line=None if self.binary else loc,
            expected=f"a finite {vector.dtype} number",
            found=repr(float(vector[col])),
        )


def parse_header(line: bytes) -> tuple[int, int] | None:
    """``(count, dim)`` if ``line`` is exactly two integers (a word2vec ``"N D"`` header), else None."""
    parts = line.split(None, 2)  # at most 3 pieces: a long row is not split into all its tokens
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


def parse_values(raw: bytes, fields: list, path, line_no: int, word: str) -> list[float]:
    """The numbers of a text row after its word; a non-number, or a last row (no final newline) cut inside
    its last number (`check_last_row`), is a `FormatError` naming the line."""
    try:
        values = list(map(float, fields))
    except ValueError:
        bad = next(t for t in fields if not is_float(t))
        raise FormatError(
            f"non-numeric value for word {word!r}",
            path=path,
            line=line_no,
            expected="a number",
            found=preview(bad),
        ) from None
    if not raw.endswith(b"\n"):  # the file's last line
        check_last_row(raw, fields, path, line_no, word)
    return values
