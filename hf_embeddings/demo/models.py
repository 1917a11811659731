"""The demo's models: loading (folders, Hub ids, the list to show), capabilities, and picking by name.

A :class:`DemoModel` is a loaded model with what the demo shows about it. Models are used only through
the library's own query API and are picked by capability (:func:`pick`): a static word table (`wv`), a
language-model head (`generate`), or contextual embeddings (ELMo's `embed_sentences` +
`scalar_mix_weights`), never by family name.

Bad input raises :class:`DemoInputError` with a message written for the person at the keyboard (the UI
shows it as is).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import HFEmbeddingsError

#: environment variable naming the models to show (folders or Hub ids, separated by commas or spaces)
ENV_VAR = "HF_EMBEDDINGS_DEMO_MODELS"
#: where `hf-embeddings quickstart` writes its models (used when no model is named)
DEFAULT_OUTPUTS = "outputs"
MODELS_FILE = "demo_models.txt"  # written into a Space by `hf-embeddings demo --build-space`
#: what separates the words (or model names) typed in one field: spaces, commas, semicolons
WORD_SPLIT = re.compile(r"[\s,;]+")


class DemoInputError(HFEmbeddingsError):
    """Input the demo cannot answer; the message is meant to be shown to the user unchanged."""


@dataclass
class DemoModel:
    """A loaded model with what the demo shows about it.

    `embed_sentences` is the family's `ModelFamily.embed_sentences` for contextual families, else None.
    """

    name: str
    model: Any
    tokenizer: Any
    family: str = ""
    source: str = ""
    eval_results: dict = field(default_factory=dict)
    card_results: list[dict] = field(default_factory=list)  # the README's model-index, flattened
    card_text: str = ""
    embed_sentences: Callable[..., list[np.ndarray]] | None = None
    folder: Path | None = None  # where the results above were read (re-read by `reload_results`)

    def reload_results(self) -> None:
        """Read the folder's evaluation results and card again (after `hf-embeddings evaluate DIR`)."""
        if self.folder is not None:
            self.eval_results = _eval_results(self.folder)
            self.card_results, self.card_text = _card(self.folder)

    @property
    def is_static(self) -> bool:
        """Has a static word table with the gensim-style query API."""
        return hasattr(type(self.model), "wv")

    @property
    def can_generate(self) -> bool:
        """Has a language-model head: next-word distribution and `generate`."""
        check = getattr(self.model, "can_generate", None)
        return bool(callable(check) and check())

    @property
    def is_contextual(self) -> bool:
        return self.embed_sentences is not None

    @cached_property
    def vocabulary(self) -> list[str]:
        """The words a static model knows, most frequent first (for suggestions and examples)."""
        if self.is_static:
            return list(self.model.wv.index_to_key)
        words = getattr(self.tokenizer, "words", None)
        return list(words) if words is not None else []

    @cached_property
    def vocab_set(self) -> frozenset[str]:
        return frozenset(self.vocabulary)

    def words_of(self, text: str) -> list[str]:
        """`text` split into words the way the model's tokenizer does (normalisation included)."""
        split = getattr(self.tokenizer, "pre_tokenize", None)
        return split(text) if callable(split) else text.split()

    def normalise(self, word: str) -> str:
        """The vocabulary form of one typed word ('King' -> 'king'); unchanged if it splits in several."""
        parts = self.words_of(word)
        return parts[0] if len(parts) == 1 else word

    def suggest(self, word: str, n: int = 3) -> list[str]:
        """Close vocabulary words for a typo or an unknown word."""
        return difflib.get_close_matches(word, self.vocabulary, n=n, cutoff=0.7)

    @cached_property
    def _counts(self) -> np.ndarray | None:
        counts = getattr(self.tokenizer, "word_counts", None)
        return None if counts is None else np.asarray(counts)

    @property
    def has_counts(self) -> bool:
        """The tokenizer stored its corpus word counts (`word_counts.json`)."""
        return self._counts is not None

    def count(self, word: str) -> int | None:
        """How often `word` occurred in the training corpus (None: no stored counts, or not a word of the
        model): the main hint of how far its vector can be trusted."""
        if self._counts is None or word not in self.vocab_set:
            return None
        i = self.tokenizer.convert_tokens_to_ids(word)
        return int(self._counts[i]) if 0 <= i < len(self._counts) else None

    def resolve(self, words: Sequence[str]) -> tuple[list[str], list[str]]:
        """(vocabulary forms of the known `words`, the typed words the model does not know)."""
        known = [self.normalise(w) for w in words]
        unknown = [w for w, v in zip(words, known) if v not in self.vocab_set]
        return [v for v in known if v in self.vocab_set], unknown


