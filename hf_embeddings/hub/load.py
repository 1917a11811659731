"""Load a saved folder (or Hub repo) back as (model, tokenizer), through the Auto classes."""

from __future__ import annotations

import os
from typing import Any

from ..errors import HFEmbeddingsError
from ..models.family import family_for_config


def load(path: str | os.PathLike, *, head: str | None = None) -> tuple[Any, Any]:
    """Return (model, tokenizer) from a saved folder or Hub id, via AutoModel / AutoTokenizer.

    `head` names an Auto class (e.g. "AutoModelForCausalLM") to use instead of AutoModel when the model's
    family registers it (`ModelFamily.extra_auto_classes`), so a caller can ask for a capability (a
    language-model head) without knowing which families have it.
    """
    import transformers
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from ..models.configuration_base import FORMAT_VERSION_KEY, FormatVersionError, check_format_version

    try:
        config = AutoConfig.from_pretrained(path)
    except FormatVersionError as e:
        raise FormatVersionError(f"{path}: {e}") from None
    except (OSError, ValueError) as e:
        raise HFEmbeddingsError(f"cannot load a model from {path}: {str(e).splitlines()[0]}") from None
    family = family_for_config(config)  # clear error for non-hf_embeddings models
    # configs not derived from EmbeddingConfig keep the saved field as a plain attribute
    check_format_version(getattr(config, FORMAT_VERSION_KEY, None), str(path))
    auto = getattr(transformers, head) if head in family.extra_auto_classes else AutoModel
    model = auto.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if hasattr(model, "attach_tokenizer"):
        model.attach_tokenizer(tokenizer)
    return model, tokenizer
