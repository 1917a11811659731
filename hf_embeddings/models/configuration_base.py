"""Base class of every model family's config: stamps and checks the hf_embeddings folder format version.

A saved folder records `hf_embeddings_format_version` in its config.json. Loading a folder written by a
newer hf_embeddings (a higher version) fails with a message that says so, instead of a shape mismatch or
a silently wrong model. Folders written before the field existed load as version 1.

Family configs derive from `EmbeddingConfig` instead of `PretrainedConfig` (nothing else to call):

    class GloVeConfig(EmbeddingConfig):
        model_type = "hfe_glove"
        def __init__(self, vector_size=100, ..., **kwargs):
            ...
            super().__init__(**kwargs)

This module is also copied into saved folders for `trust_remote_code` loading (see `remote_code.py`),
so it imports nothing from hf_embeddings but `errors`.
"""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

from ..errors import HFEmbeddingsError

#: version of the saved-folder layout this code writes; bump it when old code could misread new folders
FORMAT_VERSION = 1
FORMAT_VERSION_KEY = "hf_embeddings_format_version"
#: the ids `text.tokenization.SPECIAL_TOKENS` gives the special words (repeated: this module is bundled alone)
SPECIAL_TOKEN_IDS = {"pad_token_id": 1, "bos_token_id": 2, "eos_token_id": 3}


class FormatVersionError(HFEmbeddingsError):
    """A saved folder was written in a format this hf_embeddings does not know (newer or invalid)."""


def check_format_version(value: Any, where: str | None = None) -> int:
    """Return the folder format version `value` (None -> 1); raises `FormatVersionError` when unsupported."""
    source = f"{where}: " if where else ""
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FormatVersionError(
            f"{source}invalid {FORMAT_VERSION_KEY} {value!r} in config.json (expected an integer >= 1)"
        )
    if value > FORMAT_VERSION:
        raise FormatVersionError(
            f"{source}this model folder has format version {value}, but this hf_embeddings reads format "
            f"versions up to {FORMAT_VERSION}: upgrade hf-embeddings (pip install -U hf-embeddings)"
        )
    return value


def default_cutoffs(vocab_size: int) -> list[int]:
    """Adaptive-softmax cluster boundaries for a frequency-sorted vocabulary of `vocab_size` ids.

    A head of the ~2k most frequent ids, then clusters up to 10k and 50k (as for WikiText-103 in Grave
    et al. 2017); a small vocabulary gets a single split at half its size.
    """
    cutoffs = [c for c in (2000, 10000, 50000) if c < vocab_size - 1]
    return cutoffs or [max(1, vocab_size // 2)]


def check_adaptive_softmax(vocab_size: int, cutoffs: list[int] | None, div_value: float) -> list[int]:
    """The cluster boundaries of an adaptive softmax over `vocab_size` ids (`default_cutoffs` when None),
    checked together with `div_value` (the shrink factor of each tail cluster's projection); the language
    model configs share it."""
    cutoffs = list(cutoffs) if cutoffs else default_cutoffs(vocab_size)
    if (
        any(isinstance(c, bool) or not isinstance(c, int) for c in cutoffs)
        or cutoffs != sorted(set(cutoffs))
        or cutoffs[0] < 1
        or cutoffs[-1] > vocab_size - 1
    ):
        raise ValueError(
            f"adaptive_softmax_cutoffs must be increasing integers in [1, vocab_size - 1 = {vocab_size - 1}], "
            f"got {cutoffs}"
        )
    if isinstance(div_value, bool) or not isinstance(div_value, (int, float)) or not div_value >= 1:
        raise ValueError(f"adaptive_softmax_div_value must be a number >= 1, got {div_value!r}")
    return cutoffs


class EmbeddingConfig(PretrainedConfig):
    """Base configuration of the model families: a `PretrainedConfig` that records the folder format
    version (`FORMAT_VERSION`) and refuses the config of a folder written in a newer (or an invalid) one
    with a `FormatVersionError`. A family config sets its own fields, then calls `super().__init__`.

    Args:
        hf_embeddings_format_version (`int`, *optional*, defaults to `None`):
            The format version read from a saved config.json: `None` (a folder written before the field
            existed) counts as 1. It is checked, then replaced by `FORMAT_VERSION`, the version this code
            writes: a folder re-saved by it has its layout, whatever version it was read from.
        kwargs (*optional*):
            Passed to `PretrainedConfig`.

    Example:
        >>> EmbeddingConfig().hf_embeddings_format_version == FORMAT_VERSION
        True
    """

    def __init__(self, **kwargs):
        name = kwargs.get("name_or_path") or kwargs.get("_name_or_path")
        check_format_version(kwargs.pop(FORMAT_VERSION_KEY, None), name or None)
        # what this code writes: a folder re-saved by it has its layout, whatever version it was read from
        self.hf_embeddings_format_version = FORMAT_VERSION
        # the word tokenizers' special ids (<unk> 0, <pad> 1, <s> 2, </s> 3): a config that leaves them unset
        # disagrees with its tokenizer, and Trainer "aligns" it with a warning on every run
        for key, value in SPECIAL_TOKEN_IDS.items():
            if kwargs.get(key) is None:
                kwargs[key] = value
        super().__init__(**kwargs)
