"""What the Gradio demo computes, without Gradio: model loading, input checks, queries, 2-D maps, scores.

Everything here takes plain strings and numbers (what a web form sends) and returns pandas DataFrames,
so the UI layer (`hf_embeddings.demo.ui`) stays a thin wiring of widgets to these functions, and the
logic is testable without a browser or a server.

Bad input raises :class:`DemoInputError` with a message written for the person at the keyboard (the UI
shows it as is); partial problems (a word one of two models does not know) come back as notes beside
the result instead of failing the whole query. Models are used only through the library's own query API
(`model.wv.most_similar`, ..., the `next-word` pipeline, `generate`) and are picked by capability: a
static word table (`wv`), a language-model head (`generate`), or contextual embeddings (ELMo's
`embed_sentences` + `scalar_mix_weights`), never by family name.
"""

from __future__ import annotations

import difflib
import importlib
import json
import math
import os
import re
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import HFEmbeddingsError

#: environment variable naming the models to show (folders or Hub ids, separated by commas or spaces)
ENV_VAR = "HF_EMBEDDINGS_DEMO_MODELS"
#: where `hf-embeddings quickstart` writes its models (used when no model is named)
DEFAULT_OUTPUTS = "outputs"
MODELS_FILE = "demo_models.txt"  # written into a Space by `hf-embeddings demo --build-space`

# Limits keep one request cheap for every other visitor of a shared Space.
MAX_WORD_CHARS = 300  # a field of words
MAX_TEXT_CHARS = 1000  # a prompt or a sentence
MAX_WORDS = 12  # words in one query (map groups, odd-one-out)
MAX_SENTENCES = 20  # candidate sentences in the context tab
MAX_TOPN = 50
MAX_NEW_TOKENS = 50
MAX_NEIGHBOURS_PER_WORD = 20

ANALOGY_METHODS = ("3CosAdd", "3CosMul")
_WORD_SPLIT = re.compile(r"[\s,;]+")
_ANALOGY_TOKENS = re.compile(r"[^\s,;:?=]+")
_GENERATION_LOCK = threading.Lock()  # sampling seeds torch's global RNG


class DemoInputError(HFEmbeddingsError):
    """Input the demo cannot answer; the message is meant to be shown to the user unchanged."""


# ------------------------------------------------------------------------------------------ models
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
    def _vocab_set(self) -> frozenset[str]:
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

    def unknown_message(self, words: Sequence[str]) -> str:
        """One line naming the unknown `words`, each with its close vocabulary words."""
        hints = [f" (close words: {', '.join(close)})" if (close := self.suggest(w)) else "" for w in words]
        if len(words) == 1:
            return f"{self.name}: '{words[0]}' is not in the vocabulary{hints[0]}"
        named = [f"'{w}'{h}" for w, h in zip(words, hints)]
        return f"{self.name}: {', '.join(named[:-1])} and {named[-1]} are not in the vocabulary"

    def resolve(self, words: Sequence[str]) -> tuple[list[str], list[str]]:
        """(vocabulary forms of `words`, [a message about the unknown ones] or [])."""
        known = [self.normalise(w) for w in words]
        unknown = [w for w, v in zip(words, known) if v not in self._vocab_set]
        if unknown:
            return [v for v in known if v in self._vocab_set], [self.unknown_message(unknown)]
        return known, []


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
        return [s for s in _WORD_SPLIT.split(env.strip()) if s]
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


