"""Streaming readers and writers for the word2vec C-tool formats (text and binary).

Both formats start with a ``"N D"`` header line (vector count, dimension). Text rows are
``word v1 ... vD``; binary records are the word's UTF-8 bytes, one space, ``D`` little-endian
float32 and usually a ``"\\n"`` (the C tool writes it, gensim does not; both are read).

Readers stream: the ``(N, D)`` array is allocated from the header and filled record by record,
so a 3M-word file never exists twice in memory. The header is checked against the file size first
(a binary record takes at least ``4 D + 2`` bytes, a text row ``2 D + 1`` plus its newline): a
75-byte file claiming 600M words, or a compressed file (whose size is unknown), gets an array that
grows with the rows actually read, and is refused where it falls short of its header. A text line longer than a word
plus 64 bytes per value is refused before it is split. NaN and infinite values (also a number out of
float32 range, such as ``1e39``) are refused unless ``allow_non_finite=True``. Every malformed file
raises :class:`~hf_embeddings.errors.FormatError` naming the file and the line (text) or entry and
byte offset (binary), never a bare numpy/struct/UnicodeDecodeError/MemoryError. Writers are atomic: they write a
temporary file next to the target and ``os.replace`` it, so a crash or a bad word never leaves
a half-written file behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any, Literal

import numpy as np
from numpy.typing import DTypeLike

from ...errors import FormatError, HFEmbeddingsError
from ..gensim_bridge import gensim_keyed_vectors
from ._common import (
    BOM,
    MAX_WORD_BYTES,
    FiniteCheck,
    PathLike,
    check_leading_rows,
    check_read_args,
    check_table,
    decode_word,
    is_float,
    parse_header,
    parse_values,
    plain_file_size,
    preview,
    read_line,
    reading,
    row_bytes_limit,
    unique_rows,
    write_table,
)
from .glove import iter_glove_format, read_glove_format

#: not bundled as remote code: a model loaded with trust_remote_code needs the package for this
__package_only__ = True

__all__ = [
    "detect_vector_format",
    "iter_word2vec_format",
    "read_word2vec_format",
    "to_gensim_keyed_vectors",
    "write_word2vec_format",
]

VectorFormat = Literal["word2vec_binary", "word2vec_text", "glove_text"]

_CHUNK = 1 << 20  # bytes read at a time from binary files
_MAX_WORD_BYTES = MAX_WORD_BYTES  # a "word" longer than this means the file is garbled
_FIRST_ALLOCATION_BYTES = 4 << 20  # first array of a file of unknown size; then doubled as rows arrive
_MAX_HEADER_BYTES = 1 << 10
_MAX_SNIFF_BYTES = 1 << 22
_ASCII_WS = b" \t\n\r\x0b\x0c"  # exactly what bytes.split() splits on
_CONTROL = bytes(c for c in range(32) if c not in (9, 13))  # control bytes other than \t and \r


# --------------------------------------------------------------------------- header


def _allocate(count: int, dim: int, dtype: np.dtype, path: PathLike) -> np.ndarray:
    try:
        return np.empty((count, dim), dtype=dtype)
    except (MemoryError, ValueError):
        raise FormatError(
            f"cannot allocate the {count} x {dim} array the header declares; pass limit= to read fewer",
            path=path,
            line=1,
        ) from None


def _grow(vectors: np.ndarray, count: int, path: PathLike) -> np.ndarray:
    """Make room for one more row (file of unknown size): the first rows get ~4 MiB, then the capacity
    doubles, never past ``count``, so memory follows what has actually been read, not the header."""
    rows, dim = vectors.shape
    first = max(1, _FIRST_ALLOCATION_BYTES // (dim * vectors.dtype.itemsize))
    new = min(count, max(first, 2 * rows))
    try:
        vectors.resize((new, dim), refcheck=False)  # realloc: no copy where the OS can remap
    except (MemoryError, ValueError):
        raise FormatError(
            f"cannot allocate a {new} x {dim} array for the vectors read so far; pass limit= to read fewer",
            path=path,
        ) from None
    return vectors


def _fits(f: IO[bytes], count: int, dim: int, header_len: int, binary: bool) -> bool:
    """Whether ``count`` rows of ``dim`` values can fit in what follows the header of ``f``.

    Only then is the ``(count, dim)`` array allocated up front (it is then at most ~2x the file for
    float32). A header that claims more than the file can hold (600M x 300 in 75 bytes), or a file of
    unknown size (compressed, a pipe), gets an array that grows with the rows actually read instead,
    and the reader stops at the exact record where the file falls short of the claim.
    """
    size = plain_file_size(f)
    if size is None:
        return False
    # binary: word (>= 1 byte) + space + 4 D bytes; text: word + D x (separator + digit), newlines between
    need = count * (4 * dim + 2) if binary else count * (2 * dim + 2) - 1
    return need <= size - header_len


def _read_header(f: IO[bytes], path: PathLike) -> tuple[int, int, int]:
    """Return (declared count, dim, header byte length); the header is what makes a file word2vec."""
    raw = f.readline(_MAX_HEADER_BYTES)
    header = parse_header(raw[3:] if raw.startswith(BOM) else raw)
    if header is None:
        raise FormatError(
            "missing or garbled word2vec header (headerless GloVe-style text: use no_header=True)",
            path=path,
            line=1,
            expected="'N D' header",
            found=preview(raw) if raw else "an empty file",
        )
    count, dim = header
    if count <= 0 or dim <= 0:
        raise FormatError(
            "header must declare a positive vector count and dimension",
            path=path,
            line=1,
            expected="'N D' with N, D > 0",
            found=preview(raw),
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
    numeric = sum(map(is_float, tokens))
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
    with reading(path) as f:
        first = f.readline(_MAX_SNIFF_BYTES)
        if first.startswith(BOM):
            first = first[3:]
        if not first:
            raise FormatError("file is empty", path=path)
        header = parse_header(first)
        if header is None:
            fields = first.rsplit(None, 1)  # the last field; a long row is not split into all its tokens
            if len(fields) >= 2 and is_float(fields[-1]):
                return "glove_text"
            raise FormatError(
                "not a word-vector file",
                path=path,
                line=1,
                expected="an 'N D' header or a 'word v1 ... vD' row",
                found=preview(first),
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
) -> Iterator[tuple[str, list[float], int, int]]:
    """Yield (word, values, line number, line number) for ``count`` text rows after the header (line 1).

    Lines are read at most :func:`row_bytes_limit` bytes at a time and split into at most ``dim + 2``
    pieces, so a hostile line costs memory in proportion to the declared dimension, not its length.
    """
    line_no = 1
    read = 0
    readline = f.readline
    limit = row_bytes_limit(dim)
    why = f"a word and {dim} values (the header's dimension) can take"
    while read < count:
        line_no += 1
        raw = read_line(readline, limit, path, line_no, why)
        if not raw:
            raise FormatError(f"header declares {declared} vectors, file ends after {read}", path=path)
        fields = raw.split(None, dim + 1)
        if not fields:
            continue  # blank lines carry nothing
        word = decode_word(fields[0], unicode_errors, path, f"vector {read + 1}", line_no)
        if len(fields) != dim + 1:
            found = str(len(fields) - 1)
            if len(fields) > dim + 1:  # the last piece is the unsplit rest of the line
                rest = fields[-1]
                found = str(dim + len(rest.split())) if len(rest) <= 1 << 20 else f"more than {dim}"
            raise FormatError(
                f"wrong number of values for word {word!r}",
                path=path,
                line=line_no,
                expected=f"{dim} (from the header)",
                found=found,
            )
        values = parse_values(raw, fields[1:], path, line_no, word)
        yield word, values, line_no, line_no
        read += 1
    if check_trailing:
        while raw := read_line(readline, limit, path, line_no + 1, why):
            line_no += 1
            if not raw.isspace():
                raise FormatError(
                    f"header declares {declared} vectors but the file holds more",
                    path=path,
                    line=line_no,
                    expected="end of file",
                    found=preview(raw),
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
) -> Iterator[tuple[str, np.ndarray, int, int]]:
    """Yield (word, float32 view, entry number, byte offset) for ``count`` binary records, reading
    1 MiB chunks (never more at once, whatever the header claims).

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
                    found=preview(rest),
                )
            chunk = f.read(_CHUNK)
            if not chunk:
                leftover = (
                    f" (a partial record {preview(rest.strip(_ASCII_WS))} follows)" if rest.strip() else ""
                )
                raise FormatError(
                    f"header declares {declared} vectors, file ends after {i}{leftover}", path=path
                )
            base += pos
            buf, pos = rest + chunk, 0
            sp = buf.find(b" ", len(rest))
        word_bytes = buf[pos:sp].lstrip(b"\r\n")
        # where the record starts, for an error message only: formatted when one is raised (this loop is
        # the reader's cost; a generator of checks and a string per record took more than half of it)
        at = base + pos
        if not word_bytes or b"\n" in word_bytes or b"\t" in word_bytes or b"\r" in word_bytes:
            raise FormatError(
                f"entry {entry} (byte offset {at}): expected a word before the vector; is the dimension in the "
                f"header ({dim}) right?",
                path=path,
                expected="'word '",
                found=preview(buf[pos : sp + 1]),
            )
        try:
            word = word_bytes.decode("utf-8", unicode_errors)
        except UnicodeDecodeError:
            word = decode_word(word_bytes, unicode_errors, path, f"entry {entry} (byte offset {at})", None)
        record = base + sp - len(word_bytes)  # where the word starts
        end = sp + 1 + vec_bytes
        if end > len(buf):
            base += pos
            sp, end = sp - pos, end - pos
            parts, have = [buf[pos:]], len(buf) - pos
            while have < end:  # chunk by chunk: memory follows what the file really holds
                chunk = f.read(_CHUNK)
                if not chunk:
                    raise FormatError(
                        f"entry {entry} (byte offset {at}): truncated vector for word {word!r}; header "
                        f"declares {declared} vectors, file ends after {i}",
                        path=path,
                        expected=f"{vec_bytes} bytes",
                        found=f"{have - sp - 1} bytes",
                    )
                parts.append(chunk)
                have += len(chunk)
            buf, pos = b"".join(parts), 0
        yield word, np.frombuffer(buf, dtype="<f4", count=dim, offset=sp + 1), entry, record
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
                    found=preview(rest.lstrip(_ASCII_WS)),
                )
            base += pos + len(rest)
            pos = 0
            rest = f.read(_CHUNK)
            if not rest:
                break


