"""Sentence batches for biLM training, built with index arithmetic on the cached token-id array.

Every corpus line is one sequence (the model adds the sentence boundaries, so no state or context crosses
lines); training lines longer than `max_length` words are cut into pieces. The character ids of a word
come from a table over the tokenizer's vocabulary (one row per word id, computed once), so a batch is a
gather: no Python loop over tokens. Batches group sentences of similar length (sorted within shuffled
pools of 50 batches) so that little time goes into padding; one item = one batch, as for NNLM.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import Dataset

from ...text.corpus import TokenizedCorpus
from .modeling_elmo import IGNORE_INDEX
from .tokenization_elmo import bos_char_ids, eos_char_ids, words_to_char_ids

POOL_BATCHES = 50


def vocabulary_char_table(tokenizer, max_chars: int = 50) -> np.ndarray:
    """(len(tokenizer) + 1, max_chars) int16 character ids of every word id; the last row (all zero) is
    the padding token. `<s>` / `</s>` get the sentence-boundary characters."""
    words = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    table = np.zeros((len(words) + 1, max_chars), dtype=np.int16)
    table[:-1] = words_to_char_ids(words, max_chars)
    if tokenizer.bos_token_id is not None:
        table[tokenizer.bos_token_id] = bos_char_ids(max_chars)
    if tokenizer.eos_token_id is not None:
        table[tokenizer.eos_token_id] = eos_char_ids(max_chars)
    return table


def sentence_spans(corpus: TokenizedCorpus, max_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(starts, lengths) int64 of the non-empty lines, each cut into pieces of at most `max_length` words."""
    offsets = np.asarray(corpus.offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    keep = lengths > 0
    starts, lengths = offsets[:-1][keep], lengths[keep]
    if max_length is None or len(lengths) == 0 or lengths.max() <= max_length:
        return starts, lengths
    pieces = -(-lengths // max_length)
    sent = np.repeat(np.arange(len(lengths)), pieces)
    k = np.arange(len(sent)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    return starts[sent] + k * max_length, np.minimum(max_length, lengths[sent] - k * max_length)


class SentenceBatches(Dataset):
    """Map-style dataset whose item k is the k-th batch of sentences of the epoch.

    Item: `char_ids` (b, T, max_chars), `attention_mask` (b, T), `labels` (b, T) word ids (-100 at padding;
    from `targets`, an array aligned with `corpus.ids`, when the softmax vocabulary differs from the input's),
    `num_words`; unshuffled (evaluation) batches also carry `num_items_in_batch` = targets / batches, which
    makes Trainer's unweighted mean of the batch losses the exact per-target mean; they are sorted by length
    and hold at most `max_tokens` padded tokens (when given; a longer line is cut into pieces of `max_tokens`
    words, each scored with its own boundaries). Use with batch size 1 and `unwrap_batch`.
    """

    def __init__(
        self,
        corpus: TokenizedCorpus,
        *,
        batch_size: int = 64,
        max_length: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        max_chars: int = 50,
        device: str | torch.device = "cpu",
        char_table: np.ndarray | None = None,
        targets: np.ndarray | None = None,
        max_tokens: int | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if max_tokens and (max_length is None or max_length > max_tokens):
            max_length = max_tokens  # a longer line (text8 is one) is scored in pieces that fit a batch
        self.starts, self.lengths = sentence_spans(corpus, max_length)
        if len(self.lengths) == 0:
            raise ValueError("the corpus has no sentence to train on (every line is empty)")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.epoch = 0
        self.device = torch.device(device)
        self.num_words = int(self.lengths.sum())
        self.num_targets = self.num_words + len(self.lengths)  # per direction: words + one boundary each
        self._ids = np.asarray(corpus.ids)
        self._targets = None
        if targets is not None:
            self._targets = np.asarray(targets)
            if self._targets.shape != self._ids.shape:
                raise ValueError(
                    f"targets must align with the corpus ids: shape {self._targets.shape} vs {self._ids.shape}"
                )
        table = char_table if char_table is not None else vocabulary_char_table(corpus.tokenizer, max_chars)
        self._pad_row = len(table) - 1
        self._table = torch.as_tensor(table)
        self._on_device = False
        self._plan: tuple[int, np.ndarray] | None = None
        self._bounds = None  # unshuffled: batch boundaries in the length-sorted order
        if not self.shuffle:
            self._bounds = self._eval_bounds(max_tokens)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _eval_bounds(self, max_tokens: int | None) -> np.ndarray:
        """Batch boundaries over the length-sorted sentences: at most batch_size sentences and (when
        given) at most max_tokens padded token slots per batch, so that long lines come in small batches."""
        lengths = np.sort(self.lengths)
        n, bs = len(lengths), self.batch_size
        if not max_tokens:
            return np.append(np.arange(0, n, bs), n)
        bounds, i = [0], 0
        while i < n:
            window = lengths[i : i + bs]  # ascending: a batch of k costs k * window[k - 1]
            fits = np.flatnonzero((np.arange(1, len(window) + 1) * window) <= max_tokens)
            i += int(fits[-1]) + 1 if len(fits) else 1
            bounds.append(i)
        return np.array(bounds)

    def __len__(self) -> int:
        if self._bounds is not None:
            return len(self._bounds) - 1
        return -(-len(self.lengths) // self.batch_size)

    def order(self) -> np.ndarray:
        """Sentence order of the epoch: batches of similar lengths (shuffled when training)."""
        if self._plan is not None and self._plan[0] == self.epoch:
            return self._plan[1]
        n, bs = len(self.lengths), self.batch_size
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
        else:
            rng = np.random.default_rng([self.seed, self.epoch])
            perm = rng.permutation(n)
            pool = np.arange(n) // (bs * POOL_BATCHES)
            order = perm[np.lexsort((self.lengths[perm], pool))]  # sorted by length within each pool
            batches = rng.permutation(len(self))
            starts = batches * bs
            idx = (starts[:, None] + np.arange(bs)).ravel()
            order = order[idx[idx < n]]
        self._plan = (self.epoch, order)
        return order

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        if not self._on_device:
            self._table = self._table.to(self.device)
            self._on_device = True
        if self._bounds is not None:
            rows = self.order()[self._bounds[index] : self._bounds[index + 1]]
        else:
            rows = self.order()[index * self.batch_size : (index + 1) * self.batch_size]
        lens = self.lengths[rows]
        T = int(lens.max())
        pos = self.starts[rows][:, None] + np.arange(T)
        mask = np.arange(T)[None, :] < lens[:, None]
        pos = np.minimum(pos, len(self._ids) - 1)
        tok = np.where(mask, self._ids[pos], self._pad_row).astype(np.int64)
        tok_t = torch.as_tensor(tok, device=self.device)
        mask_t = torch.as_tensor(mask, device=self.device)
        labels = (
            tok_t
            if self._targets is None
            else torch.as_tensor(self._targets[pos].astype(np.int64), device=self.device)
        )
        batch = {
            "char_ids": self._table[tok_t].long(),
            "attention_mask": mask_t.long(),
            "labels": labels.masked_fill(~mask_t, IGNORE_INDEX),
            "num_words": torch.tensor(int(lens.sum()), device=self.device),
        }
        if not self.shuffle:
            batch["num_items_in_batch"] = torch.tensor(
                self.num_targets / len(self), dtype=torch.float64, device=self.device
            )
        return batch


@torch.no_grad()
def bilm_perplexity(model, batches: SentenceBatches) -> dict[str, float]:
    """Held-out forward, backward and average perplexity of `model` (an `ElmoForLanguageModeling`) over
    every target of `batches` (each word and one sentence boundary per line, per direction). The average
    is exp of the mean of the two directions' NLL, as bilm-tf reports it."""
    was_training = model.training
    model.eval()
    fwd = bwd = 0.0
    count = 0
    try:
        for k in range(len(batches)):
            b = batches[k]
            out = model(char_ids=b["char_ids"], attention_mask=b["attention_mask"], labels=b["labels"])
            fwd += float(out.forward_nll)
            bwd += float(out.backward_nll)
            count += int(out.num_targets)
    finally:
        model.train(was_training)

    def ppl(nll: float) -> float:
        try:
            return math.exp(nll / max(count, 1))
        except OverflowError:
            return math.inf

    return {
        "forward_perplexity": ppl(fwd),
        "backward_perplexity": ppl(bwd),
        "perplexity": ppl((fwd + bwd) / 2),
        "loss": (fwd + bwd) / 2 / max(count, 1),
        "num_targets": count,
    }