# ------------------------------------------------------------------------------------ input checks
def _check_length(text: str | None, limit: int, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise DemoInputError(f"Please type {what}.")
    if len(text) > limit:
        raise DemoInputError(f"That input is too long ({len(text):,} characters; the limit is {limit:,}).")
    return text


def parse_words(
    text: str | None, *, min_words: int = 1, max_words: int = MAX_WORDS, what: str = "a word"
) -> list[str]:
    """Words typed in one field (separated by spaces or commas), with friendly count checks."""
    words = [w for w in _WORD_SPLIT.split(_check_length(text, MAX_WORD_CHARS, what)) if w]
    if len(words) < min_words:
        raise DemoInputError(f"Please type {what} (got {len(words)} word{'s' * (len(words) != 1)}).")
    if len(words) > max_words:
        raise DemoInputError(f"Too many words: {len(words)} (the limit is {max_words}).")
    return words


def parse_analogy(text: str | None) -> tuple[str, str, str]:
    """'man : king :: woman' (or 'man king woman') -> ('man', 'king', 'woman')."""
    words = _ANALOGY_TOKENS.findall(
        _check_length(text, MAX_WORD_CHARS, "an analogy, e.g. man : king :: woman")
    )
    if len(words) != 3:
        raise DemoInputError(
            f"An analogy needs exactly three words, a : b :: c (e.g. man : king :: woman); got {len(words)}: "
            + " ".join(words)
        )
    return words[0], words[1], words[2]


def _bounded(value: Any, lo: int, hi: int, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DemoInputError(f"{what} must be a whole number, got {value!r}.") from None
    if not lo <= number <= hi:
        raise DemoInputError(f"{what} must be between {lo} and {hi}, got {number}.")
    return number


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


class Answer:
    """Per-model results of one query plus the notes about models that could not answer."""

    def __init__(self) -> None:
        self.results: dict[str, Any] = {}
        self.notes: list[str] = []

    def ask(self, dm: DemoModel, words: Sequence[str], query: Callable[[list[str]], Any]) -> None:
        known, problems = dm.resolve(words)
        if problems:
            self.notes += problems
            return
        self.results[dm.name] = query(known)

    def check(self) -> None:
        if not self.results:
            raise DemoInputError("; ".join(self.notes) or "No model could answer.")

    @property
    def note_text(self) -> str:
        return "\n".join(f"- {n}" for n in self.notes)


def _side_by_side(results: Mapping[str, list[tuple[str, float]]], score: str) -> pd.DataFrame:
    """One row per rank, a word column and a score column per model."""
    depth = max(len(r) for r in results.values())
    table: dict[str, list] = {"rank": list(range(1, depth + 1))}
    for name, pairs in results.items():
        pairs = list(pairs) + [("", math.nan)] * (depth - len(pairs))
        table[name] = [w for w, _ in pairs]
        table[f"{name} {score}"] = [round(float(s), 4) for _, s in pairs]
    return pd.DataFrame(table)


# ------------------------------------------------------------------------------------------ queries
def neighbours(
    models: Sequence[DemoModel], names: Sequence[str], text: str, topn: int = 10
) -> tuple[pd.DataFrame, str]:
    """Nearest words of a word (or of the mean of several) in each model, side by side, with cosines."""
    chosen = pick(models, names, "is_static")
    words = parse_words(text)
    topn = _bounded(topn, 1, MAX_TOPN, "The number of neighbours")
    answer = Answer()
    for dm in chosen:
        answer.ask(dm, words, lambda known, dm=dm: dm.model.wv.most_similar(positive=known, topn=topn))
    answer.check()
    return _side_by_side(answer.results, "cosine"), answer.note_text


def analogy(
    models: Sequence[DemoModel], names: Sequence[str], text: str, method: str = "3CosAdd", topn: int = 5
) -> tuple[pd.DataFrame, str]:
    """a : b :: c : ? with 3CosAdd (`most_similar`) or 3CosMul (`most_similar_cosmul`), gensim semantics."""
    chosen = pick(models, names, "is_static")
    words = parse_analogy(text)
    if method not in ANALOGY_METHODS:
        raise DemoInputError(f"Unknown analogy method {method!r} (choose {' or '.join(ANALOGY_METHODS)}).")
    topn = _bounded(topn, 1, MAX_TOPN, "The number of answers")
    answer = Answer()
    for dm in chosen:
        query = dm.model.wv.most_similar if method == "3CosAdd" else dm.model.wv.most_similar_cosmul
        answer.ask(dm, words, lambda k, query=query: query(positive=[k[1], k[2]], negative=[k[0]], topn=topn))
    answer.check()
    return _side_by_side(answer.results, "score"), answer.note_text


def similarity(models: Sequence[DemoModel], names: Sequence[str], text: str) -> tuple[pd.DataFrame, str]:
    """Cosine similarity of two words in each model."""
    chosen = pick(models, names, "is_static")
    words = parse_words(text, min_words=2, max_words=2, what="two words")
    answer = Answer()
    for dm in chosen:
        answer.ask(dm, words, lambda k, dm=dm: dm.model.wv.similarity(k[0], k[1]))
    answer.check()
    frame = pd.DataFrame(
        {"model": list(answer.results), "cosine": [round(float(v), 4) for v in answer.results.values()]}
    )
    return frame, answer.note_text


def odd_one_out(models: Sequence[DemoModel], names: Sequence[str], text: str) -> tuple[pd.DataFrame, str]:
    """The word that does not belong (furthest from the mean of the others), per model."""
    chosen = pick(models, names, "is_static")
    words = parse_words(text, min_words=3, what="at least three words")
    answer = Answer()
    for dm in chosen:
        answer.ask(dm, words, lambda k, dm=dm: dm.model.wv.doesnt_match(k))
    answer.check()
    return pd.DataFrame(
        {"model": list(answer.results), "odd one out": list(answer.results.values())}
    ), answer.note_text


# ------------------------------------------------------------------------------------------- the map
def available_projections() -> list[str]:
    """PCA always; t-SNE with scikit-learn, UMAP with umap-learn when they are installed."""
    methods = ["PCA"]
    for method, module in (("t-SNE", "sklearn.manifold"), ("UMAP", "umap")):
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        methods.append(method)
    return methods


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """First two principal components (numpy SVD), signs fixed so the result is reproducible."""
    x = np.asarray(vectors, dtype=np.float64)
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    components = vt[:2]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    y = x @ (components * signs[:, None]).T
    if y.shape[1] < 2:  # one dimension (or one point): pad so the plot still has x and y
        y = np.hstack([y, np.zeros((len(y), 2 - y.shape[1]))])
    return y


def project(vectors: np.ndarray, method: str = "PCA", seed: int = 0) -> np.ndarray:
    """(n, d) -> (n, 2) with PCA, t-SNE or UMAP."""
    n = len(vectors)
    if method == "PCA":
        return pca_2d(vectors)
    if method not in available_projections():
        raise DemoInputError(
            f"Projection {method!r} is not available here (available: {', '.join(available_projections())})."
        )
    if n < 4:
        raise DemoInputError(f"{method} needs at least 4 points; add words or neighbours, or use PCA.")
    if method == "t-SNE":
        from sklearn.manifold import TSNE

        return TSNE(
            n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=seed
        ).fit_transform(vectors)
    import umap

    return umap.UMAP(n_components=2, n_neighbors=min(15, n - 1), random_state=seed).fit_transform(vectors)


def word_map(
    models: Sequence[DemoModel], name: str, text: str, n_neighbours: int = 8, method: str = "PCA"
) -> tuple[pd.DataFrame, str]:
    """Points (x, y, word, group) of the typed words and their nearest neighbours, in 2-D.

    Each typed word is a group holding itself and its neighbours; a word already placed keeps its first
    group. Vectors are unit-normalised first, so distances on the map reflect cosine similarity.
    """
    (dm,) = pick(models, [name] if name else [], "is_static")
    words = parse_words(text, what="one or more words")
    n_neighbours = _bounded(n_neighbours, 0, MAX_NEIGHBOURS_PER_WORD, "The number of neighbours")
    known, problems = dm.resolve(words)
    if not known:
        raise DemoInputError("; ".join(problems))
    points: dict[str, str] = {}
    for word in known:
        points.setdefault(word, word)
        if n_neighbours:
            for neighbour, _ in dm.model.wv.most_similar(word, topn=n_neighbours):
                points.setdefault(neighbour, word)
    if len(points) < 2:
        raise DemoInputError("A map needs at least two points: add a word or some neighbours.")
    vectors = np.stack([dm.model.wv.get_word_vector(w, norm=True) for w in points])
    xy = project(vectors, method)
    frame = pd.DataFrame(
        {
            "x": np.round(xy[:, 0], 5),
            "y": np.round(xy[:, 1], 5),
            "word": list(points),
            "group": list(points.values()),
            "typed": [w == g for w, g in points.items()],
        }
    )
    return frame, "\n".join(f"- {p}" for p in problems)


# ---------------------------------------------------------------------------------------- next word
def _prompt_ids(dm: DemoModel, prompt: str) -> tuple[list[int], list[str]]:
    """Token ids of a prompt and the words read as <unk>."""
    text = _check_length(prompt, MAX_TEXT_CHARS, "a few words")
    ids = dm.tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise DemoInputError("Please type a few words (the prompt has no word the model can read).")
    unk = dm.tokenizer.unk_token_id
    unknown = [w for w, i in zip(dm.words_of(text), ids) if i == unk and w != dm.tokenizer.unk_token]
    return ids, unknown


def _unknown_note(dm: DemoModel, unknown: Sequence[str]) -> str:
    if not unknown:
        return ""
    return f"- {dm.name} reads {', '.join(repr(w) for w in unknown)} as {dm.tokenizer.unk_token} (not in its vocabulary)"


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
) -> tuple[pd.DataFrame, str]:
    """The `next-word` pipeline's top-k words and probabilities for a prompt."""
    (dm,) = pick(models, [name] if name else [], "can_generate")
    top_k = _bounded(top_k, 1, MAX_TOPN, "The number of words")
    _, unknown = _prompt_ids(dm, prompt)
    with warnings.catch_warnings():  # unknown words are reported in the notes instead
        warnings.simplefilter("ignore")
        ranked = _PIPELINES.get(dm)(prompt.strip(), top_k=top_k)
    frame = pd.DataFrame(
        {"word": [r["word"] for r in ranked], "probability": [round(r["probability"], 5) for r in ranked]}
    )
    return frame, _unknown_note(dm, unknown)


def generate(
    models: Sequence[DemoModel],
    name: str,
    prompt: str,
    max_new_tokens: int = 20,
    sample: bool = False,
    temperature: float = 1.0,
    seed: int = 0,
) -> tuple[str, str]:
    """Continue a prompt with `model.generate` (greedy, or sampled with a seed); returns (text, notes)."""
    import torch

    (dm,) = pick(models, [name] if name else [], "can_generate")
    max_new_tokens = _bounded(max_new_tokens, 1, MAX_NEW_TOKENS, "The number of words to generate")
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
            **options,
        )
    words = []
    for token in dm.tokenizer.convert_ids_to_tokens(out[0, len(ids) :].tolist()):
        if token == dm.tokenizer.eos_token:
            break
        words.append(token)
    return " ".join([prompt.strip(), *words]), _unknown_note(dm, unknown)


