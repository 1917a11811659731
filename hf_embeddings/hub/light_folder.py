"""Read the word table of a saved Word2Vec or GloVe folder with numpy alone, for the command line.

`hub.load.load` goes through transformers' Auto classes and torch, 4-5 s of imports before a one-line
answer; `hf-embeddings query` and `convert export` need only the words and the table. `read_light_folder`
reads them from the folder's own files -- `model.safetensors` memory-mapped (validated by `safetensors`'
`safe_open`, then mapped read-only, never copied), `tokenizer.json` and `tokenizer_config.json` as JSON
(the `tokenizers` library only to normalise a typed word) -- with the checks `load` applies: format
version, every tensor of the family present with its shape and none other, finite values, a tokenizer of
the family's class whose ids are `0..n-1` with the special tokens at 0-3 and one entry per table row.

It returns None for anything else -- another family, a Hub id, sharded or non-float32 weights, extra
special tokens, and every damaged folder -- and the caller then loads the folder the full way, which
answers, or refuses with the same error as before. A damaged `word_counts.json` sends the folder there
too (a damaged folder is an error on every path). Config fields other than the table's (a hand-edited
`window`, say) are not looked at: the answers do not depend on them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..vectors.light import LightKeyedVectors
from ..vectors.safe_storage import map_safetensors
from .folder import CONFIG

__all__ = ["LightFolder", "read_light_folder", "write_vector_file"]

WEIGHTS = "model.safetensors"
TOKENIZER = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
#: mirrors `text.tokenization.SPECIAL_TOKENS` and `models.configuration_base.FORMAT_VERSION(_KEY)`, which
#: import transformers (tests/test_cli.py checks that they agree)
SPECIAL_TOKENS = ("<unk>", "<pad>", "<s>", "</s>")
FORMAT_VERSION = 1
FORMAT_VERSION_KEY = "hf_embeddings_format_version"
TOKENIZER_CLASS = "WordTokenizer"
#: tokenizer_config.json entries that would add special tokens (which the word list then leaves out)
_MORE_SPECIALS = ("additional_special_tokens", "extra_special_tokens", "added_tokens_decoder", "mask_token",
                  "cls_token", "sep_token")  # fmt: skip


def _word2vec(config: dict, n: int, d: int) -> tuple[dict[str, tuple[int, ...]], list[str]] | None:
    hs, imported = config.get("hierarchical_softmax"), config.get("imported_vectors", False)
    if not isinstance(hs, bool) or not isinstance(imported, bool):
        return None
    # a folder of imported vectors has no output table (`Word2VecConfig.imported_vectors`)
    names = ["embeddings.weight"] + ([] if imported else ["output_embeddings.weight"])
    return {name: (n, d) for name in names + (["hs_embeddings.weight"] if hs else [])}, ["embeddings.weight"]


def _glove(config: dict, n: int, d: int) -> tuple[dict[str, tuple[int, ...]], list[str]] | None:
    combine = config.get("combine")
    if combine not in ("sum", "word"):
        return None
    tensors = {"embeddings.weight": (n, d), "context_embeddings.weight": (n, d)}
    tensors.update({"biases.weight": (n, 1), "context_biases.weight": (n, 1)})
    return tensors, ["embeddings.weight", "context_embeddings.weight"][: 2 if combine == "sum" else 1]


#: model_type -> (config, rows, dim) -> ({tensor: shape} the base model saves, tensors summed into the
#: word table), or None when the config lacks a field; mirrors the models (tests/test_cli.py checks it)
LAYOUTS = {"hfe_word2vec": _word2vec, "hfe_glove": _glove}


class _WordRows(Mapping):
    """word -> row of the word table, over the tokenizer's word -> id (the special ids 0-3 are no rows)."""

    def __init__(self, vocab: dict[str, int]):
        self._vocab = vocab
        self._first = len(SPECIAL_TOKENS)

    def __getitem__(self, word: str) -> int:
        idx = self._vocab[word]
        if idx < self._first:
            raise KeyError(word)
        return idx - self._first

    def __contains__(self, word: object) -> bool:
        return self._vocab.get(word, -1) >= self._first  # type: ignore[call-overload]

    def __iter__(self) -> Iterator[str]:
        return (w for w, i in self._vocab.items() if i >= self._first)

    def __len__(self) -> int:
        return len(self._vocab) - self._first


@dataclass
class LightFolder:
    """The words and word table of a saved folder (`read_light_folder`), special tokens left out."""

    path: Path
    model_type: str
    words: list[str]
    vectors: np.ndarray  # (len(words), dim) float32, read-only
    norms: np.ndarray  # L2 norm of each row of `vectors`
    key_to_index: Mapping[str, int]
    tokenizer_spec: dict = field(repr=False)  # tokenizer.json's normalizer and pre_tokenizer
    _backend: Any = field(default=None, repr=False)

    def keyed_vectors(self) -> LightKeyedVectors:
        """The query API over the table (`LightKeyedVectors`)."""
        return LightKeyedVectors(self.vectors, self.words, self.key_to_index, norms=self.norms)

    def _tokenizer(self) -> Any:
        """The folder's normaliser and pre-tokeniser as a `tokenizers.Tokenizer` (built on first use: a
        typed word that is not a key)."""
        if self._backend is None:
            from tokenizers import Tokenizer

            spec = {
                "version": "1.0",
                "added_tokens": [],
                "normalizer": self.tokenizer_spec.get("normalizer"),
                "pre_tokenizer": self.tokenizer_spec.get("pre_tokenizer"),
                "model": {
                    "type": "WordLevel",
                    "vocab": {SPECIAL_TOKENS[0]: 0},
                    "unk_token": SPECIAL_TOKENS[0],
                },
            }
            self._backend = Tokenizer.from_str(json.dumps(spec))
        return self._backend

    def normalize(self, text: str) -> str:
        """`text` as the tokenizer's normaliser leaves it."""
        normalizer = self._tokenizer().normalizer
        return normalizer.normalize_str(text) if normalizer is not None else text

    def pre_tokenize(self, text: str) -> list[str]:
        """The words of `text` after normalisation and splitting (`WordTokenizer.pre_tokenize`)."""
        text = self.normalize(text)
        pre = self._tokenizer().pre_tokenizer
        return text.split() if pre is None else [w for w, _ in pre.pre_tokenize_str(text)]


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _tensors(path: Path, expected: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray] | None:
    """The tensors of `path`, memory-mapped read-only, if they are exactly `expected` (name -> shape) in
    float32 (`map_safetensors`: validated by safetensors' `safe_open`, then mapped, never copied)."""
    tensors, _ = map_safetensors(path)
    if set(tensors) != set(expected):
        return None
    if any(t.dtype != np.float32 or t.shape != expected[name] for name, t in tensors.items()):
        return None
    return tensors


