"""Headerless GloVe text vectors (``glove.6B.100d.txt`` style): one ``word v1 ... vD`` per line.

There is no header, so the dimension is inferred from the first row and every later row must
match it. The file is streamed: rows are parsed line by line into numpy blocks of a few MiB that
are joined at the end, so the text is never slurped whole.

Words with spaces: some real files (``glove.840B.300d.txt``) contain tokens such as
``"at name@domain.com"``. Since the vector is always the *last* D fields, a row with more than
``1 + D`` fields is read as a multi-field word (joined with single spaces) followed by its vector.
To still catch genuinely ragged rows, such a row is rejected when its extra leading fields are
all numbers (``"cat 0.1 0.2 0.3 0.4"`` with D = 3 is one value too many, not the word
``"cat 0.1"``). If the *first* row's word has spaces the inferred D is wrong; pass ``dim=``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import IO, Any

import numpy as np
from numpy.typing import DTypeLike

from ...errors import FormatError
from ._common import (
    BOM,
    PathLike,
    check_read_args,
    decode_word,
    is_float,
    parse_header,
    preview,
    reading,
    unique_rows,
    write_table,
)

__all__ = ["iter_glove_format", "read_glove_format", "write_glove_format"]

_BLOCK_BYTES = 4 << 20  # target size of each numpy block the reader fills


def _glove_rows(
    f: IO[bytes], path: PathLike, limit: int | None, unicode_errors: str, dim: int | None
) -> Iterator[tuple[str, list[float], int]]:
    """Yield (word, values, line number); ``dim`` None means "take it from the first row"."""
    if limit == 0:
        return
    first_line: int | None = None if dim is None else 0
    read = 0
    for line_no, raw in enumerate(f, start=1):
        if line_no == 1 and raw.startswith(BOM):
            raw = raw[3:]
        fields = raw.split()
        if not fields:
            continue
        if dim is None:
            if parse_header(raw) is not None:
                raise FormatError(
                    "first line looks like a word2vec 'N D' header: read the file with "
                    "read_word2vec_format (or pass dim=1 if it is a 1-dimensional row)",
                    path=path,
                    line=line_no,
                    expected="'word v1 ... vD'",
                    found=preview(raw),
                )
            dim, first_line = len(fields) - 1, line_no
            if dim < 1:
                raise FormatError(
                    "row has a word but no values",
                    path=path,
                    line=line_no,
                    expected="'word v1 ... vD'",
                    found=preview(raw),
                )
        n = len(fields)
        if n == dim + 1:
            word_raw = fields[0]
        elif n > dim + 1 and not all(map(is_float, fields[1 : n - dim])):
            # a word with spaces (glove.840B): the vector is the last dim fields
            word_raw = b" ".join(fields[: n - dim])
        else:
            origin = f"from line {first_line}" if first_line else "dim="
            raise FormatError(
                f"ragged row for word {fields[0].decode('utf-8', 'replace')!r}",
                path=path,
                line=line_no,
                expected=f"{dim} values ({origin})",
                found=str(n - 1),
            )
        word = decode_word(word_raw, unicode_errors, path, f"vector {read + 1}", line_no)
        try:
            values = list(map(float, fields[n - dim :]))
        except ValueError:
            bad = next(t for t in fields[n - dim :] if not is_float(t))
            raise FormatError(
                f"non-numeric value for word {word!r}",
                path=path,
                line=line_no,
                expected="a number",
                found=preview(bad),
            ) from None
        yield word, values, line_no
        read += 1
        if limit is not None and read >= limit:
            return


def iter_glove_format(
    path: PathLike,
    *,
    limit: int | None = None,
    unicode_errors: str = "strict",
    dtype: DTypeLike = np.float32,
    dim: int | None = None,
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(word, vector)`` pairs from a GloVe text file without holding the whole table."""
    out_dtype = check_read_args(limit, unicode_errors, dtype)
    _check_dim(dim)
    with reading(path) as f:
        for word, values in unique_rows(_glove_rows(f, path, limit, unicode_errors, dim), path, "line"):
            yield word, np.array(values, dtype=out_dtype)


def read_glove_format(
    path: PathLike,
    *,
    limit: int | None = None,
    unicode_errors: str = "strict",
    dtype: DTypeLike = np.float32,
    dim: int | None = None,
) -> tuple[list[str], np.ndarray]:
    """Read a GloVe text file (optionally .gz/.bz2/.xz) into ``(words, vectors)``.

    D is inferred from the first row unless ``dim`` is given; ragged rows, non-numeric values,
    duplicate words and (under ``unicode_errors='strict'``) non-UTF-8 words raise FormatError
    with the line number. ``limit`` stops after that many vectors.
    """
    out_dtype = check_read_args(limit, unicode_errors, dtype)
    _check_dim(dim)
    words: list[str] = []
    blocks: list[np.ndarray] = []
    block: np.ndarray | None = None
    filled = 0
    with reading(path) as f:
        for word, values in unique_rows(_glove_rows(f, path, limit, unicode_errors, dim), path, "line"):
            if block is None or filled == len(block):
                if block is not None:
                    blocks.append(block)
                # Start small (tiny files stay tiny), double up to ~4 MiB per block.
                cap = max(1, _BLOCK_BYTES // (len(values) * out_dtype.itemsize))
                rows = min(cap, 64 if block is None else 2 * len(block))
                block, filled = np.empty((rows, len(values)), dtype=out_dtype), 0
            block[filled] = values
            filled += 1
            words.append(word)
    if block is None:
        if limit == 0:
            return [], np.empty((0, dim or 0), dtype=out_dtype)
        raise FormatError("file holds no vectors", path=path)
    blocks.append(block[:filled])
    return words, np.concatenate(blocks)


def write_glove_format(path: PathLike, words: Sequence[str], vectors: Any) -> None:
    """Write headerless GloVe text atomically, with values that read back exactly.

    Same rules as :func:`~hf_embeddings.vectors.formats.word2vec.write_word2vec_format` with
    ``header=False``: words must be unique and free of whitespace (so any GloVe reader, not just
    ours, splits the rows correctly).
    """
    write_table(path, words, vectors, binary=False, header=False)


def _check_dim(dim: int | None) -> None:
    if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool) or dim < 1):
        raise ValueError(f"dim must be None or a positive int, got {dim!r}")