# ------------------------------------------------------------------------------------------ context
def _sentence_lines(text: str | None, what: str, limit: int = MAX_SENTENCES) -> list[str]:
    lines = [
        line.strip() for line in _check_length(text, MAX_TEXT_CHARS * 2, what).splitlines() if line.strip()
    ]
    if len(lines) > limit:
        raise DemoInputError(f"Too many sentences: {len(lines)} (the limit is {limit}).")
    return lines


def _embed(dm: DemoModel, sentences: Sequence[str]) -> tuple[list[list[str]], list[np.ndarray]]:
    tokens = [dm.words_of(s) for s in sentences]
    for s, t in zip(sentences, tokens):
        if not t:
            raise DemoInputError(f"The sentence {s!r} has no words.")
        if len(t) > 100:
            raise DemoInputError(f"A sentence is too long ({len(t)} words; the limit is 100).")
    return tokens, [
        np.asarray(a, dtype=np.float64) for a in dm.embed_sentences(dm.model, dm.tokenizer, tokens)
    ]


def _position(dm: DemoModel, word: str, tokens: list[str], which: str) -> int:
    target = dm.normalise(word)
    if target in tokens:
        return tokens.index(target)
    folded = [t.casefold() for t in tokens]  # a case-sensitive model (ELMo): 'Bank' still finds 'bank'
    if target.casefold() in folded:
        return folded.index(target.casefold())
    raise DemoInputError(f"'{word}' does not occur in {which} (its words: {' '.join(tokens)}).")


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na and nb else 0.0


