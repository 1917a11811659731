"""Where text comes from: files, plain or .gz/.bz2/.xz/.lzma compressed, and Hub repo ids.

The one decompressing opener of the package (corpora, word-vector files and evaluation benchmarks all
open their files through :func:`open_compressed`) and the one test of what a Hub id looks like
(:func:`is_repo_id`, used for corpora, models and Spaces alike).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import zlib
from typing import IO

__all__ = ["COMPRESSED_FILE_TYPES", "DECOMPRESSION_ERRORS", "open_compressed"]

_SUFFIX_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open, ".lzma": lzma.open}
_MAGIC = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))

#: The file objects :func:`open_compressed` returns for compressed files.
COMPRESSED_FILE_TYPES = (gzip.GzipFile, bz2.BZ2File, lzma.LZMAFile)
#: What reading a corrupt or truncated compressed stream raises.
DECOMPRESSION_ERRORS = (EOFError, OSError, zlib.error, lzma.LZMAError)


def open_compressed(path: str | os.PathLike, *, sniff: bool = False) -> IO[bytes]:
    """Open ``path`` for binary reading, decompressing .gz/.bz2/.xz/.lzma by suffix.

    With ``sniff=True`` a file without one of those suffixes is recognised by its magic bytes instead
    (word-vector files are often renamed); without it such a file is read as is. OSError (a missing or
    unreadable file) propagates.
    """
    name = os.fspath(path)
    opener = _SUFFIX_OPENERS.get(os.path.splitext(name)[1].lower())
    if opener is None and sniff:
        with open(name, "rb") as probe:
            magic = probe.read(6)
        opener = next((op for sig, op in _MAGIC if magic.startswith(sig)), None)
    return opener(name, "rb") if opener is not None else open(name, "rb")


#: a Hub repo id: "owner/name", or a bare "name" (an owner is optional in the pattern; see `is_repo_id`)
REPO_ID = re.compile(r"(?:[\w.-]+/)?[\w.-]+")


def is_repo_id(text: str, *, owner_required: bool = True) -> bool:
    """Whether `text` has the shape of a Hub repo id: "owner/name" (or a bare "name" unless
    `owner_required`), of letters, digits, `_`, `.` and `-`. A leading "." is a path, never an id.

    Example:
        >>> is_repo_id("me/my-word2vec"), is_repo_id("gpt2"), is_repo_id("gpt2", owner_required=False)
        (True, False, True)
        >>> is_repo_id("./out/w2v"), is_repo_id("/tmp/w2v")
        (False, False)
    """
    if text.startswith(".") or not REPO_ID.fullmatch(text):
        return False
    return "/" in text or not owner_required


def public_name(description: str) -> str:
    """`description` of a corpus without the user's folders, for files that get published: a local path
    becomes its last part; a Hub dataset or an in-memory description is kept.

    Example:
        >>> public_name("/home/me/data/wiki.txt.xz"), public_name("dataset wikitext[train]")
        ('wiki.txt.xz', 'dataset wikitext[train]')
    """
    if description.startswith(("<", "dataset ")):
        return description
    return os.path.basename(os.path.normpath(description)) or description
