"""The "Next word" tab: the `next-word` pipeline's distribution and `model.generate` continuations.

Only words are listed and generated: the unknown-word, padding and start tokens are never produced, and the
probability left to an unknown word or the end of the sentence is a note. Notes are plain text lines (the
UI escapes them, so `<unk>` and `</s>` show as typed).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .inputs import MAX_NEW_TOKENS, MAX_TEXT_CHARS, MAX_TOPN, bounded, check_length
from .models import DemoInputError, DemoModel, and_list, count_note, pick

_GENERATION_LOCK = threading.Lock()  # sampling seeds torch's global RNG


def _prompt_ids(dm: DemoModel, prompt: str) -> tuple[list[int], list[str]]:
    """Token ids of a prompt and the words read as <unk>."""
    text = check_length(prompt, MAX_TEXT_CHARS, "a few words")
    ids = dm.tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise DemoInputError("Please type a few words (the prompt has no word the model can read).")
    unk = dm.tokenizer.unk_token_id
    unknown = [w for w, i in zip(dm.words_of(text), ids) if i == unk and w != dm.tokenizer.unk_token]
    return ids, unknown


def _unknown_note(dm: DemoModel, unknown: Sequence[str]) -> str:
    if not unknown:
        return ""
    words = and_list([f"'{w}'" for w in dict.fromkeys(unknown)])
    return f"{dm.name} reads {words} as {dm.tokenizer.unk_token} (not in its vocabulary)."


def _context_note(dm: DemoModel, prompt: str) -> str:
    """Corpus counts of the words the model sees (its context window): how far to trust its guesses."""
    words = dm.words_of(prompt)
    size = getattr(dm.model.config, "context_size", None)
    return count_note([dm], words[-size:] if isinstance(size, int) and size > 0 else words)


def _special_ids(dm: DemoModel) -> list[int]:
    """Ids generation must never produce: unknown word, padding, start of sentence."""
    tok = dm.tokenizer
    ids = {tok.unk_token_id, tok.pad_token_id, tok.bos_token_id} - {None, tok.eos_token_id}
    return sorted(i for i in ids if isinstance(i, int) and i >= 0)


@dataclass
class _Pipelines:
    cache: dict[int, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, dm: DemoModel) -> Any:
        with self.lock:
            if id(dm.model) not in self.cache:
                from transformers import pipeline

                self.cache[id(dm.model)] = pipeline("next-word", model=dm.model, tokenizer=dm.tokenizer)
            return self.cache[id(dm.model)]


_PIPELINES = _Pipelines()


def next_words(
    models: Sequence[DemoModel], name: str, prompt: str, top_k: int = 10
) -> tuple[pd.DataFrame, list[str]]:
    """The `next-word` pipeline's top-k words and probabilities for a prompt."""
    (dm,) = pick(models, [name] if name else [], "can_generate")
    top_k = bounded(top_k, 1, MAX_TOPN, "The number of words")
    _, unknown = _prompt_ids(dm, prompt)
    with warnings.catch_warnings():  # unknown words are reported in the notes instead
        warnings.simplefilter("ignore")
        ranked = _PIPELINES.get(dm)(prompt.strip(), top_k=top_k)
    specials = set(dm.tokenizer.all_special_tokens)  # the pipeline lists words only: kept that way here
    words = [r for r in ranked if r["word"] not in specials][:top_k]
    frame = pd.DataFrame(
        {"word": [r["word"] for r in words], "probability": [round(r["probability"], 5) for r in words]}
    )
    notes = [_unknown_note(dm, unknown), _left_out_note(dm, ranked), _context_note(dm, prompt)]
    return frame, [n for n in notes if n]


def _left_out_note(dm: DemoModel, ranked: Any) -> str:
    """The probability the word list leaves out: unknown words and the end of the sentence."""
    parts = []
    for attr, what in (
        ("unknown_probability", f"an unknown word ({dm.tokenizer.unk_token})"),
        ("end_of_sentence_probability", f"the end of the sentence ({dm.tokenizer.eos_token})"),
    ):
        p = getattr(ranked, attr, None)
        if p is not None:
            parts.append(f"{what} {p:.5f}")
    return f"Not listed: {', '.join(parts)}." if parts else ""


def generate(
    models: Sequence[DemoModel],
    name: str,
    prompt: str,
    max_new_tokens: int = 20,
    sample: bool = False,
    temperature: float = 1.0,
    seed: int = 0,
) -> tuple[str, list[str]]:
    """Continue a prompt with `model.generate` (greedy, or sampled with a seed); returns (text, notes).

    A continuation shorter than asked ended at the end of a sentence: the notes say so.
    """
    import torch

    (dm,) = pick(models, [name] if name else [], "can_generate")
    max_new_tokens = bounded(max_new_tokens, 1, MAX_NEW_TOKENS, "The number of words to generate")
    try:
        temperature = float(temperature)
    except (TypeError, ValueError):
        raise DemoInputError(f"The temperature must be a number, got {temperature!r}.") from None
    if sample and not 0.05 <= temperature <= 5:
        raise DemoInputError(f"The temperature must be between 0.05 and 5, got {temperature}.")
    ids, unknown = _prompt_ids(dm, prompt)
    input_ids = torch.tensor([ids])
    options: dict[str, Any] = {"do_sample": bool(sample)}
    if sample:
        options.update(temperature=temperature, top_k=0, top_p=1.0)
    with _GENERATION_LOCK, torch.no_grad():
        torch.manual_seed(int(seed))
        out = dm.model.generate(
            input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=max_new_tokens,
            pad_token_id=dm.tokenizer.pad_token_id,
            eos_token_id=dm.tokenizer.eos_token_id,
            suppress_tokens=_special_ids(dm) or None,
            **options,
        )
    words, ended = [], False
    for token in dm.tokenizer.convert_ids_to_tokens(out[0, len(ids) :].tolist()):
        if token == dm.tokenizer.eos_token:
            ended = True
            break
        words.append(token)
    notes = [_unknown_note(dm, unknown)]
    if ended:
        n = len(words)
        notes.append(
            f"Stopped after {n} of {max_new_tokens} word{'s' * (max_new_tokens != 1)}: the model ended the "
            f"sentence ({dm.tokenizer.eos_token})."
            if n
            else f"The model ended the sentence ({dm.tokenizer.eos_token}) right away: no word to add."
        )
    notes.append(_context_note(dm, prompt))
    return " ".join([prompt.strip(), *words]), [n for n in notes if n]
