"""What every family's `PreTrainedModel` shares: strict loading.

transformers initialises a parameter that a checkpoint lacks (a missing, renamed or damaged tensor) and
only reports it; a word-vector model that answers from random rows is worse than no model. Our models
refuse instead, naming the folder and the tensors. A task head trained from a base checkpoint (ELMo's
classifiers) lists the parts it adds in `_keys_to_ignore_on_load_missing`; a base model loaded from a
head's checkpoint lists the head's parts in `_keys_to_ignore_on_load_unexpected`.
"""

from __future__ import annotations

import re

from ..errors import HFEmbeddingsError


class WeightsMismatchError(HFEmbeddingsError):
    """A checkpoint's tensors do not match the model class it is loaded into."""


def _matches(key: str, patterns) -> bool:
    return any(re.search(p, key) for p in patterns or ())


def _listed(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


class StrictLoadingMixin:
    """Put before `PreTrainedModel` in the bases: `from_pretrained` raises `WeightsMismatchError` for a
    missing, unexpected or mis-shaped tensor instead of initialising it randomly."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        want_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(
            pretrained_model_name_or_path, *args, output_loading_info=True, **kwargs
        )
        missing = sorted(
            k for k in info["missing_keys"] if not _matches(k, cls._keys_to_ignore_on_load_missing)
        )
        unexpected = sorted(
            k for k in info["unexpected_keys"] if not _matches(k, cls._keys_to_ignore_on_load_unexpected)
        )
        mismatched = sorted(str(k[0] if isinstance(k, tuple) else k) for k in info["mismatched_keys"])
        problems = []
        if missing:
            problems.append(f"missing tensor(s) {_listed(missing)}")
        if unexpected:
            problems.append(f"unexpected tensor(s) {_listed(unexpected)}")
        if mismatched:
            problems.append(f"tensor(s) of the wrong shape {_listed(mismatched)}")
        if problems:
            saved_as = getattr(model.config, "architectures", None) or ["?"]
            raise WeightsMismatchError(
                f"{pretrained_model_name_or_path}: the weights do not fit {cls.__name__} ({'; '.join(problems)}); "
                f"the folder was saved from {', '.join(saved_as)}: load it with that class, or the file is damaged"
            )
        return (model, info) if want_info else model