def and_list(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def unknown_words_message(missing: Mapping[str, Sequence[DemoModel]], n_asked: int) -> list[str]:
    """One sentence per set of models lacking the same typed words (not one per model), with close words.

    `missing` maps a typed word to the models without it; `n_asked` is how many models were asked, so a word
    no model knows reads "'x' is not in the vocabulary" without listing every model.
    """
    groups: dict[tuple[str, ...], list[str]] = {}
    for word, lacking in missing.items():
        groups.setdefault(tuple(m.name for m in lacking), []).append(word)
    by_name = {m.name: m for lacking in missing.values() for m in lacking}
    sentences = []
    for names, words in groups.items():
        first = by_name[names[0]]
        hints = [f" (close words: {', '.join(close)})" if (close := first.suggest(w)) else "" for w in words]
        where = "" if len(names) >= n_asked else f" of {and_list(names)}"
        if len(words) == 1:
            sentences.append(f"'{words[0]}' is not in the vocabulary{where}{hints[0]}.")
        else:
            quoted = and_list([f"'{w}'{h}" for w, h in zip(words, hints)])
            sentences.append(f"{quoted} are not in the vocabulary{where}.")
    return sentences


#: corpus counts below which a word's vector is mostly noise, and below which it is only a rough guide
RARE, UNCOMMON = 50, 500


def trust(count: int) -> str:
    """How far to trust a word's vector, from how often the word occurred in training."""
    if count < RARE:
        return "rare: mostly noise"
    if count < UNCOMMON:
        return "uncommon: a rough guide"
    return "frequent"


def count_note(models: Sequence[DemoModel], words: Sequence[str]) -> str:
    """One line with how often each typed word occurred in training, the main hint of how far to trust
    the answer ('' when no model stored its counts)."""
    parts = []
    for typed in dict.fromkeys(words):
        seen: dict[int, list[str]] = {}
        word = typed
        for dm in models:
            count = dm.count(dm.normalise(typed))
            if count is not None:
                seen.setdefault(count, []).append(dm.name)
                word = dm.normalise(typed)  # the vocabulary form: 'Cat' was looked up as 'cat'
        if len(seen) == 1:
            (count,) = seen
            parts.append(f"'{word}' {count:,} ({trust(count)})")
        elif seen:
            each = ", ".join(f"{count:,} in {and_list(names)}" for count, names in seen.items())
            parts.append(f"'{word}' {each} ({trust(min(seen))})")
    return f"Times seen in training (the fewer, the less to trust): {'; '.join(parts)}" if parts else ""


def _eval_results(folder: Path) -> dict:
    from ..hub.folder import EVAL_RESULTS

    path = folder / EVAL_RESULTS
    return json.loads(path.read_text()) if path.is_file() else {}


def _card(folder: Path) -> tuple[list[dict], str]:
    """(model-index results, card body) of a folder's README.md; empty when there is none."""
    readme = folder / "README.md"
    if not readme.is_file():
        return [], ""
    from huggingface_hub import ModelCard

    try:
        card = ModelCard.load(readme)
    except Exception:  # a hand-written README with broken YAML still loads as a model
        return [], readme.read_text(encoding="utf-8", errors="replace")
    rows = [
        {
            "dataset": r.dataset_name or r.dataset_type,
            "metric": r.metric_name or r.metric_type,
            "value": r.metric_value,
        }
        for r in (card.data.eval_results or [])
    ]
    return rows, card.text


def _local_folder(source: str) -> Path:
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise HFEmbeddingsError(f"{source} is not a model folder")
    from ..hub.folder import is_repo_id

    if not is_repo_id(source, owner_required=False):
        raise HFEmbeddingsError(f"model folder {source} not found")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(source))
    except Exception as e:  # offline, unknown repo, gated ...: one line, no traceback
        raise HFEmbeddingsError(
            f"{source}: not a local folder and not downloadable from the Hub ({e})"
        ) from None


