"""Publishing to the Hugging Face Hub: one commit with model, tokenizer, card and results."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import HFEmbeddingsError


def push_folder(path: str | os.PathLike, repo_id: str, *, private: bool = False, commit_message: str | None = None) -> str:
    """Upload a saved model folder to `repo_id` in a single commit; returns the commit URL.

    Uploading the folder as is (instead of `model.push_to_hub`) keeps our README card: `push_to_hub`
    writes its own card when the repo has none.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise HFEmbeddingsError(f"{folder} is not a saved model folder (no config.json)")
    api = HfApi()
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            commit_message=commit_message or f"Upload {folder.name} with hf-embeddings",
        )
    except (HfHubHTTPError, OSError) as e:
        raise HFEmbeddingsError(f"push of {folder} to {repo_id} failed: {str(e).splitlines()[0]}") from None
    return str(getattr(info, "commit_url", info))
