"""Hub-ready folders: one folder = one complete Hub repo (publishing it: `push.py`).

A saved folder holds: config.json (with `auto_map` and `hf_embeddings_format_version`), model.safetensors,
the tokenizer (tokenizer.json, tokenizer_config.json with its `auto_map`, word_counts.json), the code
needed for `trust_remote_code=True` loading without hf_embeddings (see `remote_code.py`), README.md (the
model card), and when available training_log.json, loss_curve.svg, eval_results.json and conversion.json.

Example:

    save_model_folder(model, tokenizer, "out/w2v")
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ..errors import HFEmbeddingsError
from .folder import (
    CONFIG,
    CONVERSION_LOG,
    EVAL_RESULTS,
    TRAINING_LOG,
    atomic_folder,
    check_output_dir,
    read_json,
    write_json,
)

logger = logging.getLogger(__name__)


def _family_of_folder(folder: Path):
    from ..models.family import family_for_config

    config = read_json(folder / CONFIG)
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
    from .loss_curve import write_loss_curve
    from .remote_code import bundle_remote_code

    folder = Path(folder)
    if not (folder / CONFIG).is_file():
        raise HFEmbeddingsError(f"{folder} is not a saved model folder (no {CONFIG})")
    family = family or _family_of_folder(folder)

    def step(what: str, fn, *args, **kwargs):
        if strict:
            return fn(*args, **kwargs)
        try:
            return fn(*args, **kwargs)
        except Exception:  # reported, not fatal: the weights and tokenizer are saved regardless
            logger.exception("could not %s for %s; the folder is saved without it", what, folder)
            return None

    config = read_json(folder / CONFIG)
    config[FORMAT_VERSION_KEY] = FORMAT_VERSION
    bundle = step("bundle the remote code", bundle_remote_code, family, folder) if remote_code else None
    if bundle is not None:
        config["auto_map"] = {**config.get("auto_map", {}), **bundle.auto_map}
        tok_path = folder / "tokenizer_config.json"
        if tok_path.is_file():
            tok_config = read_json(tok_path)
            tok_config["auto_map"] = bundle.tokenizer_auto_map
            write_json(tok_path, tok_config)
    write_json(folder / CONFIG, config)
    if (folder / TRAINING_LOG).is_file():
        log = read_json(folder / TRAINING_LOG)
        step("draw the loss curve", write_loss_curve, log, folder, title=f"{family.name}: training loss")
    if card:
        step("write the model card", write_model_card, folder, model=model, tokenizer=tokenizer, family=family,
             **card_options)  # fmt: skip
    return folder


def _source_folder(model) -> Path | None:
    """The local folder `model` was loaded from when it still holds exactly that folder's weights (then the
    folder's training log, results and card metadata describe it), else None."""
    import torch
    from safetensors import SafetensorError, safe_open

    name = getattr(model, "name_or_path", "") or getattr(model.config, "_name_or_path", "")
    weights = Path(name) / "model.safetensors" if name else None
    if weights is None or not weights.is_file() or not (Path(name) / CONFIG).is_file():
        return None
    state = model.state_dict()
    try:
        with safe_open(str(weights), "pt") as f:
            keys = set(f.keys())
            if not keys or not keys <= set(state):
                return None
            if not all(torch.equal(f.get_tensor(k), state[k].detach().cpu()) for k in keys):
                return None  # trained or edited since: what the folder says is about other weights
    except (OSError, SafetensorError, RuntimeError):
        return None
    return Path(name)


def save_model_folder(
    model,
    tokenizer,
    path: str | os.PathLike,
    *,
    training_log: dict | None = None,
    eval_results: dict | None = None,
    conversion_log: dict | None = None,
    overwrite: bool = False,
    remote_code: bool = True,
    card: bool = True,
    **card_options: Any,
) -> Path:
    """Save `model` + `tokenizer` as a complete Hub repo folder at `path` (written aside, renamed at the end).

    `model` may be the base model or a training head (its base model is saved). `training_log` and
    `eval_results` (dicts, as `api.train` writes them) are saved as training_log.json / eval_results.json
    and shown in the card; `conversion_log` (what a converter read, see `convert.save_converted`) is saved
    as conversion.json. `card_options`: license, language, datasets, base_model, model_name, repo_id.

    Example:

        model = Word2VecModel(Word2VecConfig(vocab_size=len(tok), vector_size=8))
        save_model_folder(model, tok, "out/w2v", license="mit")
    """
    from ..models.family import family_for_config
    from .card import card_metadata

    out = check_output_dir(path, overwrite)  # refused before any work
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
    saved_as = list(getattr(model.config, "architectures", None) or [])
    known = {cls.__name__ for cls in savable}
    if saved_as and type(base).__name__ not in saved_as and set(saved_as) & known:
        # e.g. the base NNLMModel of a folder saved from NNLMForCausalLM: its output layer was not loaded
        raise HFEmbeddingsError(
            f"this {type(model).__name__} was loaded from a folder saved as {saved_as[0]}; saving it would drop "
            f"the weights {type(model).__name__} does not have: load it with {saved_as[0]} (or "
            "`hf_embeddings.api.load(path, head=...)` with the family's Auto class) and save that"
        )
    source = _source_folder(base)
    if source is not None:  # keep what the folder it came from knew: logs, results, card metadata
        training_log = (
            training_log if training_log is not None else read_json(source / TRAINING_LOG, missing=None)
        )
        eval_results = (
            eval_results if eval_results is not None else read_json(source / EVAL_RESULTS, missing=None)
        )
        conversion_log = (
            conversion_log if conversion_log is not None else read_json(source / CONVERSION_LOG, missing=None)
        )
        for key, value in card_metadata(source).items():
            card_options.setdefault(key, value)
    if hasattr(base, "attach_tokenizer"):
        base.attach_tokenizer(tokenizer)
    with atomic_folder(out, overwrite=overwrite) as tmp:
        base.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        for name, data in ((TRAINING_LOG, training_log), (EVAL_RESULTS, eval_results)):
            if data is not None:  # in the given order, as `api.train` writes them (the card follows it)
                write_json(tmp / name, data, sort_keys=False)
        if conversion_log is not None:  # in the converter's key order
            write_json(tmp / CONVERSION_LOG, conversion_log, sort_keys=False)
        card_options.setdefault("model_name", out.name)
        finalize_folder(
            tmp, family, model=base, tokenizer=tokenizer, remote_code=remote_code, card=card, **card_options
        )
    return out
