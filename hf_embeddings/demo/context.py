"""The "Context" tab: a contextual model's (ELMo's) word vectors per layer, across sentences.

Layer 0 sees no context; the higher layers show how much a word's meaning moves with its sentence.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .inputs import MAX_SENTENCES, MAX_TEXT_CHARS, MAX_TOPN, bounded, check_length, parse_words
from .models import DemoInputError, DemoModel, pick


def _sentence_lines(text: str | None, what: str, limit: int = MAX_SENTENCES) -> list[str]:
    lines = [
        line.strip() for line in check_length(text, MAX_TEXT_CHARS * 2, what).splitlines() if line.strip()
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
) -> tuple[pd.DataFrame, list[str]]:
    """Cosine of a word's vectors in two sentences at each layer (and in each scalar mix).

    Layer 0 does not see the context, so it is 1 for the same word; the higher layers show how much the
    meaning moved (a polysemous word in two senses scores lower there).
    """
    (dm,) = pick(models, [name] if name else [], "is_contextual")
    (word,) = parse_words(word, max_words=1, what="one word")
    a = check_length(sentence_a, MAX_TEXT_CHARS, "the first sentence")
    b = check_length(sentence_b, MAX_TEXT_CHARS, "the second sentence")
    (ta, tb), (ea, eb) = _embed(dm, [a, b])
    i, j = _position(dm, word, ta, "the first sentence"), _position(dm, word, tb, "the second sentence")
    rows = [(layer, _cosine(ea[k, i], eb[k, j])) for k, layer in enumerate(layer_names(len(ea)))]
    for m, (weights, gamma) in enumerate(_mixes(dm)):
        rows.append(
            (f"scalar mix {m}", _cosine(_mix(ea[:, i], weights, gamma), _mix(eb[:, j], weights, gamma)))
        )
    frame = pd.DataFrame({"layer": [r[0] for r in rows], "cosine": [round(r[1], 4) for r in rows]})
    return frame, []


def context_neighbours(
    models: Sequence[DemoModel],
    name: str,
    word: str,
    sentence: str,
    candidates: str,
    layer: int | str = -1,
    topn: int = 10,
) -> tuple[pd.DataFrame, list[str]]:
    """Tokens of the candidate sentences closest to `word` as used in `sentence`, at one layer."""
    (dm,) = pick(models, [name] if name else [], "is_contextual")
    (word,) = parse_words(word, max_words=1, what="one word")
    query = check_length(sentence, MAX_TEXT_CHARS, "the sentence with the word")
    lines = _sentence_lines(candidates, "some sentences to search, one per line")
    topn = bounded(topn, 1, MAX_TOPN, "The number of tokens")
    tokens, vectors = _embed(dm, [query, *lines])
    n_layers = len(vectors[0])
    layer = bounded(n_layers - 1 if layer in (-1, "-1", None, "") else layer, 0, n_layers - 1, "The layer")
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
    return frame, []


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
