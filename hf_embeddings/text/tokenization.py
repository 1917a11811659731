"""Word-level tokenizer shared by the static-embedding models (Word2Vec, GloVe, NNLM).

The tokenizer is a real `tokenizers` pipeline (normaliser -> pre-tokeniser -> WordLevel model) wrapped in a
`transformers` `TokenizersBackend` subclass, so it saves, reloads and round-trips through `AutoTokenizer`.
It also carries the corpus **word counts** (`word_counts.json`), which Word2Vec needs for frequent-word
subsampling and the negative-sampling table and SIF pooling needs for word probabilities.

Vocabulary ids: the special tokens ``<unk> <pad> <s> </s>`` take ids 0-3, then words in descending
frequency; tied words come in reverse order of first appearance in the corpus (gensim's
`sort_by_descending_frequency`), so ``restrict_vocab=N`` selects the same words as gensim does
(`finalize_vocabulary`, shared by `WordTokenizer.train` and `load_corpus`).

Decoding: every token decodes with the space before it (``decode([the, cat]) == " the cat"``), as GPT-2's
words do, so a decoded continuation starts with the space that separates it from the text before it:
transformers' text-generation pipeline appends the decoded new tokens to the prompt as they are.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
from transformers import TokenizersBackend

from ..errors import CorpusError, HFEmbeddingsError
from ..files import atomic_file

UNK, PAD, BOS, EOS = "<unk>", "<pad>", "<s>", "</s>"
SPECIAL_TOKENS: tuple[str, ...] = (UNK, PAD, BOS, EOS)
WORD_COUNTS_FILE = "word_counts.json"
WORD_COUNTS_FORMAT_VERSION = 1
UNICODE_NORMALIZATIONS = ("NFKC", "NFC", "NFKD", "NFD", None)


_ASCII_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


@lru_cache(maxsize=256)
def _punct_re(extra: frozenset[str] = frozenset()) -> re.Pattern[str]:
    """Regex matching what `tokenizers`' Punctuation pre-tokenizer isolates, among ASCII + `extra` chars.

    Rust's `is_punctuation` is ASCII punctuation or a Unicode P* character. A class of all ~800 P*
    characters makes Python's `re` crawl (250 ns/char), so callers pass only the non-ASCII punctuation
    characters actually present in the text.
    """
    return re.compile("[" + re.escape(_ASCII_PUNCT + "".join(sorted(extra))) + "]")


_RUST_PUNCTUATION = pre_tokenizers.Punctuation(behavior="isolated")


@lru_cache(maxsize=1 << 16)
def _is_punct(c: str) -> bool:
    """Whether the Punctuation pre-tokenizer isolates `c`. Rust is asked, not `unicodedata`: their Unicode
    versions differ (e.g. U+2E49 or U+1B7D are punctuation to Python only)."""
    return len(_RUST_PUNCTUATION.pre_tokenize_str(f"a{c}a")) == 3


# Characters Python's str.split() treats as whitespace but Rust's char::is_whitespace does not. The fast
# path hides each behind its own Unicode noncharacter (neither whitespace nor punctuation) and restores it.
_PY_ONLY_WHITESPACE = re.compile("[\x1c-\x1f]")
_HIDE_PY_ONLY_WHITESPACE = str.maketrans({chr(0x1C + i): chr(0xFDD0 + i) for i in range(4)})
_SHOW_PY_ONLY_WHITESPACE = str.maketrans({chr(0xFDD0 + i): chr(0x1C + i) for i in range(4)})
_HIDDEN_MARKS = re.compile("[\ufdd0-\ufdd3]")
_SPECIAL_RE = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")


_ASCII_WHITESPACE = np.zeros(256, dtype=bool)
_ASCII_WHITESPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True  # what str.split() splits ASCII at


def _ascii_line_lengths(text: str) -> np.ndarray:
    """Number of whitespace-separated words on each "\\n"-separated line of ASCII `text`, vectorised."""
    b = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    ws = _ASCII_WHITESPACE[b]
    starts = np.flatnonzero(~ws[1:] & ws[:-1]) + 1
    if len(b) and not ws[0]:
        starts = np.concatenate([[0], starts])
    ends = np.searchsorted(starts, np.flatnonzero(b == 10))
    return np.diff(np.concatenate([[0], ends, [len(starts)]])).astype(np.int64)


def word_decoder() -> decoders.Decoder:
    """The decoder of a word-level backend: each token becomes " token" (see the module docstring)."""
    return decoders.Replace(Regex("^"), " ")


def ensure_word_decoder(backend: Tokenizer) -> Tokenizer:
    """Give `backend` the word decoder when it has none (a tokenizer.json written before it existed decodes
    a continuation without its space: "the king" + "of the" read "the kingof the"); a decoder already there
    is kept. Returns `backend`."""
    if backend.decoder is None:
        backend.decoder = word_decoder()
    return backend


def build_backend(
    vocab: dict[str, int],
    *,
    lowercase: bool = True,
    unicode_normalization: str | None = "NFKC",
    split_punctuation: bool = True,
) -> Tokenizer:
    """Return a `tokenizers.Tokenizer` (WordLevel) with the configured normaliser and pre-tokeniser."""
    if unicode_normalization not in UNICODE_NORMALIZATIONS:
        raise HFEmbeddingsError(
            f"unicode_normalization must be one of {UNICODE_NORMALIZATIONS}, got {unicode_normalization!r}"
        )
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    steps = []
    if unicode_normalization:
        steps.append(getattr(normalizers, unicode_normalization)())
    if lowercase:
        steps.append(normalizers.Lowercase())
    if steps:
        backend.normalizer = normalizers.Sequence(steps)
    splits = [pre_tokenizers.WhitespaceSplit()]
    if split_punctuation:
        splits.append(pre_tokenizers.Punctuation(behavior="isolated"))
    backend.pre_tokenizer = pre_tokenizers.Sequence(splits)
    backend.decoder = word_decoder()
    return backend


def splitting_options(backend: Tokenizer) -> dict | None:
    """The `build_backend` options (lowercase, unicode_normalization, split_punctuation) that make a
    pipeline like `backend`'s, or None when it was built otherwise (so `load_corpus` can count a new
    corpus's words exactly as this tokenizer splits them)."""
    norm, pre = pipeline_steps(backend)
    names = [step["type"] for step in norm]
    unicode = names[0] if names and names[0] in UNICODE_NORMALIZATIONS else None
    rest = names[1:] if unicode else names
    if rest not in ([], ["Lowercase"]) or [step["type"] for step in pre][:1] != ["WhitespaceSplit"]:
        return None
    extra = pre[1:]
    punct = len(extra) == 1 and extra[0]["type"] == "Punctuation" and extra[0].get("behavior") == "Isolated"
    if extra and not punct:
        return None
    return {"lowercase": rest == ["Lowercase"], "unicode_normalization": unicode, "split_punctuation": punct}


