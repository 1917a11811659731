"""What a saved folder is made of, and the one way every writer puts a folder in place.

The file names of a Hub folder, the shape of a Hub repo id (`is_repo_id`), JSON reading/writing with
one contract, and `atomic_folder()`, used by every command that writes a folder (training, saving,
converting, the Space builder): one writer per folder at a time, and an interrupted run never leaves
something that looks complete nor loses the model it was replacing.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import FormatError, HFEmbeddingsError
from ..files import remove, remove_stale_temporaries, stale_temporaries, temporary_path, write_text_atomic
from ..text.sources import REPO_ID, is_repo_id  # noqa: F401  (part of the folder vocabulary)

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows)
    fcntl = None

logger = logging.getLogger(__name__)

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
    write_text_atomic(
        path, json.dumps(data, indent=2, sort_keys=sort_keys, ensure_ascii=False, default=str) + "\n"
    )


def check_output_dir(output_dir: str | os.PathLike, overwrite: bool) -> Path:
    """Return `output_dir` as a Path; refuses a non-empty folder unless `overwrite`."""
    path = Path(output_dir)
    if path.exists() and not path.is_dir():
        raise HFEmbeddingsError(f"output dir {path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise HFEmbeddingsError(f"output dir {path} is not empty; pass --overwrite to replace it")
    return path


def publish_folder(tmp: Path, final: Path) -> None:
    """Move a finished folder into place; the old one (if any) is removed only after the new one exists.

    Two renames: a kill between them leaves the old model as `.NAME.old-*` and no `NAME`; the next
    `atomic_folder` for that name puts it back (`recover_output_dir`).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if final.exists():
        old = temporary_path(final, "old")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        remove(old)


def recover_output_dir(out: Path) -> None:
    """Finish or undo what a killed run left at `out` (call with `out`'s lock held).

    A previous model moved aside by an interrupted swap comes back when nothing replaced it, and is
    deleted when the new model made it into place; temporary folders of dead runs are removed.
    """
    olds = sorted(
        (p for p in stale_temporaries(out.parent, out.name) if ".old-" in p.name),
        key=lambda p: p.stat().st_mtime,
    )
    if olds and not out.exists():
        os.replace(olds.pop(), out)
        logger.warning("%s: restored the previous model, which an interrupted run had moved aside", out)
    for old in olds:
        remove(old)
    remove_stale_temporaries(out.parent, out.name)


@contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on output folder `out` (a `.NAME.lock` file beside it); a second writer
    fails at once with a clear error instead of silently replacing the first one's model."""
    if fcntl is None:  # no flock (Windows): no protection against concurrent runs
        yield
        return
    lock_path = out.with_name(f".{out.name}.lock")
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise HFEmbeddingsError(f"cannot write the output folder {out}: {e.strerror or e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise HFEmbeddingsError(
                f"{out} is being written by another run (lock {lock_path}); wait for it to finish or choose "
                "another output folder"
            ) from None
        try:  # the file we locked must still be the lock (a finishing run unlinks it)
            if os.fstat(fd).st_ino == os.stat(lock_path).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        lock_path.unlink(missing_ok=True)
        os.close(fd)


@contextmanager
def atomic_folder(output_dir: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary sibling of `output_dir`; on success it replaces `output_dir`.

    Holds `output_lock` for the whole time, so two runs into one folder cannot both "succeed"; first
    repairs what a killed run left (`recover_output_dir`). The check for a non-empty `output_dir`
    happens before any work. If the block raises, `output_dir` is untouched and the temporary folder is
    removed; if the process is killed, the next run for that folder removes it.

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_folder(root / "out") as tmp:
        ...     _ = (tmp / "config.json").write_text("{}")
        >>> sorted(p.name for p in root.iterdir()), sorted(p.name for p in (root / "out").iterdir())
        (['out'], ['config.json'])
    """
    out = Path(output_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise HFEmbeddingsError(f"cannot create the output folder {out}: {e.strerror or e}") from None
    with output_lock(out):
        recover_output_dir(out)
        check_output_dir(out, overwrite)
        tmp = temporary_path(out)
        try:
            tmp.mkdir(mode=0o777)  # the user's umask applies, as for every other file
            yield tmp
            _apply_umask(tmp)
            publish_folder(tmp, out)
        finally:
            remove(tmp)


def _apply_umask(folder: Path) -> None:
    """Give every file and folder under `folder` the user's default permissions (some writers, such as
    safetensors, create files 0600; `mkdtemp` folders are 0700)."""
    mask = os.umask(0)
    os.umask(mask)
    for root, _dirs, files in os.walk(folder):
        os.chmod(root, 0o777 & ~mask)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, 0o666 & ~mask)