def _finite(t: np.ndarray) -> bool:
    """No NaN or infinity in `t`: one sum (NaN and inf survive it), an exact check only if it overflowed."""
    return bool(np.isfinite(np.add.reduce(t.reshape(-1)))) or bool(np.isfinite(t).all())


def read_light_folder(path: str | os.PathLike) -> LightFolder | None:
    """The words and table of the saved Word2Vec / GloVe folder `path`, or None when the folder needs
    the full loader (`hub.load.load`): another family or layout, a Hub id, or any damage."""
    folder = Path(path)
    try:
        return _read(folder)
    except Exception:  # noqa: BLE001 (damage of any kind: the full loader reports it with its own message)
        return None


def _counts_look_sound(path: Path) -> bool:
    """The shape `WordTokenizer` requires of `word_counts.json` (counts: word -> integer in [0, 2**63))."""
    try:
        data = _read_json(path)
    except Exception:  # noqa: BLE001 (any damage: the full loader names it)
        return False
    counts = data.get("counts") if isinstance(data, dict) else None
    return isinstance(counts, dict) and all(type(c) is int and 0 <= c < 2**63 for c in counts.values())


def _read(folder: Path) -> LightFolder | None:
    if not (folder / CONFIG).is_file() or not (folder / WEIGHTS).is_file():
        return None
    config = _read_json(folder / CONFIG)
    model_type = config.get("model_type")
    version = config.get(FORMAT_VERSION_KEY)
    n, d = config.get("vocab_size"), config.get("vector_size")
    if (
        model_type not in LAYOUTS
        or not (version is None or (_positive_int(version) and version <= FORMAT_VERSION))
        or not (_positive_int(n) and _positive_int(d))
        or config.get("dtype", "float32") != "float32"
    ):
        return None
    layout = LAYOUTS[model_type](config, n, d)
    if layout is None:
        return None
    expected, table_parts = layout
    if (folder / "word_counts.json").is_file() and not _counts_look_sound(folder / "word_counts.json"):
        return None

    tok_config = _read_json(folder / TOKENIZER_CONFIG)
    specials = tuple(tok_config.get(k) for k in ("unk_token", "pad_token", "bos_token", "eos_token"))
    if (
        tok_config.get("tokenizer_class") != TOKENIZER_CLASS
        or specials != SPECIAL_TOKENS
        or any(tok_config.get(k) for k in _MORE_SPECIALS)
    ):
        return None
    spec = _read_json(folder / TOKENIZER)
    model = spec["model"]
    vocab = model["vocab"]
    added = [(t["id"], t["content"], t.get("special")) for t in spec.get("added_tokens") or []]
    if (
        model.get("type") != "WordLevel"
        or len(vocab) != n
        or list(vocab.values()) != list(range(n))  # ids 0..n-1, in order, no gaps or duplicates
        or list(vocab)[: len(SPECIAL_TOKENS)] != list(SPECIAL_TOKENS)
        or sorted(added) != [(i, t, True) for i, t in enumerate(SPECIAL_TOKENS)]
    ):
        return None

    tensors = _tensors(folder / WEIGHTS, expected)
    if tensors is None or not all(_finite(t) for name, t in tensors.items() if name not in table_parts):
        return None
    table = tensors[table_parts[0]]
    for name in table_parts[1:]:
        if not _finite(table) or not _finite(tensors[name]):  # each part on its own, as `load` checks
            return None
        table = table + tensors[name]
    norms = np.sqrt(np.einsum("ij,ij->i", table, table))
    if not np.isfinite(norms).all():  # NaN or infinity in the table (or rows too large to square)
        return None
    first = len(SPECIAL_TOKENS)
    return LightFolder(
        path=folder,
        model_type=model_type,
        words=list(vocab)[first:],
        vectors=table[first:],
        norms=norms[first:],
        key_to_index=_WordRows(vocab),
        tokenizer_spec={"normalizer": spec.get("normalizer"), "pre_tokenizer": spec.get("pre_tokenizer")},
    )


def write_vector_file(file: str | os.PathLike, words: list[str], vectors: np.ndarray, fmt: str) -> None:
    """Write `words` and `vectors` as a "word2vec" / "word2vec-binary" / "glove" file (`convert export`)."""
    from ..vectors.formats import write_glove_format, write_word2vec_format

    if fmt == "glove":
        write_glove_format(file, words, vectors)
    else:
        write_word2vec_format(file, words, vectors, binary=(fmt == "word2vec-binary"))