def _mixes(dm: DemoModel) -> list[tuple[list[float], float]]:
    return [(list(map(float, w)), float(g)) for w, g in dm.model.scalar_mix_weights()]


def _mix(layers: np.ndarray, weights: list[float], gamma: float) -> np.ndarray:
    return gamma * np.tensordot(np.asarray(weights), layers, axes=1)


def layer_names(n_layers: int) -> list[str]:
    return ["layer 0 (word, no context)"] + [f"layer {i}" for i in range(1, n_layers)]


def context_similarity(
    models: Sequence[DemoModel], name: str, word: str, sentence_a: str, sentence_b: str
) -> tuple[pd.DataFrame, str]:
    """Cosine of a word's vectors in two sentences at each layer (and in each scalar mix).

    Layer 0 does not see the context, so it is 1 for the same word; the higher layers show how much the
    meaning moved (a polysemous word in two senses scores lower there).
    """
    (dm,) = pick(models, [name] if name else [], "is_contextual")
    (word,) = parse_words(word, max_words=1, what="one word")
    a = _check_length(sentence_a, MAX_TEXT_CHARS, "the first sentence")
    b = _check_length(sentence_b, MAX_TEXT_CHARS, "the second sentence")
    (ta, tb), (ea, eb) = _embed(dm, [a, b])
    i, j = _position(dm, word, ta, "the first sentence"), _position(dm, word, tb, "the second sentence")
    rows = [(layer, _cosine(ea[k, i], eb[k, j])) for k, layer in enumerate(layer_names(len(ea)))]
    for m, (weights, gamma) in enumerate(_mixes(dm)):
        rows.append(
            (f"scalar mix {m}", _cosine(_mix(ea[:, i], weights, gamma), _mix(eb[:, j], weights, gamma)))
        )
    frame = pd.DataFrame({"layer": [r[0] for r in rows], "cosine": [round(r[1], 4) for r in rows]})
    return frame, ""


