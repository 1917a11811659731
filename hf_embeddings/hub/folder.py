"""What a saved folder is made of, and the one way every writer puts a folder in place.

A leaf module: the file names of a Hub folder, the shape of a Hub repo id (`is_repo_id`), JSON
reading/writing with one contract, and `atomic_folder()`, used by every command that writes a folder (training, saving, converting, the
Space builder), so that an interrupted run never leaves something that looks complete.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import FormatError, HFEmbeddingsError

README = "README.md"
CONFIG = "config.json"
TRAINING_LOG = "training_log.json"
EVAL_RESULTS = "eval_results.json"
CONVERSION_LOG = "conversion.json"
LOSS_CURVE = "loss_curve.svg"

#: files we write and therefore may delete remotely when a new push no longer has them
MANAGED_FILES = (
    README,
    CONFIG,
    "generation_config.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "word_counts.json",
    TRAINING_LOG,
    EVAL_RESULTS,
    CONVERSION_LOG,
    LOSS_CURVE,
)

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


def read_json(path: str | os.PathLike, *, missing: Any = FileNotFoundError) -> Any:
    """Return the JSON value in `path`.

    A missing file returns `missing` when it is given (e.g. `missing={}`), else raises FileNotFoundError;
    a file that is not valid UTF-8 JSON raises `FormatError` naming the file.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        if missing is FileNotFoundError:
            raise
        return missing
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError(f"{path}: not valid JSON ({e})") from None


def write_json(path: str | os.PathLike, data: Any, *, sort_keys: bool = True) -> None:
    """Write `data` to `path` as indented UTF-8 JSON, through a temporary file renamed into place."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    text = json.dumps(data, indent=2, sort_keys=sort_keys, ensure_ascii=False, default=str) + "\n"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def check_output_dir(output_dir: str | os.PathLike, overwrite: bool) -> Path:
    """Return `output_dir` as a Path; refuses a non-empty folder unless `overwrite`."""
    path = Path(output_dir)
    if path.exists() and not path.is_dir():
        raise HFEmbeddingsError(f"output dir {path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise HFEmbeddingsError(f"output dir {path} is not empty; pass --overwrite to replace it")
    return path


def publish_folder(tmp: Path, final: Path) -> None:
    """Move a finished folder into place; the old one (if any) is removed only after the new one exists."""
    final.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_folder(output_dir: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary sibling of `output_dir`; on success it replaces `output_dir`.

    The check for a non-empty `output_dir` happens before any work. If the block raises (or the process
    is killed), `output_dir` is untouched and the temporary folder is removed (or left as `.NAME.tmp-*`).

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_folder(root / "out") as tmp:
        ...     _ = (tmp / "config.json").write_text("{}")
        >>> sorted(p.name for p in (root / "out").iterdir())
        ['config.json']
    """
    out = check_output_dir(output_dir, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; a saved folder follows the user's umask
        yield tmp
        publish_folder(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
