"""A ready-to-push Hugging Face Space of the demo: `hf-embeddings demo --build-space DIR [MODELS]`.

A Space installs `requirements.txt` and runs `app.py`; hf_embeddings is not on a package index it can
reach, so the Space carries the package source itself (`app.py` imports the copy beside it) and its
requirements are the package's own runtime dependencies plus gradio. Models named by Hub id are listed
in `demo_models.txt` (read by the app when no argument or variable names models); local model folders
are copied under `models/` and listed the same way.
"""

from __future__ import annotations

import os
import re
import shutil
from importlib import metadata
from pathlib import Path

from ..errors import HFEmbeddingsError
from .models import MODELS_FILE

PACKAGE = "hf_embeddings"
_SPACE_FILES = ("app.py", "README.md")
# pip's CPU wheels of torch keep the Space image small (a Space's free hardware has no GPU)
TORCH_CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"


def space_source() -> Path:
    """The repository's `spaces_demo/` folder (a source checkout: the wheel does not ship it)."""
    folder = Path(__file__).resolve().parents[2] / "spaces_demo"
    if not (folder / "app.py").is_file():
        raise HFEmbeddingsError(
            f"no spaces_demo/app.py at {folder}: build the Space from a source checkout of hf_embeddings"
        )
    return folder


def runtime_requirements() -> list[str]:
    """The installed distribution's own (non-extra) requirements, plus gradio from the `demo` extra."""
    try:
        reqs = metadata.requires("hf-embeddings") or []
    except metadata.PackageNotFoundError:
        raise HFEmbeddingsError("hf-embeddings is not installed: pip install -e . first") from None
    plain = [r for r in reqs if "extra ==" not in r]
    demo = [r.split(";")[0].strip() for r in reqs if re.search(r"extra\s*==\s*['\"]demo['\"]", r)]
    return plain + demo


def build_space(
    output_dir: str | os.PathLike, models: list[str] | None = None, *, overwrite: bool = False
) -> Path:
    """Write a Space folder at `output_dir` (built aside, renamed into place); returns its path."""
    from ..hub.folder import atomic_folder, check_output_dir, is_repo_id

    out = check_output_dir(output_dir, overwrite)  # refused before any work
    source = space_source()
    package = Path(__file__).resolve().parents[1]
    with atomic_folder(out, overwrite=overwrite) as tmp:
        for name in _SPACE_FILES:
            shutil.copy2(source / name, tmp / name)
        # symlinks (model_cards/) are copied as what they point to: a Space repo holds plain files
        shutil.copytree(
            package,
            tmp / PACKAGE,
            symlinks=False,
            # the bundled corpus is for quickstart, not for the app
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.txt.xz"),
        )
        lines = [TORCH_CPU_INDEX, *runtime_requirements()]
        (tmp / "requirements.txt").write_text("\n".join(lines) + "\n")
        listed = []
        for i, model in enumerate(models or []):
            path = Path(model)
            if path.is_dir():
                if not (path / "config.json").is_file():
                    raise HFEmbeddingsError(f"{path} is not a saved model folder (no config.json)")
                target = Path("models") / f"{i:02d}-{path.resolve().name}"
                shutil.copytree(path, tmp / target)
                listed.append(target.as_posix())
            elif is_repo_id(model):
                listed.append(model)
            else:
                raise HFEmbeddingsError(f"{model!r} is neither a model folder nor a Hub repo id (owner/name)")
        if listed:
            (tmp / MODELS_FILE).write_text("\n".join(listed) + "\n")
    return out


def push_space(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
) -> str:
    """Create (if needed) the Gradio Space `repo_id` and upload `folder` to it in one commit; returns
    the commit URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    folder = Path(folder)
    if not (folder / "app.py").is_file() or not (folder / PACKAGE).is_dir():
        raise HFEmbeddingsError(f"{folder} is not a Space built by `hf-embeddings demo --build-space`")
    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
        info = api.upload_folder(
            folder_path=folder, repo_id=repo_id, repo_type="space", commit_message="hf_embeddings demo Space"
        )
    except HfHubHTTPError as e:
        raise HFEmbeddingsError(f"pushing the Space {repo_id} failed: {str(e).splitlines()[0]}") from None
    return str(getattr(info, "commit_url", info))