@contextmanager
def _word2vec_records(
    path: PathLike, binary: bool | None, limit: int | None, unicode_errors: str
) -> Iterator[tuple[int, int, bool, bool, Iterator[tuple[str, Any, int]]]]:
    """Open a word2vec file and yield (rows to read, dim, binary, size checked, iterator of
    (word, values, line or byte offset)) with duplicates rejected."""
    if binary is None:
        kind = detect_vector_format(path)
        if kind == "glove_text":
            with reading(path) as f:
                _read_header(f, path)  # raises the precise "missing header" error
        binary = kind == "word2vec_binary"
    with reading(path) as f:
        declared, dim, header_len = _read_header(f, path)
        count = declared if limit is None else min(declared, limit)
        sized = _fits(f, count, dim, header_len, binary)
        check_trailing = limit is None
        if binary:
            rows = _binary_rows(f, path, count, declared, dim, unicode_errors, check_trailing, header_len)
        else:
            rows = _text_rows(f, path, count, declared, dim, unicode_errors, check_trailing)
        yield count, dim, binary, sized, unique_rows(rows, path, "entry" if binary else "line")


# --------------------------------------------------------------------------- public readers


def iter_word2vec_format(
    path: PathLike,
    *,
    binary: bool | None = None,
    limit: int | None = None,
    unicode_errors: str = "strict",
    dtype: DTypeLike = np.float32,
    no_header: bool = False,
    allow_non_finite: bool = False,
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(word, vector)`` pairs one at a time, for files too large to hold in memory.

    Takes the same arguments as :func:`read_word2vec_format`; each vector is a fresh array.
    """
    out_dtype = check_read_args(limit, unicode_errors, dtype)
    if no_header:
        if binary:
            raise ValueError("no_header=True applies to text files only: binary word2vec always has a header")
        yield from iter_glove_format(
            path,
            limit=limit,
            unicode_errors=unicode_errors,
            dtype=out_dtype,
            allow_non_finite=allow_non_finite,
        )
        return
    with _word2vec_records(path, binary, limit, unicode_errors) as (_, dim, is_binary, _, rows):
        finite = FiniteCheck(path, dim, not allow_non_finite, binary=is_binary)
        # float32 records cannot overflow a float32/float64 array: no warning to silence there
        quiet = out_dtype.itemsize < (4 if is_binary else 8)
        for i, (word, values, loc) in enumerate(rows):
            if quiet:
                with np.errstate(over="ignore", invalid="ignore"):  # out of range -> inf -> refused
                    vector = np.array(values, dtype=out_dtype)
            else:
                vector = np.array(values, dtype=out_dtype)
            finite.check_row(word, vector, loc, i + 1)
            yield word, vector


def read_word2vec_format(
    path: PathLike,
    *,
    binary: bool | None = None,
    limit: int | None = None,
    unicode_errors: str = "strict",
    dtype: DTypeLike = np.float32,
    no_header: bool = False,
    allow_non_finite: bool = False,
    leading_rows: int = 0,
) -> tuple[list[str], np.ndarray]:
    """Read a word2vec text or binary file (optionally .gz/.bz2/.xz) into ``(words, vectors)``.

    ``binary=None`` auto-detects (see :func:`detect_vector_format`). ``limit`` reads only the first
    N vectors (the rest of the file is not touched). ``unicode_errors`` is passed to
    ``bytes.decode``: the C tool truncates long words mid-character, which ``'replace'`` or
    ``'ignore'`` tolerate. ``no_header=True`` reads headerless text (GloVe-style, see
    :func:`~hf_embeddings.vectors.formats.glove.read_glove_format`). The array is allocated once from the
    header and filled as the file streams by (a compressed file's array grows with the rows read
    instead); without ``limit`` the whole file is validated, including that it holds exactly the
    declared number of vectors. NaN, infinity and values out of ``dtype``'s range raise FormatError
    naming the line (entry and byte offset for binary files) unless ``allow_non_finite=True``.
    ``leading_rows`` zero rows come before the file's vectors (``vectors[leading_rows + i]`` is
    ``words[i]``), for a caller that puts rows of its own first (a model's special tokens): the table
    is then read in place, never copied into a larger one.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "v.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("2 3\\na 1 2 3\\nb 1 2 1e999\\n")
    >>> read_word2vec_format(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hf_embeddings.errors.FormatError: ...v.txt, line 3: non-finite value for word 'b' (value 3 of 3); ...
    >>> read_word2vec_format(path, allow_non_finite=True)[1][1]
    array([ 1.,  2., inf], dtype=float32)
    """
    out_dtype = check_read_args(limit, unicode_errors, dtype)
    lead = check_leading_rows(leading_rows)
    if no_header:
        if binary:
            raise ValueError("no_header=True applies to text files only: binary word2vec always has a header")
        return read_glove_format(
            path,
            limit=limit,
            unicode_errors=unicode_errors,
            dtype=out_dtype,
            allow_non_finite=allow_non_finite,
            leading_rows=lead,
        )
    with _word2vec_records(path, binary, limit, unicode_errors) as (count, dim, is_binary, sized, rows):
        vectors = _allocate(lead + (count if sized else 0), dim, out_dtype, path)
        vectors[:lead] = 0
        words: list[str] = []

        def locate(index: int) -> int:  # error path only: read the file again up to that row
            with _word2vec_records(path, is_binary, index + 1, unicode_errors) as (*_, again):
                return [loc for _, _, loc in again][index]

        finite = FiniteCheck(path, dim, not allow_non_finite, locate, binary=is_binary, word_base=-lead)
        if finite.enabled:  # the first check falls on a row of the file, whatever the dimension
            finite.next = max(finite.next, lead + 1)
        with np.errstate(over="ignore", invalid="ignore"):  # out-of-range values become inf, then refused
            for row, (word, values, _) in enumerate(rows, lead):
                if row == len(vectors):
                    vectors = _grow(vectors, lead + count, path)
                words.append(word)
                vectors[row] = values
                if row + 1 == finite.next:
                    finite.check(vectors, row + 1, words)
        finite.check(vectors, lead + len(words), words)
    return words, vectors


# --------------------------------------------------------------------------- writers


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
    write_table(path, words, vectors, binary=binary, header=header)


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
    words = list(words)
    arr = check_table(words, vectors)
    if len(set(words)) != len(words):
        seen: dict[str, int] = {}
        for i, word in enumerate(words):
            first = seen.setdefault(word, i)
            if first != i:
                raise HFEmbeddingsError(f"duplicate word {word!r} at positions {first} and {i}")
    values = None
    if counts is not None:
        values = [counts[w] for w in words] if isinstance(counts, Mapping) else list(counts)
        if len(values) != len(words):
            raise HFEmbeddingsError(f"{len(values)} counts but {len(words)} words")
    dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float32
    return gensim_keyed_vectors(words, arr.astype(dtype, copy=False), values)