def pipeline_steps(backend: Tokenizer) -> tuple[list[dict], list[dict]]:
    """Return the normaliser steps and the pre-tokeniser steps of `backend`, in order, as the JSON specs of
    `backend.to_str()` (each `Sequence` flattened; an absent normaliser or pre-tokeniser gives [])."""
    spec = json.loads(backend.to_str())

    def flat(node: dict | None, key: str) -> list[dict]:
        if not node:
            return []
        if node.get("type") == "Sequence":
            return [x for child in node.get(key, []) for x in flat(child, key)]
        return [node]

    return flat(spec.get("normalizer"), "normalizers"), flat(spec.get("pre_tokenizer"), "pretokenizers")


def fast_splitter(backend: Tokenizer) -> Callable[[list[str]], list[list[str]]] | None:
    """Return a function splitting many lines into words exactly as `backend` would, or None.

    Corpus building is dominated by pre-tokenisation; `tokenizers` spends ~1 us per token building
    `Encoding` objects we do not need. For the pipelines this module builds (Unicode normalisation,
    lowercasing, whitespace and punctuation splitting) the words can be produced with one Rust
    normaliser call per chunk and C-level `str.split`, 3-5x faster. Unknown pipelines return None and
    callers use the Rust encoder.
    """
    norm_steps, pre_steps = pipeline_steps(backend)
    for step in norm_steps:
        if step["type"] not in ("NFKC", "NFC", "NFKD", "NFD", "Lowercase"):
            return None
    if not pre_steps or pre_steps[0]["type"] != "WhitespaceSplit":
        return None
    punct = False
    for step in pre_steps[1:]:
        if step["type"] == "Punctuation" and step.get("behavior") == "Isolated":
            punct = True
        else:
            return None
    normalizer, pre_tokenizer = backend.normalizer, backend.pre_tokenizer
    lowercase = any(step["type"] == "Lowercase" for step in norm_steps)

    def _normalized(lines: list[str]) -> list[str]:
        return [normalizer.normalize_str(line) for line in lines] if normalizer is not None else list(lines)

    def with_specials(line: str) -> list[str]:
        # special tokens are cut out of the raw text before normalisation, as transformers' added
        # tokens are, so "<unk>" in a PTB-style corpus is the <unk> token in training and at inference
        out: list[str] = []
        for k, part in enumerate(_SPECIAL_RE.split(line)):
            if k % 2:
                out.append(part)
            elif part:
                out.extend(split_lines([part])[0])
        return out

    def prepare(lines: list[str]) -> tuple[str, bool] | list[list[str]]:
        """Normalised, punctuation-spaced text of `lines` (and whether marks hide characters), or the
        finished per-line words when a special case needs line-by-line handling."""
        text = "\n".join(lines)
        if "<" in text and _SPECIAL_RE.search(text):
            return [with_specials(line) for line in lines]
        ascii_only = text.isascii()
        if ascii_only:  # every Unicode normal form is the identity on ASCII; lowercasing is ASCII's
            text = text.lower() if lowercase else text
        elif normalizer is not None:
            text = normalizer.normalize_str(text)
            ascii_only = text.isascii()
        hidden = False
        if _PY_ONLY_WHITESPACE.search(text):  # keep them inside words, as Rust does
            if _HIDDEN_MARKS.search(text):  # the marks are taken: let Rust split these lines
                return [[w for w, _ in pre_tokenizer.pre_tokenize_str(line)] for line in _normalized(lines)]
            text = text.translate(_HIDE_PY_ONLY_WHITESPACE)
            hidden = True
        if punct:
            extra = (
                frozenset()
                if ascii_only
                else frozenset(c for c in set(text) if not c.isascii() and _is_punct(c))
            )
            text = _punct_re(extra).sub(r" \g<0> ", text)
        return text, hidden

    def split_lines(lines: list[str]) -> list[list[str]]:
        prepared = prepare(lines)
        if isinstance(prepared, list):
            return prepared
        text, hidden = prepared
        out = [line.split() for line in text.split("\n")]
        if hidden:
            out = [[w.translate(_SHOW_PY_ONLY_WHITESPACE) for w in ws] for ws in out]
        if len(out) != len(lines):  # the normaliser produced or removed a newline: be exact instead
            if len(lines) == 1:  # a newline inside the line is whitespace to Rust as well
                return [[w for ws in out for w in ws]]
            return [split_lines([line])[0] for line in lines]
        return out

    def split_flat(lines: list[str]) -> tuple[list[str], np.ndarray]:
        """All words of `lines` in one list plus the number of words per line (what corpus building
        needs); ASCII text is split in one C call with line lengths from numpy, not line by line."""
        prepared = prepare(lines)
        if not isinstance(prepared, list):
            text, hidden = prepared
            if not hidden and text.isascii():
                lengths = _ascii_line_lengths(text)
                if len(lengths) == len(lines):
                    return text.split(), lengths
            prepared = split_lines(lines)
        lengths = np.fromiter(map(len, prepared), dtype=np.int64, count=len(prepared))
        return [w for ws in prepared for w in ws], lengths

    split_lines.flat = split_flat  # type: ignore[attr-defined]
    return split_lines