def context_neighbours(
    models: Sequence[DemoModel],
    name: str,
    word: str,
    sentence: str,
    candidates: str,
    layer: int | str = -1,
    topn: int = 10,
) -> tuple[pd.DataFrame, str]:
    """Tokens of the candidate sentences closest to `word` as used in `sentence`, at one layer."""
    (dm,) = pick(models, [name] if name else [], "is_contextual")
    (word,) = parse_words(word, max_words=1, what="one word")
    query = _check_length(sentence, MAX_TEXT_CHARS, "the sentence with the word")
    lines = _sentence_lines(candidates, "some sentences to search, one per line")
    topn = _bounded(topn, 1, MAX_TOPN, "The number of tokens")
    tokens, vectors = _embed(dm, [query, *lines])
    n_layers = len(vectors[0])
    layer = _bounded(n_layers - 1 if layer in (-1, "-1", None, "") else layer, 0, n_layers - 1, "The layer")
    i = _position(dm, word, tokens[0], "the sentence")
    q = vectors[0][layer, i]
    found = []
    for s, (toks, vecs) in enumerate(zip(tokens[1:], vectors[1:])):
        for t, token in enumerate(toks):
            marked = " ".join(f"[{w}]" if k == t else w for k, w in enumerate(toks))
            found.append((_cosine(q, vecs[layer, t]), token, marked, s + 1))
    found.sort(key=lambda r: -r[0])
    top = found[:topn]
    frame = pd.DataFrame(
        {
            "token": [r[1] for r in top],
            "cosine": [round(r[0], 4) for r in top],
            "sentence": [r[3] for r in top],
            "in context": [r[2] for r in top],
        }
    )
    return frame, ""


