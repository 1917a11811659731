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

Hostile files: the first row may be at most 1 MiB when D is inferred (pass ``dim=`` for longer rows),
later rows at most 64 KiB of word plus 64 bytes per value, and a row is split into at most ``D + 1``
pieces, so one huge line is refused in bounded memory. A last line without its newline whose last
value looks cut is refused (see ``_common.check_last_row``). NaN, infinity and values out of the
dtype's range are refused unless ``allow_non_finite=True``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import IO, Any

import numpy as np
from numpy.typing import DTypeLike

from ...errors import FormatError
from ._common import (
    BOM,
    MAX_FIRST_ROW_BYTES,
    FiniteCheck,
    PathLike,
    check_leading_rows,
    check_read_args,
    decode_word,
    is_float,
    parse_header,
    parse_values,
    preview,
    read_line,
    reading,
    row_bytes_limit,
    unique_rows,
    write_table,
)

__all__ = ["iter_glove_format", "read_glove_format", "write_glove_format"]

_BLOCK_BYTES = 4 << 20  # target size of each numpy block the reader fills


def _glove_rows(
    f: IO[bytes], path: PathLike, limit: int | None, unicode_errors: str, dim: int | None
) -> Iterator[tuple[str, list[float], int, int]]:
    """Yield (word, values, line number, line number); ``dim`` None means "take it from the first row"."""
    if limit == 0:
        return
    first_line: int | None = None if dim is None else 0
    read = 0
    line_no = 0
    readline = f.readline
    if dim is None:
        max_bytes = MAX_FIRST_ROW_BYTES
        why = "a first row may take before the dimension is known (pass dim= for longer rows)"
    else:
        max_bytes, why = row_bytes_limit(dim), f"a word and {dim} values (dim=) can take"
    while raw := read_line(readline, max_bytes, path, line_no + 1, why):
        line_no += 1
        if line_no == 1 and raw.startswith(BOM):
            raw = raw[3:]
        if not raw or raw.isspace():
            continue
        if dim is None:
            fields = raw.split()  # the first row only, at most MAX_FIRST_ROW_BYTES long
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
            max_bytes = row_bytes_limit(dim)
            why = f"a word and {dim} values (from line {line_no}) can take"
        # the vector is the last dim fields: split from the right into at most dim + 1 pieces
        parts = raw.rsplit(None, dim)
        head = parts[0].split() if len(parts) == dim + 1 else []
        n = len(head) + dim if head else len(parts)
        if len(head) == 1:
            word_raw = head[0]
        elif len(head) > 1 and not all(map(is_float, head[1:])):
            # a word with spaces (glove.840B)
            word_raw = b" ".join(head)
        else:
            fields = head or parts
            origin = f"from line {first_line}" if first_line else "dim="
            raise FormatError(
                f"ragged row for word {fields[0].decode('utf-8', 'replace')!r}",
                path=path,
                line=line_no,
                expected=f"{dim} values ({origin})",
                found=str(n - 1),
            )
        word = decode_word(word_raw, unicode_errors, path, f"vector {read + 1}", line_no)
        values = parse_values(raw, parts[1:], path, line_no, word)
        yield word, values, line_no, line_no
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
    allow_non_finite: bool = False,
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(word, vector)`` pairs from a GloVe text file without holding the whole table."""
    out_dtype = check_read_args(limit, unicode_errors, dtype)
    _check_dim(dim)
    finite: FiniteCheck | None = None
    with reading(path) as f:
        rows = unique_rows(_glove_rows(f, path, limit, unicode_errors, dim), path, "line")
        for i, (word, values, line) in enumerate(rows):
            with np.errstate(over="ignore", invalid="ignore"):  # out of range -> inf -> refused
                vector = np.array(values, dtype=out_dtype)
            if finite is None:
                finite = FiniteCheck(path, len(values), not allow_non_finite)
            finite.check_row(word, vector, line, i + 1)
            yield word, vector
    if finite is None and limit != 0:  # as read_glove_format: a file without a row is not a GloVe file
        raise FormatError("file holds no vectors", path=path)


def read_glove_format(
    path: PathLike,
    *,
    limit: int | None = None,
    unicode_errors: str = "strict",
    dtype: DTypeLike = np.float32,
    dim: int | None = None,
    allow_non_finite: bool = False,
    leading_rows: int = 0,
) -> tuple[list[str], np.ndarray]:
    """Read a GloVe text file (optionally .gz/.bz2/.xz) into ``(words, vectors)``.

    D is inferred from the first row unless ``dim`` is given; ragged rows, non-numeric values,
    duplicate words, (under ``unicode_errors='strict'``) non-UTF-8 words and (unless
    ``allow_non_finite=True``) NaN, infinity or values out of ``dtype``'s range raise FormatError
    with the line number. ``limit`` stops after that many vectors. ``leading_rows`` zero rows come
    before the file's vectors (see ``read_word2vec_format``).
    """
    out_dtype = check_read_args(limit, unicode_errors, dtype)
    lead = check_leading_rows(leading_rows)
    _check_dim(dim)
    words: list[str] = []
    blocks: list[np.ndarray] = []
    block: np.ndarray | None = None
    filled = 0
    finite: FiniteCheck | None = None

    def locate(index: int) -> int:  # error path only: read the file again up to that row
        with reading(path) as again:
            return [line for *_, line in _glove_rows(again, path, index + 1, unicode_errors, dim)][index]

    with reading(path) as f, np.errstate(over="ignore", invalid="ignore"):  # out of range -> inf -> refused
        for word, values, _ in unique_rows(_glove_rows(f, path, limit, unicode_errors, dim), path, "line"):
            if block is None or filled == len(block):
                if block is not None:
                    finite.check(block, filled, words)  # type: ignore[union-attr]
                    blocks.append(block)
                # Start small (tiny files stay tiny), double up to ~4 MiB per block.
                cap = max(1, _BLOCK_BYTES // (len(values) * out_dtype.itemsize))
                rows = min(cap, 64 if block is None else 2 * len(block))
                block, filled = np.empty((rows, len(values)), dtype=out_dtype), 0
                finite = FiniteCheck(path, len(values), not allow_non_finite, locate, word_base=len(words))
            block[filled] = values
            filled += 1
            words.append(word)
            if filled == finite.next:  # type: ignore[union-attr]
                finite.check(block, filled, words)  # type: ignore[union-attr]
    if block is None:
        if limit == 0:
            return [], np.zeros((lead, dim or 0), dtype=out_dtype)
        raise FormatError("file holds no vectors", path=path)
    finite.check(block, filled, words)  # type: ignore[union-attr]
    blocks.append(block[:filled])
    if lead:
        blocks.insert(0, np.zeros((lead, block.shape[1]), dtype=out_dtype))
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
