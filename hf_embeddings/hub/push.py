"""Publishing a saved folder: one folder = one complete Hub repo, pushed in one commit.

Example:

    push_folder("out/w2v", "me/my-word2vec")
    push_to_hub(model, tokenizer, "me/my-word2vec")
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import HFEmbeddingsError
from .folder import CONFIG, MANAGED_FILES, README, read_json
from .save import save_model_folder

_IGNORED = (".git", ".cache", ".gitattributes")


def _folder_files(folder: Path) -> list[Path]:
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or any(part.startswith(".") or part in _IGNORED for part in rel.parts):
            continue
        if path.suffix == ".tmp":
            continue
        files.append(path)
    return files


def push_folder(
    path: str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    commit_message: str | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    revision: str | None = None,
    update_card: bool = True,
    include_caches: bool = False,
) -> str:
    """Upload a saved model folder to `repo_id` in a single commit; returns the commit URL.

    One `create_commit` carries every file (weights, tokenizer, code, card, results), so the repo is
    never seen half-updated, and files we manage that the folder no longer has (an old
    eval_results.json, old remote code) are deleted in the same commit. Our card is kept: `model.push_to_hub`
    would write its own README when the repo has none. With `update_card`, a generated card is rendered
    for the upload so that its code examples name `repo_id` (the local README.md is left as it is). The
    family's cache files (GloVe's co-occurrence matrix) stay local unless `include_caches`.
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    from ..models.family import family_for_config
    from .card import build_model_card, is_generated_card
    from .remote_code import HEADER

    folder = Path(path)
    if not (folder / CONFIG).is_file():
        raise HFEmbeddingsError(f"{folder} is not a saved model folder (no {CONFIG})")
    config = read_json(folder / CONFIG)
    family = family_for_config(type("Config", (), {"model_type": config.get("model_type")}))
    card = None
    if update_card and is_generated_card(folder):
        card = str(build_model_card(folder, repo_id=repo_id)).encode("utf-8")
    api = HfApi(endpoint=endpoint, token=token)
    files = [f for f in _folder_files(folder) if include_caches or f.name not in family.cache_files]
    local = {f.relative_to(folder).as_posix() for f in files}
    marker = HEADER.split("{", 1)[0]
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        try:
            remote = api.list_repo_files(repo_id, revision=revision)
        except (RepositoryNotFoundError, RevisionNotFoundError):
            remote = []
        stale = []
        with tempfile.TemporaryDirectory(prefix="hfe-push-check-") as scratch:  # never the user's cache
            for name in remote:
                if name in local or "/" in name:
                    continue
                if name in MANAGED_FILES:
                    stale.append(name)
                elif name.endswith(".py"):  # remote code of an earlier push: ours if it carries our header
                    cached = api.hf_hub_download(repo_id, name, revision=revision, cache_dir=scratch)
                    if Path(cached).read_text(encoding="utf-8").startswith(marker):
                        stale.append(name)
        operations = [
            CommitOperationAdd(
                path_in_repo=f.relative_to(folder).as_posix(),
                path_or_fileobj=card if card is not None and f.name == README else str(f),
            )
            for f in files
        ]
        operations += [CommitOperationDelete(path_in_repo=name) for name in stale]
        info = api.create_commit(
            repo_id,
            operations,
            commit_message=commit_message or f"Upload {folder.name} with hf-embeddings",
            revision=revision,
        )
    except (HfHubHTTPError, OSError) as e:
        raise HFEmbeddingsError(f"push of {folder} to {repo_id} failed: {str(e).splitlines()[0]}") from None
    return str(getattr(info, "commit_url", info))


def push_to_hub(
    model,
    tokenizer,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    commit_message: str | None = None,
    **save_options: Any,
) -> str:
    """Save `model` + `tokenizer` as a complete folder (card included) and push it in one commit.

    `save_options` go to `save_model_folder` (training_log, eval_results, license, language ...).
    """
    with tempfile.TemporaryDirectory(prefix="hfe-push-") as tmp:
        folder = Path(tmp) / repo_id.split("/")[-1]
        save_model_folder(model, tokenizer, folder, repo_id=repo_id, **save_options)
        return push_folder(
            folder,
            repo_id,
            private=private,
            token=token,
            endpoint=endpoint,
            commit_message=commit_message,
            update_card=False,
        )
