"""Files and folders written atomically, and what killed runs left behind cleaned up (a leaf module).

Every temporary is named `.<target name>.tmp-<host>-<pid>-<random>` beside its target, so a later run
can tell whose it was: one whose process is gone on this host is removed (`remove_stale_temporaries`);
one of a live process, or of another host sharing the file system, is left alone.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

_HOST = re.sub(r"[^A-Za-z0-9]+", "_", socket.gethostname())[:32] or "host"
_TEMPORARY = re.compile(r"^\.(?P<target>.+)\.(?:tmp|old)-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[0-9a-f]+$")


def temporary_path(target: str | os.PathLike, kind: str = "tmp") -> Path:
    """A fresh sibling name for a temporary of `target` (`kind` "tmp", or "old" for a replaced folder)."""
    target = Path(target)
    return target.with_name(f".{target.name}.{kind}-{_HOST}-{os.getpid()}-{secrets.token_hex(4)}")


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this host."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def stale_temporaries(folder: str | os.PathLike, target: str | None = None) -> list[Path]:
    """The temporaries in `folder` (of `target` only, when given) whose process on this host is gone."""
    found = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return []
    for entry in entries:
        m = _TEMPORARY.match(entry.name)
        if m is None or (target is not None and m["target"] != target):
            continue
        if m["host"] == _HOST and not pid_alive(int(m["pid"])):
            found.append(entry)
    return found


def remove(path: str | os.PathLike) -> None:
    """Remove a file or a folder tree; a missing one is fine."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_stale_temporaries(folder: str | os.PathLike, target: str | None = None) -> list[Path]:
    """Remove what `stale_temporaries` finds (except kept `.old` folders, see `hub.folder`); returns them."""
    removed = [p for p in stale_temporaries(folder, target) if ".tmp-" in p.name]
    for path in removed:
        remove(path)
    return removed


@contextmanager
def atomic_file(target: str | os.PathLike, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """Open a temporary beside `target` for writing; on success it replaces `target`, else it is removed.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_file(folder / "a.txt") as f:
        ...     _ = f.write("hello")
        >>> [p.name for p in folder.iterdir()], (folder / "a.txt").read_text()
        (['a.txt'], 'hello')
    """
    target = Path(target)
    remove_stale_temporaries(target.parent, target.name)
    tmp = temporary_path(target)
    if "b" not in mode:
        open_kwargs.setdefault("encoding", "utf-8")
    try:
        with open(tmp, mode, **open_kwargs) as f:
            yield f
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `target` through a temporary renamed into place."""
    with atomic_file(target) as f:
        f.write(text)