# --------------------------------------------------------------------------------------------------------
# vocabulary (shared with corpus.load_corpus)
# --------------------------------------------------------------------------------------------------------
_TRAIN_BATCH = 10_000  # texts split at a time by WordTokenizer.train


def split_at_newlines(text: str) -> list[str]:
    """Split at "\n" only, as `wc -l`, word2vec.c and gensim's LineSentence do (str.splitlines() would also
    break at \x0b \x0c \x1c-\x1e \x85 \u2028 \u2029, which are whitespace inside a sentence)."""
    lines = text.split("\n")
    if len(lines) > 1 and not lines[-1]:
        lines.pop()
    return lines


def check_vocabulary_args(
    min_count: int, max_vocab_size: int | None, max_final_vocab: int | None = None
) -> None:
    """Raise CorpusError unless `min_count` >= 1 and each size limit is None or a positive integer."""
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise CorpusError(f"min_count must be an integer >= 1, got {min_count!r}")
    for name, value in (("max_vocab_size", max_vocab_size), ("max_final_vocab", max_final_vocab)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise CorpusError(f"{name} must be a positive integer or None, got {value!r}")


def read_word_list(path: str | os.PathLike) -> list[tuple[str, str]]:
    """(word, "FILE:LINE") for each word of a word-list file: UTF-8, one word per line, blank lines skipped.

    A line holding two words, bytes that are not UTF-8, or a file that cannot be read raise `CorpusError`
    naming the file (and line).
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise CorpusError(f"word list {path}: {e.strerror or e}") from None
    found = []
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as e:
            raise CorpusError(f"{path}:{number}: not UTF-8 text (byte {e.start + 1} of the line)") from None
        fields = text.split()
        if len(fields) > 1:
            raise CorpusError(
                f"{path}:{number}: one word per line expected, found {len(fields)} ({text.strip()[:60]!r})"
            )
        if fields:
            found.append((fields[0], f"{path}:{number}"))
    return found


def keep_words_as_split(
    keep_words: Iterable[str] | str | os.PathLike | None, options: dict
) -> frozenset[str]:
    """The words of `keep_words` (words, or the path of a `read_word_list` file) as the tokenizer that
    `build_backend(**options)` makes writes them, so that "Paris" keeps "paris" in a lowercased vocabulary.

    A word that the tokenizer splits into several tokens, or into none, raises `CorpusError`: it could
    never be one vocabulary entry.
    """
    if keep_words is None:
        return frozenset()
    if isinstance(keep_words, (str, os.PathLike)):
        labelled = read_word_list(keep_words)
    else:
        labelled = []
        for i, word in enumerate(keep_words):
            if not isinstance(word, str):
                raise CorpusError(f"keep_words[{i}] is a {type(word).__name__}, expected str")
            labelled.append((word, f"keep_words[{i}]"))
    backend = build_backend({UNK: 0}, **options)
    kept = set()
    for word, where in labelled:
        normalized = backend.normalizer.normalize_str(word) if backend.normalizer is not None else word
        tokens = [token for token, _ in backend.pre_tokenizer.pre_tokenize_str(normalized)]
        if len(tokens) != 1:
            raise CorpusError(
                f"{where}: {word!r} is {len(tokens)} tokens for this tokenizer ({tokens[:4]}), not one word: "
                "it could never be a vocabulary entry"
            )
        kept.add(tokens[0])
    return frozenset(kept)


@dataclass(frozen=True)
class VocabularyRule:
    """Which counted words become the vocabulary, decided as gensim's `build_vocab` decides it.

    `min_count` drops rarer words; `max_final_vocab` raises min_count until at most that many words remain
    (gensim's `effective_min_count`: ties at the limit all go, so the vocabulary can be smaller); the
    `keep_words` (as the tokenizer writes them) stay whatever their count (a `trim_rule` returning
    RULE_KEEP); `max_vocab_size` then cuts the sorted list to its most frequent words.
    """

    min_count: int = 5
    max_vocab_size: int | None = None
    max_final_vocab: int | None = None
    keep_words: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        check_vocabulary_args(self.min_count, self.max_vocab_size, self.max_final_vocab)

    @classmethod
    def build(
        cls,
        options: dict,
        *,
        min_count: int = 5,
        max_vocab_size: int | None = None,
        max_final_vocab: int | None = None,
        keep_words: Iterable[str] | str | os.PathLike | None = None,
    ) -> VocabularyRule:
        """The rule with `keep_words` (words or a word-list file) normalised by `options`' tokenizer."""
        check_vocabulary_args(min_count, max_vocab_size, max_final_vocab)
        return cls(min_count, max_vocab_size, max_final_vocab, keep_words_as_split(keep_words, options))

    def record(self) -> dict:
        """The rule as the vocabulary's stats and the corpus cache key hold it (the keep words by number
        and digest); options left at their defaults are absent, so older caches keep their keys."""
        out: dict = {"min_count": self.min_count, "max_vocab_size": self.max_vocab_size}
        if self.max_final_vocab is not None:
            out["max_final_vocab"] = self.max_final_vocab
        if self.keep_words:
            out["keep_words"] = keep_words_record(self.keep_words)
        return out


def keep_words_record(words: Iterable[str]) -> dict:
    """{"count", "sha256"} of a set of keep words: what the stats and the cache key remember of it."""
    ordered = sorted(set(words))
    digest = hashlib.sha256("\n".join(ordered).encode("utf-8")).hexdigest()
    return {"count": len(ordered), "sha256": digest}


def effective_min_count(counts: np.ndarray, min_count: int, max_final_vocab: int | None) -> int:
    """gensim's `max_final_vocab`: min_count raised until at most `max_final_vocab` words remain (the count
    of the word just past the limit, plus one), never lowered below `min_count`."""
    if max_final_vocab is None or max_final_vocab >= len(counts):
        return min_count
    past = np.partition(np.asarray(counts), len(counts) - 1 - max_final_vocab)[
        len(counts) - 1 - max_final_vocab
    ]
    return max(min_count, int(past) + 1)


def finalize_vocabulary(
    words: list[str], counts: np.ndarray, rule: VocabularyRule, source: str
) -> tuple[list[str], np.ndarray, np.ndarray, dict]:
    """Return (kept words sorted as gensim sorts them, their counts, provisional-id -> final-id map, stats).

    `words` are the distinct words in first-appearance order (provisional id = position) and `counts`
    theirs; the map sends dropped words to `<unk>` (0) and words spelled like a special token to it.
    `stats` is `rule.record()`, plus `effective_min_count` when `max_final_vocab` raised it.
    """
    prov = np.arange(len(words))
    # a corpus word spelled like a special token (PTB's "<unk>", "</s>") is that token, not a new word
    special = {prov_id: SPECIAL_TOKENS.index(w) for prov_id, w in _find_words(words, SPECIAL_TOKENS)}
    is_word = np.ones(len(words), dtype=bool)
    is_word[list(special)] = False
    min_count = effective_min_count(counts[is_word], rule.min_count, rule.max_final_vocab)
    wanted = counts >= min_count
    if rule.keep_words:
        import pandas as pd

        wanted |= pd.Index(words, dtype=object).isin(rule.keep_words) & (counts > 0)
    keep = prov[wanted & is_word]
    if len(keep) == 0:
        if len(words) == 0:
            raise CorpusError(f"corpus {source} is empty: no words found")
        top = int(np.argmax(counts))
        raise CorpusError(
            f"no word of corpus {source} occurs at least min_count={min_count} times "
            f"({len(words)} distinct words; the most frequent, {words[top]!r}, occurs {counts[top]} times)"
        )
    # gensim: descending count, ties by descending first-appearance index (np.lexsort((-idx, -count)))
    order = keep[np.lexsort((-keep, -counts[keep]))]
    if rule.max_vocab_size is not None:
        order = order[: rule.max_vocab_size]
    remap = np.zeros(len(words), dtype=np.int32)  # dropped words -> <unk> (0)
    remap[order] = np.arange(len(order), dtype=np.int32) + len(SPECIAL_TOKENS)
    for prov_id, special_id in special.items():
        remap[prov_id] = special_id
    stats = rule.record()
    if rule.max_final_vocab is not None:
        stats["effective_min_count"] = min_count
    return [words[i] for i in order], counts[order], remap, stats


def _find_words(words: list[str], wanted: Sequence[str]) -> list[tuple[int, str]]:
    """(index, word) of each of `wanted` present in the distinct-word list `words`."""
    found = []
    for w in wanted:
        try:
            found.append((words.index(w), w))
        except ValueError:
            pass
    return found


class WordTokenizer(TokenizersBackend):
    """Word-level tokenizer with word counts; build one with `WordTokenizer.train(texts)` or `load_corpus`.

    Example:
        >>> tok = WordTokenizer.train(["The cat sat.", "The dog sat."], min_count=1)
        >>> tok.convert_ids_to_tokens(tok("the cat")["input_ids"])
        ['the', 'cat']
        >>> int(tok.word_counts[tok.convert_tokens_to_ids("sat")])
        2
    """

    vocab_files_names = {"tokenizer_file": "tokenizer.json", "word_counts_file": WORD_COUNTS_FILE}
    model_input_names = ["input_ids", "attention_mask"]
    num_special_tokens = len(SPECIAL_TOKENS)

    # --- construction -------------------------------------------------------------------------------
    @classmethod
    def from_vocabulary(
        cls,
        words: Sequence[str],
        counts: Sequence[int] | np.ndarray | None = None,
        *,
        unk_count: int = 0,
        lowercase: bool = True,
        unicode_normalization: str | None = "NFKC",
        split_punctuation: bool = True,
        model_max_length: int = 1_000_000,
        stats: dict | None = None,
    ) -> WordTokenizer:
        """Return a tokenizer over `words` (ids 4.. in the given order) with optional counts."""
        vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
        for w in words:
            if w in vocab:
                raise HFEmbeddingsError(f"duplicate word {w!r} in vocabulary")
            vocab[w] = len(vocab)
        backend = build_backend(
            vocab,
            lowercase=lowercase,
            unicode_normalization=unicode_normalization,
            split_punctuation=split_punctuation,
        )
        tok = cls(
            tokenizer_object=backend,
            unk_token=UNK,
            pad_token=PAD,
            bos_token=BOS,
            eos_token=EOS,
            model_max_length=model_max_length,
        )
        if counts is not None:
            counts = np.asarray(counts, dtype=np.int64)
            if counts.shape != (len(words),):
                raise HFEmbeddingsError(f"expected {len(words)} counts, found {counts.shape[0]}")
            full = np.zeros(len(vocab), dtype=np.int64)
            full[cls.num_special_tokens :] = counts
            full[0] = unk_count
            tok.__dict__["word_counts"] = full
        tok.__dict__["vocab_stats"] = dict(stats or {})
        return tok

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        *,
        min_count: int = 5,
        max_vocab_size: int | None = None,
        max_final_vocab: int | None = None,
        keep_words: Iterable[str] | str | os.PathLike | None = None,
        lowercase: bool = True,
        unicode_normalization: str | None = "NFKC",
        split_punctuation: bool = True,
        show_progress: bool = False,
    ) -> WordTokenizer:
        """Return a tokenizer whose vocabulary is every word of `texts` seen >= `min_count` times.

        `max_final_vocab`, `keep_words` and `max_vocab_size` shape it as `VocabularyRule` says (gensim's
        `max_final_vocab` and `trim_rule`; a plain cut to the most frequent words). Texts are split into
        lines at "\\n"; the vocabulary, counts and `vocab_stats` are those of `load_corpus(texts, ...)`,
        which splits and sorts the same way but also encodes the text.
        """
        texts = list(texts) if not isinstance(texts, list) else texts
        options = dict(
            lowercase=lowercase,
            unicode_normalization=unicode_normalization,
            split_punctuation=split_punctuation,
        )
        rule = VocabularyRule.build(
            options, min_count=min_count, max_vocab_size=max_vocab_size, max_final_vocab=max_final_vocab,
            keep_words=keep_words,
        )  # fmt: skip
        backend = build_backend({UNK: 0}, **options)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise CorpusError(f"corpus item {i} is a {type(t).__name__}, expected str")
        splitter = fast_splitter(backend)
        progress = None
        if show_progress:
            from tqdm.auto import tqdm

            progress = tqdm(total=len(texts), unit="it", desc="tokenizing", leave=False)
        counter: Counter[str] = Counter()  # insertion order = first appearance, as finalize_vocabulary needs
        num_sentences = 0
        try:
            for start in range(0, len(texts), _TRAIN_BATCH):
                batch = texts[start : start + _TRAIN_BATCH]
                lines = [line for t in batch for line in split_at_newlines(t)]
                num_sentences += len(lines)
                if splitter is not None:
                    counter.update(splitter.flat(lines)[0])
                else:
                    encodings = backend.encode_batch(lines, add_special_tokens=False)
                    counter.update(itertools.chain.from_iterable(enc.tokens for enc in encodings))
                if progress is not None:
                    progress.update(len(batch))
        finally:
            if progress is not None:
                progress.close()
        source = f"<{len(texts)} strings>"
        words = list(counter)
        counts = np.fromiter(counter.values(), dtype=np.int64, count=len(words))
        kept, kept_counts, remap, rule_stats = finalize_vocabulary(words, counts, rule, source)
        stats = {
            "total_words": int(counts.sum()),
            "num_sentences": num_sentences,
            "source": source,
            **rule_stats,
            "distinct_words": len(words),
            **options,
        }
        return WordTokenizer.from_vocabulary(
            kept, kept_counts, unk_count=int(counts[remap == 0].sum()), stats=stats, **options
        )

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        """`PreTrainedTokenizerBase.from_pretrained`, with the word decoder added to a tokenizer.json saved
        without one (see `ensure_word_decoder`)."""
        tok = super().from_pretrained(*args, **kwargs)
        ensure_word_decoder(tok.backend_tokenizer)
        return tok

    def extended(
        self,
        counts: dict[str, int],
        *,
        min_count: int = 1,
        keep_words: frozenset[str] = frozenset(),
        stats: dict | None = None,
    ) -> WordTokenizer:
        """This vocabulary grown by a new corpus's `counts` (word -> count, words as this tokenizer splits
        them), as gensim's `build_vocab(update=True)`: every id keeps its word, the counts of known words
        grow by their new counts, and new words seen >= `min_count` times (or in `keep_words`, written as
        this tokenizer writes them) get the next ids (most frequent first). Normalisation and splitting
        are this tokenizer's."""
        old = self.word_counts if self.word_counts is not None else np.zeros(len(self), dtype=np.int64)
        vocab = self.get_vocab()
        grown = old.copy()
        new = []
        for word, count in counts.items():
            if word in vocab:
                grown[vocab[word]] += count
            elif count >= min_count or (count > 0 and word in keep_words):
                new.append((-int(count), word))
        new.sort()
        data = json.loads(self.backend_tokenizer.to_str())
        table = data["model"]["vocab"]
        for _, word in new:
            table[word] = len(table)
        tok = type(self)(
            tokenizer_object=Tokenizer.from_str(json.dumps(data)),
            unk_token=UNK, pad_token=PAD, bos_token=BOS, eos_token=EOS, model_max_length=self.model_max_length,
        )  # fmt: skip
        tok.__dict__["word_counts"] = np.concatenate([grown, [-c for c, _ in new]]).astype(np.int64)
        tok.__dict__["vocab_stats"] = {**self.vocab_stats, **(stats or {})}
        return tok

    # --- counts ---------------------------------------------------------------------------------------
    @cached_property
    def word_counts(self) -> np.ndarray | None:
        """Corpus count of every id (int64, aligned with ids; `<unk>` holds the OOV total), or None."""
        path = self.init_kwargs.get("word_counts_file")
        if not path or not os.path.isfile(path):
            return None
        data = _read_word_counts(path)
        counts = np.zeros(len(self), dtype=np.int64)
        vocab = self.get_vocab()
        for word, c in data["counts"].items():
            if word in vocab:
                counts[vocab[word]] = c
        self.__dict__["vocab_stats"] = data.get("stats", {})
        return counts

    @cached_property
    def vocab_stats(self) -> dict:
        """Corpus statistics saved with the vocabulary (total_words, num_sentences, min_count ...)."""
        _ = self.word_counts  # loading the counts file fills this
        return self.__dict__.get("vocab_stats", {})

    def _save_pretrained(self, save_directory, file_names, legacy_format=None, filename_prefix=None):
        file_names = super()._save_pretrained(save_directory, file_names, legacy_format, filename_prefix)
        if self.word_counts is None:
            return file_names
        path = os.path.join(
            save_directory, (filename_prefix + "-" if filename_prefix else "") + WORD_COUNTS_FILE
        )
        words = self.convert_ids_to_tokens(list(range(len(self))))
        payload = {
            "format_version": WORD_COUNTS_FORMAT_VERSION,
            "stats": self.vocab_stats,
            "counts": {w: int(c) for w, c in zip(words, self.word_counts)},
        }
        with atomic_file(path) as f:
            json.dump(payload, f, ensure_ascii=False)
        return file_names + (path,)

    # --- helpers --------------------------------------------------------------------------------------
    def pre_tokenize(self, text: str) -> list[str]:
        """Return the words of `text` after normalisation and splitting (before vocabulary lookup)."""
        backend = self.backend_tokenizer
        if backend.normalizer is not None:
            text = backend.normalizer.normalize_str(text)
        if backend.pre_tokenizer is None:
            return text.split()
        return [w for w, _ in backend.pre_tokenizer.pre_tokenize_str(text)]

    @property
    def words(self) -> list[str]:
        """The real words (no special tokens) in id order."""
        return self.convert_ids_to_tokens(list(range(self.num_special_tokens, len(self))))


def _read_word_counts(path: str) -> dict:
    """The parsed `word_counts.json`; any damage (not JSON, wrong types, counts that are not integers in
    [0, 2**63)) is an `HFEmbeddingsError` naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise HFEmbeddingsError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise HFEmbeddingsError(f"{path}: expected a JSON object, found {type(data).__name__}")
    counts = data.get("counts")
    if not isinstance(counts, dict):
        raise HFEmbeddingsError(
            f"{path}: 'counts' must be an object of word -> count, found {type(counts).__name__}"
        )
    for word, c in counts.items():
        if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < 2**63:
            raise HFEmbeddingsError(
                f"{path}: the count of {word!r} is {c!r}, expected an integer in [0, 2**63)"
            )
    if not isinstance(data.get("stats", {}), dict):
        raise HFEmbeddingsError(f"{path}: 'stats' must be an object")
    version = data.get("format_version")
    if version != WORD_COUNTS_FORMAT_VERSION:
        raise HFEmbeddingsError(
            f"{path}: word counts format version {version!r} is not supported by this hf_embeddings "
            f"(expected {WORD_COUNTS_FORMAT_VERSION}); upgrade hf-embeddings"
        )
    return data
