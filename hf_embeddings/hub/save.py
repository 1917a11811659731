"""Hub-ready folders and publishing: one folder = one complete Hub repo, pushed in one commit.

A saved folder holds: config.json (with `auto_map` and `hf_embeddings_format_version`), model.safetensors,
the tokenizer (tokenizer.json, tokenizer_config.json with its `auto_map`, word_counts.json), the code
needed for `trust_remote_code=True` loading without hf_embeddings (see `remote_code.py`), README.md (the
model card), and when available training_log.json, loss_curve.svg and eval_results.json.

Example:
    >>> save_model_folder(model, tokenizer, "out/w2v")            # doctest: +SKIP
    >>> push_folder("out/w2v", "me/my-word2vec")                   # doctest: +SKIP
    >>> push_to_hub(model, tokenizer, "me/my-word2vec")            # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..errors import HFEmbeddingsError

logger = logging.getLogger(__name__)

#: files we write and therefore may delete remotely when a new push no longer has them
MANAGED_FILES = (
    "README.md",
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "word_counts.json",
    "training_log.json",
    "eval_results.json",
    "conversion.json",
    "loss_curve.svg",
)
_IGNORED = (".git", ".cache", ".gitattributes")


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _family_of_folder(folder: Path):
    from ..models.family import family_for_config

    config = _read_json(folder / "config.json")
    return family_for_config(type("Config", (), {"model_type": config.get("model_type")}))


def finalize_folder(
    folder: str | os.PathLike,
    family=None,
    *,
    model=None,
    tokenizer=None,
    remote_code: bool = True,
    card: bool = True,
    strict: bool = True,
    **card_options: Any,
) -> Path:
    """Turn a folder holding `save_pretrained` output into a complete Hub repo (in place).

    Adds the format version and `auto_map` to config.json and tokenizer_config.json, bundles the remote
    code, draws the loss curve from training_log.json and writes the model card. `card_options` go to
    `model_card.write_model_card` (license, language, datasets, base_model, model_name, repo_id).

    With `strict=False` (used at the end of training, so that hours of training are never lost to a
    card problem) a failing remote-code or card step is logged and skipped; `hf-embeddings card DIR`
    redoes the card later.
    """
    from ..models.configuration_base import FORMAT_VERSION, FORMAT_VERSION_KEY
    from .card import write_model_card
    from .folder import TRAINING_LOG
    from .loss_curve import write_loss_curve
    from .remote_code import bundle_remote_code

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise HFEmbeddingsError(f"{folder} is not a saved model folder (no config.json)")
    family = family or _family_of_folder(folder)

    def step(what: str, fn, *args, **kwargs):
        if strict:
            return fn(*args, **kwargs)
        try:
            return fn(*args, **kwargs)
        except Exception:  # reported, not fatal: the weights and tokenizer are saved regardless
            logger.exception("could not %s for %s; the folder is saved without it", what, folder)
            return None

    config = _read_json(folder / "config.json")
    config[FORMAT_VERSION_KEY] = FORMAT_VERSION
    bundle = step("bundle the remote code", bundle_remote_code, family, folder) if remote_code else None
    if bundle is not None:
        config["auto_map"] = {**config.get("auto_map", {}), **bundle.auto_map}
        tok_path = folder / "tokenizer_config.json"
        if tok_path.is_file():
            tok_config = _read_json(tok_path)
            tok_config["auto_map"] = bundle.tokenizer_auto_map
            _write_json(tok_path, tok_config)
    _write_json(folder / "config.json", config)
    if (folder / TRAINING_LOG).is_file():
        log = _read_json(folder / TRAINING_LOG)
        step("draw the loss curve", write_loss_curve, log, folder, title=f"{family.name}: training loss")
    if card:
        step("write the model card", write_model_card, folder, model=model, tokenizer=tokenizer, family=family,
             **card_options)  # fmt: skip
    return folder


def save_model_folder(
    model,
    tokenizer,
    path: str | os.PathLike,
    *,
    training_log: dict | None = None,
    eval_results: dict | None = None,
    overwrite: bool = False,
    remote_code: bool = True,
    card: bool = True,
    **card_options: Any,
) -> Path:
    """Save `model` + `tokenizer` as a complete Hub repo folder at `path` (written aside, renamed at the end).

    `model` may be the base model or a training head (its base model is saved). `training_log` and
    `eval_results` (dicts, as `api.train` writes them) are saved as training_log.json / eval_results.json
    and shown in the card. `card_options`: license, language, datasets, base_model, model_name, repo_id.

    Example:
        >>> model = Word2VecModel(Word2VecConfig(vocab_size=len(tok), vector_size=8))  # doctest: +SKIP
        >>> save_model_folder(model, tok, "out/w2v", license="mit")                     # doctest: +SKIP
    """
    from ..models.family import family_for_config
    from .folder import EVAL_RESULTS, TRAINING_LOG, check_output_dir, publish_folder

    out = check_output_dir(path, overwrite)
    family = family_for_config(model.config)
    # what `api.train` saves: the base model held by a head, or the head itself where the head is the
    # model (NNLM's causal LM keeps its output layer at the top level)
    savable = (family.model_class, family.training_class, *family.extra_auto_classes.values())
    base = model
    if not isinstance(model, family.model_class):
        base = getattr(model, getattr(model, "base_model_prefix", ""), None)
        base = model if base is None else base
        if not isinstance(base, savable):
            raise HFEmbeddingsError(
                f"cannot save a {type(model).__name__}: expected a {family.model_class.__name__} or a head holding one"
            )
    if hasattr(base, "attach_tokenizer"):
        base.attach_tokenizer(tokenizer)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        base.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if training_log is not None:
            _write_json(tmp / TRAINING_LOG, training_log)
        if eval_results is not None:
            _write_json(tmp / EVAL_RESULTS, eval_results)
        card_options.setdefault("model_name", out.name)
        finalize_folder(
            tmp, family, model=base, tokenizer=tokenizer, remote_code=remote_code, card=card, **card_options
        )
        os.chmod(tmp, 0o755)
        publish_folder(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


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
) -> str:
    """Upload a saved model folder to `repo_id` in a single commit; returns the commit URL.

    One `create_commit` carries every file (weights, tokenizer, code, card, results), so the repo is
    never seen half-updated, and files we manage that the folder no longer has (an old
    eval_results.json, old remote code) are deleted in the same commit. Our card is kept: `model.push_to_hub`
    would write its own README when the repo has none. With `update_card`, a generated card is first
    rewritten so its code examples name `repo_id`.
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    from .card import is_generated_card, write_model_card
    from .remote_code import HEADER

    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise HFEmbeddingsError(f"{folder} is not a saved model folder (no config.json)")
    if update_card and is_generated_card(folder):
        write_model_card(folder, repo_id=repo_id)
    api = HfApi(endpoint=endpoint, token=token)
    files = _folder_files(folder)
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
            CommitOperationAdd(path_in_repo=f.relative_to(folder).as_posix(), path_or_fileobj=str(f))
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
