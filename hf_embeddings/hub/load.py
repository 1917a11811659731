"""Load a saved folder (or Hub repo) back as (model, tokenizer), through the Auto classes, strictly.

A damaged folder is an `HFEmbeddingsError` naming the folder and what is wrong, never a model that
answers from random or non-finite rows: the weights load strictly (`models.modeling_base`), safetensors
only (never a pickle), and the tokenizer must agree with the weights (vocabulary size, special tokens,
ids 0..n-1 without gaps or duplicates).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import HFEmbeddingsError
from ..models.family import family_for_config
from ..text.sources import is_repo_id
from ..text.tokenization import SPECIAL_TOKENS, WordTokenizer

#: what reading a damaged folder raises from inside transformers / safetensors / tokenizers / json
_READ_ERRORS = (
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    RuntimeError,
    AttributeError,
    RecursionError,
)


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:300]


def load(
    path: str | os.PathLike, *, head: str | None = None, allow_non_finite: bool = False
) -> tuple[Any, Any]:
    """Return (model, tokenizer) from a saved folder or Hub id, via AutoModel / AutoTokenizer.

    `head` names an Auto class (e.g. "AutoModelForCausalLM") to use instead of AutoModel when the model's
    family registers it (`ModelFamily.extra_auto_classes`), so a caller can ask for a capability (a
    language-model head) without knowing which families have it. NaN or infinite weights are refused
    unless `allow_non_finite`.
    """
    import transformers
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from ..models.configuration_base import FORMAT_VERSION_KEY, FormatVersionError, check_format_version

    text = str(path)
    if not text.strip():  # Path("") is the current folder
        raise HFEmbeddingsError("cannot load a model from an empty name: give a folder or a Hub repo id")
    if not Path(text).exists() and not is_repo_id(text, owner_required=False):  # a missing local path
        raise HFEmbeddingsError(f"cannot load a model from {text!r}: no such folder")
    if Path(text).exists() and not Path(text).is_dir():
        raise HFEmbeddingsError(f"cannot load a model from {text}: it is a file, not a saved model folder")
    try:
        config = AutoConfig.from_pretrained(path)
    except FormatVersionError as e:
        raise FormatVersionError(f"{path}: {e}") from None
    except HFEmbeddingsError:
        raise
    except _READ_ERRORS as e:
        raise HFEmbeddingsError(f"cannot load a model from {path}: {_first_line(e)}") from None
    family = family_for_config(config)  # clear error for non-hf_embeddings models
    # configs not derived from EmbeddingConfig keep the saved field as a plain attribute
    check_format_version(getattr(config, FORMAT_VERSION_KEY, None), str(path))
    auto = getattr(transformers, head) if head in family.extra_auto_classes else AutoModel
    try:
        model = auto.from_pretrained(path, use_safetensors=True)
    except HFEmbeddingsError:
        raise
    except Exception as e:  # noqa: BLE001 (safetensors' own error type is not importable everywhere)
        raise HFEmbeddingsError(f"{path}: cannot read the weights: {_first_line(e)}") from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except HFEmbeddingsError:
        raise
    except Exception as e:  # noqa: BLE001 (tokenizers raises its own Exception subclass)
        raise HFEmbeddingsError(f"{path}: cannot read the tokenizer: {_first_line(e)}") from None
    if not isinstance(tokenizer, family.tokenizer_class):  # a damaged or edited tokenizer_config.json
        raise HFEmbeddingsError(
            f"{path}: the tokenizer loads as {type(tokenizer).__name__}, expected {family.tokenizer_class.__name__} "
            "(is tokenizer_config.json damaged?)"
        )
    check_consistency(model, tokenizer, str(path), allow_non_finite=allow_non_finite)
    if hasattr(model, "attach_tokenizer"):
        model.attach_tokenizer(tokenizer)
    return model, tokenizer


def check_consistency(model, tokenizer, where: str, *, allow_non_finite: bool = False) -> None:
    """Raise `HFEmbeddingsError` unless `tokenizer` fits `model` and the weights are finite."""
    import torch

    vocab = tokenizer.get_vocab()
    ids = sorted(vocab.values())
    if ids != list(range(len(ids))):
        raise HFEmbeddingsError(
            f"{where}: the tokenizer's ids are not 0..{len(ids) - 1} without gaps or duplicates"
        )
    try:  # a word table has a row per tokenizer id (ELMo reads characters: no table to check)
        rows = getattr(model.get_input_embeddings(), "num_embeddings", None)
    except (NotImplementedError, AttributeError):
        rows = None
    if rows is not None and len(tokenizer) != rows:
        raise HFEmbeddingsError(
            f"{where}: the tokenizer has {len(tokenizer)} entries but the model {rows} rows: they are not a pair"
        )
    if isinstance(tokenizer, WordTokenizer):
        found = tokenizer.convert_ids_to_tokens(list(range(len(SPECIAL_TOKENS))))
        specials = (tokenizer.unk_token, tokenizer.pad_token, tokenizer.bos_token, tokenizer.eos_token)
        if tuple(found) != SPECIAL_TOKENS or tuple(specials) != SPECIAL_TOKENS:
            raise HFEmbeddingsError(
                f"{where}: the tokenizer's special tokens are {list(specials)} at ids 0-3 {found}, expected "
                f"{list(SPECIAL_TOKENS)} (is tokenizer_config.json missing or edited?)"
            )
    if allow_non_finite:
        return
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point():
            bad = int((~torch.isfinite(tensor)).sum())
            if bad:
                raise HFEmbeddingsError(
                    f"{where}: tensor {name} holds {bad} NaN or infinite value(s); pass allow_non_finite=True to "
                    "load it anyway"
                )
