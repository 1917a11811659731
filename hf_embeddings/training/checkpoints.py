"""Checkpoints of a training run: which are complete, which one `--resume-from-checkpoint` means, and
whether it belongs to this run.

Trainer writes a checkpoint folder piece by piece (weights, optimizer, scheduler, RNG states, then
trainer_state.json) and `EmbeddingTrainer` adds its own state last, so a folder holding both state files
was written to the end; one cut by a kill is never resumed from.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..errors import HFEmbeddingsError

TRAINER_STATE = "trainer_state.json"
#: EmbeddingTrainer's own part of a checkpoint (per-epoch records, the cut epoch's accumulators, the run)
EMBEDDING_TRAINER_STATE = "embedding_trainer_state.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


class CheckpointError(HFEmbeddingsError):
    """A checkpoint that cannot be resumed from (missing, cut short, or from another run)."""


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def checkpoint_is_complete(folder: str | os.PathLike) -> bool:
    """Whether `folder` is a checkpoint written to the end (both state files present and readable)."""
    folder = Path(folder)
    return _read(folder / TRAINER_STATE) is not None and _read(folder / EMBEDDING_TRAINER_STATE) is not None


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The complete `checkpoint-N` in `folder` with the largest N (None when there is none)."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = []
    for child in folder.iterdir():
        match = _CHECKPOINT.match(child.name)
        if match and child.is_dir() and checkpoint_is_complete(child):
            found.append((int(match.group(1)), child))
    return max(found)[1] if found else None


def resolve_checkpoint(
    value: str | os.PathLike | bool | None, folder: str | os.PathLike | None
) -> Path | None:
    """What `--resume-from-checkpoint` names: None/False -> None; True or "latest" -> the latest complete
    checkpoint in `folder`; a path -> that checkpoint. Raises `CheckpointError` (one line naming the path)
    when there is nothing complete to resume from: a run is never silently started from zero instead."""
    if value is None or value is False or value == "":
        return None
    if value is True or (isinstance(value, str) and value.lower() == "latest"):
        if folder is None:
            raise CheckpointError(
                "--resume-from-checkpoint latest needs a checkpoint folder (--checkpoint-dir)"
            )
        found = latest_checkpoint(folder)
        if found is None:
            raise CheckpointError(f"--resume-from-checkpoint latest: no complete checkpoint in {folder}")
        return found
    path = Path(value)
    if not path.is_dir():
        raise CheckpointError(f"--resume-from-checkpoint: {path} is not a folder")
    if not checkpoint_is_complete(path):
        nested = latest_checkpoint(path)  # the checkpoint folder itself was given
        if nested is not None:
            return nested
        raise CheckpointError(
            f"--resume-from-checkpoint: {path} is not a complete checkpoint (no {TRAINER_STATE} and "
            f"{EMBEDDING_TRAINER_STATE}; a checkpoint cut short by a kill is not resumed from)"
        )
    return path


def run_identity(family: str, config, num_batches: int, seed: int) -> dict:
    """What must be equal for a checkpoint to continue this run (checked on resume)."""
    return {
        "family": family,
        "vocab_size": getattr(config, "vocab_size", None),
        "batches_per_epoch": int(num_batches),
        "seed": int(seed),
    }


def check_run_identity(checkpoint: Path, expected: dict) -> None:
    """Raise `CheckpointError` when `checkpoint` was written by another run (family, vocabulary, data, seed)."""
    saved = (_read(checkpoint / EMBEDDING_TRAINER_STATE) or {}).get("run")
    if not isinstance(saved, dict):
        return  # written without a record of its run: nothing to compare
    diff = [f"{k} {saved.get(k)!r} vs {v!r} now" for k, v in expected.items() if saved.get(k) != v]
    if diff:
        raise CheckpointError(
            f"checkpoint {checkpoint} belongs to another run ({'; '.join(diff)}): resume with the same "
            "corpus, family, options and seed, or start a new run"
        )
