"""ELMo's tokenizer: words -> character ids exactly as the original `batch_to_ids`, plus word ids.

Character ids (bilm-tf / AllenNLP): a token is its UTF-8 bytes (invalid characters dropped) cut to
`max_characters_per_token - 2` bytes, laid out as [BOW, bytes..., EOW, pad, pad, ...], then every id + 1,
so 0 stays free for "no token" (batch padding). Raw ids: bytes 0..255, BOS 256, EOS 257, BOW 258, EOW 259,
pad 260. The sentence boundaries are added by the model; a literal `<S>` / `</S>` token gets their ids.

Word ids (the targets of the language model) come from the word vocabulary of `WordTokenizer`, whose
normaliser and pre-tokeniser also split text into words. A model converted from the original weights has
no vocabulary (the softmax is not in the released files) and splits on whitespace only, case kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from transformers import BatchEncoding

from ...text.tokenization import WordTokenizer

BOS_CHAR, EOS_CHAR, BOW_CHAR, EOW_CHAR, PAD_CHAR = 256, 257, 258, 259, 260
NUM_CHAR_IDS = 262  # 261 raw symbols + 1 (id 0 = no token)
MAX_CHARS = 50


def _boundary_row(char: int, max_chars: int) -> np.ndarray:
    row = np.full(max_chars, PAD_CHAR, dtype=np.int32)
    row[:3] = (BOW_CHAR, char, EOW_CHAR)
    return row + 1


def bos_char_ids(max_chars: int = MAX_CHARS) -> np.ndarray:
    """Character ids of the sentence-start token (what `<S>` becomes)."""
    return _boundary_row(BOS_CHAR, max_chars)


def eos_char_ids(max_chars: int = MAX_CHARS) -> np.ndarray:
    """Character ids of the sentence-end token (what `</S>` becomes)."""
    return _boundary_row(EOS_CHAR, max_chars)


def words_to_char_ids(words: Sequence[str], max_chars: int = MAX_CHARS) -> np.ndarray:
    """(len(words), max_chars) int32 character ids of each word, as the original encodes a token."""
    out = np.full((len(words), max_chars), PAD_CHAR + 1, dtype=np.int32)
    out[:, 0] = BOW_CHAR + 1
    keep = max_chars - 2
    for k, word in enumerate(words):
        if word == "<S>":
            out[k] = bos_char_ids(max_chars)
            continue
        if word == "</S>":
            out[k] = eos_char_ids(max_chars)
            continue
        data = word.encode("utf-8", "ignore")[:keep]
        n = len(data)
        out[k, 1 : n + 1] = np.frombuffer(data, dtype=np.uint8).astype(np.int32) + 1
        out[k, n + 1] = EOW_CHAR + 1
    return out


def drop_surrogates(text: str) -> str:
    """`text` without lone surrogates ("\\ud800"; Python strings can hold them, UTF-8 cannot): the original
    encodes every token with `encode("utf-8", "ignore")`, which drops them, and the word-level backend would
    refuse them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "ignore").decode("utf-8")
    return text


def split_sentences(
    tokenizer: WordTokenizer, sentences: Sequence[str] | Sequence[Sequence[str]]
) -> list[list[str]]:
    """Words of each sentence: a string is normalised and split by `tokenizer`, a list of words is kept.
    Lone surrogates are dropped first (`drop_surrogates`), as the original's UTF-8 encoding drops them: a
    word of surrogates only stays, as an empty word, where a string of them splits into no word."""
    if isinstance(sentences, str):
        raise TypeError(
            "give a list of sentences (a list of strings or a list of word lists), not one string"
        )
    out = []
    for s in sentences:
        if isinstance(s, str):
            out.append(tokenizer.pre_tokenize(drop_surrogates(s)))
        elif isinstance(s, Sequence) and all(isinstance(w, str) for w in s):
            out.append([drop_surrogates(w) for w in s])
        else:
            raise TypeError(f"a sentence must be a string or a list of strings, got {type(s).__name__}")
    return out