def load_model(source: str, name: str | None = None) -> DemoModel:
    """Load a saved model folder or Hub repo id with what the demo shows about it.

    A Hub repo is downloaded first, so its evaluation results and card are read exactly as a folder's.
    A family with a language-model head is loaded with it (the head model still has the word table).
    """
    from ..hub.load import load
    from ..models.family import family_for_config

    folder = _local_folder(source)
    model, tokenizer = load(folder, head="AutoModelForCausalLM")
    model.eval()
    family = family_for_config(model.config)
    dm = DemoModel(
        name=name or (Path(source).name if Path(source).is_dir() else source),
        model=model,
        tokenizer=tokenizer,
        family=family.name,
        source=str(source),
        embed_sentences=family.embed_sentences if "contextual" in family.capabilities else None,
        folder=folder,
    )
    dm.reload_results()
    return dm


def resolve_sources(
    sources: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    outputs: str | os.PathLike = DEFAULT_OUTPUTS,
    models_file: str | os.PathLike = MODELS_FILE,
) -> list[str]:
    """The models to show: `sources`, else $HF_EMBEDDINGS_DEMO_MODELS, else the entries of `models_file`
    (a built Space's list; folders relative to it), else the quickstart's outputs."""
    if sources:
        return list(sources)
    env = (os.environ if environ is None else environ).get(ENV_VAR, "")
    if env.strip():
        return [s for s in WORD_SPLIT.split(env.strip()) if s]
    listed = Path(models_file)
    if listed.is_file():
        entries = [line.strip() for line in listed.read_text().splitlines() if line.strip()]
        return [str(listed.parent / e) if (listed.parent / e).is_dir() else e for e in entries]
    out = Path(outputs)
    summary = out / "summary.json"
    found: list[str] = []
    if summary.is_file():
        for family, entry in json.loads(summary.read_text()).items():
            folder = Path(entry.get("output_dir", out / family))
            if not folder.is_dir():
                folder = out / family
            if (folder / "config.json").is_file():
                found.append(str(folder))
    if not found and out.is_dir():
        found = [str(p) for p in sorted(out.iterdir()) if (p / "config.json").is_file()]
    if not found:
        raise HFEmbeddingsError(
            f"no models to show: name model folders or Hub ids (hf-embeddings demo DIR ...), set {ENV_VAR}, "
            f"or run `hf-embeddings quickstart` to create {out}/"
        )
    return found


def load_models(sources: Sequence[str] | None = None, **kwargs: Any) -> list[DemoModel]:
    """Load every model of `resolve_sources(sources)`; names are made unique ('glove', 'glove-2')."""
    models: list[DemoModel] = []
    seen: set[str] = set()
    for source in resolve_sources(sources, **kwargs):
        dm = load_model(source)
        base, i = dm.name, 1
        while dm.name in seen:
            i += 1
            dm.name = f"{base}-{i}"
        seen.add(dm.name)
        models.append(dm)
    return models


def pick(models: Sequence[DemoModel], names: str | Sequence[str] | None, capability: str) -> list[DemoModel]:
    """The models called `names` that have `capability` ('is_static', 'can_generate', 'is_contextual')."""
    wanted = [names] if isinstance(names, str) else list(names or [])
    if not wanted:
        raise DemoInputError("Please pick at least one model.")
    by_name = {m.name: m for m in models if getattr(m, capability)}
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise DemoInputError(
            f"Unknown model(s): {', '.join(unknown)} (available: {', '.join(by_name) or 'none'})."
        )
    return [by_name[n] for n in wanted]
