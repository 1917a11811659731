"""Errors that carry enough context (file, line, expected vs found) to be shown as one line to a user."""

from __future__ import annotations

import os


class HFEmbeddingsError(ValueError):
    """Base class of every error this package raises on bad input; the CLI prints it as one line."""


class CorpusError(HFEmbeddingsError):
    """A corpus could not be read or is unusable (missing, unreadable, empty, nothing reaches min_count)."""


class FormatError(HFEmbeddingsError):
    """A file does not follow the format it claims; names the file, the line and what was expected."""

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike | None = None,
        line: int | None = None,
        expected: str | None = None,
        found: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.expected = expected
        self.found = found
        where = ""
        if self.path is not None:
            where = self.path + (f", line {line}" if line is not None else "") + ": "
        detail = ""
        if expected is not None or found is not None:
            detail = f" (expected {expected}, found {found})"
        super().__init__(f"{where}{message}{detail}")