def encode_sentences(
    tokenizer: WordTokenizer,
    sentences: Sequence[str] | Sequence[Sequence[str]],
    *,
    max_chars: int = MAX_CHARS,
    return_tensors: str | None = "pt",
) -> BatchEncoding:
    """Batch of `char_ids` (B, T, max_chars), `attention_mask` (B, T) and word `input_ids` (B, T, padding =
    the pad id) for a list of sentences; short sentences are padded with all-zero character rows."""
    words = split_sentences(tokenizer, sentences)
    lengths = np.array([len(w) for w in words], dtype=np.int64)
    T = max(int(lengths.max()) if len(lengths) else 0, 1)
    flat = [w for ws in words for w in ws]
    rows = np.repeat(np.arange(len(words)), lengths)
    cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    chars = np.zeros((len(words), T, max_chars), dtype=np.int64)
    chars[rows, cols] = words_to_char_ids(flat, max_chars)
    word_ids = np.full((len(words), T), tokenizer.pad_token_id, dtype=np.int64)
    if flat:
        ids = tokenizer.convert_tokens_to_ids(flat)
        word_ids[rows, cols] = np.array([tokenizer.unk_token_id if i is None else i for i in ids])
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype(np.int64)
    data = {"char_ids": chars, "attention_mask": mask, "input_ids": word_ids}
    return BatchEncoding(data, tensor_type=return_tensors)