def scalar_mix_table(models: Sequence[DemoModel], name: str) -> pd.DataFrame:
    """ELMo's learned layer weights (softmax-normalised) and scale gamma, one row per scalar mix."""
    (dm,) = pick(models, [name] if name else [], "is_contextual")
    mixes = _mixes(dm)
    if not mixes:
        return pd.DataFrame({"mix": [], "gamma": []})
    names = layer_names(len(mixes[0][0]))
    table: dict[str, list] = {"mix": list(range(len(mixes)))}
    for k, layer in enumerate(names):
        table[layer] = [round(w[k], 4) for w, _ in mixes]
    table["gamma"] = [round(g, 4) for _, g in mixes]
    return pd.DataFrame(table)


# ------------------------------------------------------------------------------------------- scores
def score_table(models: Sequence[DemoModel]) -> pd.DataFrame:
    """Every model's evaluation results: eval_results.json when present, else the card's model-index."""
    from ..hub.card import evaluation_rows

    rows = []
    for dm in models:
        if dm.eval_results:
            for r in evaluation_rows(dm.eval_results):
                rows.append(
                    (
                        dm.name,
                        r["dataset_name"],
                        r["metric_name"],
                        r["value"],
                        r["details"],
                        "eval_results.json",
                    )
                )
        else:
            for r in dm.card_results:
                rows.append((dm.name, r["dataset"], r["metric"], r["value"], "", "README model-index"))
    frame = pd.DataFrame(rows, columns=["model", "dataset", "metric", "value", "details", "source"])
    frame["value"] = frame["value"].astype(float).round(4)
    return frame


def reload_scores(models: Sequence[DemoModel]) -> pd.DataFrame:
    """`score_table` after re-reading every model folder's results."""
    for dm in models:
        dm.reload_results()
    return score_table(models)


def metric_labels(table: pd.DataFrame) -> list[str]:
    """'dataset · metric' labels of the measured results, those most models have first."""
    labels = (table["dataset"] + " · " + table["metric"])[table["value"].notna()]
    counts = labels.value_counts(sort=False)
    return sorted(dict.fromkeys(labels), key=lambda label: -counts[label])


def score_chart(models: Sequence[DemoModel], label: str | None) -> pd.DataFrame:
    """(model, value) of one 'dataset · metric' across the models, for the bar chart."""
    table = score_table(models)
    labels = metric_labels(table)
    if not labels:
        return pd.DataFrame({"model": [], "value": []})
    if label not in labels:
        if label:
            raise DemoInputError(f"No result called {label!r} (available: {', '.join(labels)}).")
        label = labels[0]
    rows = table[(table["dataset"] + " · " + table["metric"]) == label]
    return rows[["model", "value"]].dropna().reset_index(drop=True)


# --------------------------------------------------------------------------------------- examples
def example_words(models: Sequence[DemoModel], n: int = 6) -> list[str]:
    """Frequent content words every static model knows, for the examples of each tab."""
    from ..hub.card import query_words

    static = [m for m in models if m.is_static]
    if not static:
        return []
    shared = [w for w in static[0].vocabulary if all(w in m._vocab_set for m in static[1:])]
    return query_words(shared, n)