class ElmoCharacterTokenizer(WordTokenizer):
    """Word-level tokenizer (vocabulary + counts, for the LM targets) that also encodes ELMo character ids.

    `tokenizer(texts)` / `tokenizer.encode_sentences(texts)` give what `ElmoModel` reads (`char_ids`,
    `attention_mask`) plus the word ids (`input_ids`, the language model's targets).

    Example:
        >>> tok = ElmoCharacterTokenizer.from_vocabulary(["the", "cat"])
        >>> tok.encode_sentences(["the cat", "a"])["char_ids"].shape
        torch.Size([2, 2, 50])
    """

    model_input_names = ["char_ids", "attention_mask"]

    @classmethod
    def from_vocabulary(cls, words, counts=None, *, lowercase: bool = False, unicode_normalization=None,
                        split_punctuation: bool = False, **kwargs) -> ElmoCharacterTokenizer:  # fmt: skip
        """Like `WordTokenizer.from_vocabulary`, but by default as the original: whitespace split, case kept."""
        return super().from_vocabulary(
            words,
            counts,
            lowercase=lowercase,
            unicode_normalization=unicode_normalization,
            split_punctuation=split_punctuation,
            **kwargs,
        )

    @classmethod
    def from_word_tokenizer(cls, tokenizer: WordTokenizer) -> ElmoCharacterTokenizer:
        """The same vocabulary, splitting and counts, as an ELMo tokenizer."""
        if isinstance(tokenizer, cls):
            return tokenizer
        tok = cls(
            tokenizer_object=tokenizer.backend_tokenizer,
            unk_token=tokenizer.unk_token,
            pad_token=tokenizer.pad_token,
            bos_token=tokenizer.bos_token,
            eos_token=tokenizer.eos_token,
            model_max_length=tokenizer.model_max_length,
        )
        if tokenizer.word_counts is not None:
            tok.__dict__["word_counts"] = tokenizer.word_counts
        tok.__dict__["vocab_stats"] = dict(tokenizer.vocab_stats)
        return tok

    def __call__(self, text=None, *args, return_tensors: str | None = None, is_split_into_words: bool = False,
                 max_length: int | None = None, truncation: bool | str = False, **kwargs) -> BatchEncoding:  # fmt: skip
        """`char_ids`, `attention_mask` and word `input_ids` of a text, a list of texts or (with
        `is_split_into_words`) word lists, so that `model(**tokenizer(texts, return_tensors="pt"))` works.
        Batches are padded to their longest sentence; `truncation` with `max_length` cuts sentences."""
        if text is None or args:
            raise TypeError(
                "ElmoCharacterTokenizer takes the text (or a list of texts) as its only positional argument"
            )
        single = isinstance(text, str) or (is_split_into_words and text and isinstance(text[0], str))
        batch = [text] if single else list(text)
        words = split_sentences(self, batch)
        if truncation and max_length:
            words = [w[:max_length] for w in words]
        enc = encode_sentences(self, words, return_tensors=return_tensors)
        if return_tensors is None:
            lengths = [len(w) for w in words]
            data = {k: [row[:n] for row, n in zip(v.tolist(), lengths)] for k, v in enc.items()}
            enc = BatchEncoding({k: v[0] for k, v in data.items()} if single else data)
        return enc

    def pad(self, encoded_inputs, padding=True, max_length=None, pad_to_multiple_of=None,
            return_attention_mask=None, return_tensors=None, verbose=True, **kwargs) -> BatchEncoding:  # fmt: skip
        """Pad examples that hold `char_ids` (what `transformers.DataCollatorWithPadding` calls after
        `dataset.map(tokenizer)`): all-zero character rows, `attention_mask` 0, `input_ids` the pad id, token
        labels -100; scalar fields (a sequence label) are stacked. Other inputs go to the usual padding."""
        if isinstance(encoded_inputs, Mapping) and "char_ids" in encoded_inputs:
            keys = list(encoded_inputs)
            encoded_inputs = [dict(zip(keys, values)) for values in zip(*(encoded_inputs[k] for k in keys))]
        if not (
            isinstance(encoded_inputs, (list, tuple)) and encoded_inputs and "char_ids" in encoded_inputs[0]
        ):
            return super().pad(encoded_inputs, padding=padding, max_length=max_length,
                               pad_to_multiple_of=pad_to_multiple_of, return_attention_mask=return_attention_mask,
                               return_tensors=return_tensors, verbose=verbose, **kwargs)  # fmt: skip
        features = [{k: np.asarray(v) for k, v in f.items()} for f in encoded_inputs]
        lengths = [len(f["char_ids"]) for f in features]
        T = max(max(lengths), 1)
        if padding == "max_length" and max_length:
            T = max(T, max_length)
        if pad_to_multiple_of:
            T = -(-T // pad_to_multiple_of) * pad_to_multiple_of
        widths = {f["char_ids"].shape[-1] for f in features if f["char_ids"].ndim == 2 and len(f["char_ids"])}
        C = widths.pop() if len(widths) == 1 else MAX_CHARS
        data: dict[str, Any] = {
            "char_ids": np.zeros((len(features), T, C), dtype=np.int64),
            "attention_mask": np.zeros((len(features), T), dtype=np.int64),
        }
        for k, (f, n) in enumerate(zip(features, lengths)):
            if n:
                data["char_ids"][k, :n] = f["char_ids"].reshape(n, -1)[:, :C]
                data["attention_mask"][k, :n] = 1
        for key in features[0]:
            if key in data:
                continue
            values = [f[key] for f in features]
            if all(v.ndim == 0 for v in values):  # a sequence-level field: stacked
                data[key] = np.stack(values)
                continue
            fill = self.pad_token_id if key == "input_ids" else (-100 if "label" in key else 0)
            padded = np.full((len(features), T), fill, dtype=np.int64)
            for k, v in enumerate(values):
                padded[k, : len(v)] = v[:T]
            data[key] = padded
        return BatchEncoding(data, tensor_type=return_tensors)

    def char_ids(self, words: Sequence[str], max_chars: int = MAX_CHARS) -> np.ndarray:
        """(len(words), max_chars) character ids of `words` (see `words_to_char_ids`)."""
        return words_to_char_ids(words, max_chars)

    def encode_sentences(self, sentences, *, max_chars: int = MAX_CHARS, return_tensors: str | None = "pt"):
        """See `encode_sentences`: char_ids, attention_mask and word input_ids of a batch of sentences."""
        return encode_sentences(self, sentences, max_chars=max_chars, return_tensors=return_tensors)


def pad_char_batch(features: list[dict], pad_label: int = -100) -> dict[str, torch.Tensor]:
    """Collate examples holding `char_ids` (T_i, C) and optional `labels` (an int or a (T_i,) list) into a
    padded batch (zero character rows, `pad_label` labels) with its attention mask."""
    lengths = [len(f["char_ids"]) for f in features]
    T, C = max(max(lengths), 1), len(features[0]["char_ids"][0]) if lengths[0] else MAX_CHARS
    chars = torch.zeros(len(features), T, C, dtype=torch.long)
    mask = torch.zeros(len(features), T, dtype=torch.long)
    for k, f in enumerate(features):
        if lengths[k]:
            chars[k, : lengths[k]] = torch.as_tensor(np.asarray(f["char_ids"]), dtype=torch.long)
            mask[k, : lengths[k]] = 1
    batch = {"char_ids": chars, "attention_mask": mask}
    if "labels" in features[0]:
        first = features[0]["labels"]
        if np.ndim(first) == 0:
            batch["labels"] = torch.tensor([int(f["labels"]) for f in features])
        else:
            labels = torch.full((len(features), T), pad_label, dtype=torch.long)
            for k, f in enumerate(features):
                labels[k, : len(f["labels"])] = torch.as_tensor(f["labels"])
            batch["labels"] = labels
    return batch
