"""Sentence batches for biLM training, built with index arithmetic on the cached token-id array.

Every corpus line is one sequence (the model adds the sentence boundaries, so no state or context crosses
lines); training lines longer than `max_length` words are cut into pieces. The character ids of a word
come from a table over the tokenizer's vocabulary (one row per word id, computed once), so a batch is a
gather: no Python loop over tokens. Batches group sentences of similar length (sorted within shuffled
pools of 50 batches) so that little time goes into padding; one item = one batch, as for NNLM.

Training batches are cut from the token-id cache when asked for: piece k of the corpus is found through a
`SentenceIndex` (sentence i holds ceil(length_i / max_length) pieces), the epoch's order is a
`SeededPermutation` of the pieces (pools) and of the batches, and a batch's tokens are gathered from the
cache, so memory does not grow with the corpus. Held-out batches (sorted by length over the whole set)
keep 16 bytes per held-out piece.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch.utils.data import Dataset

from ...text.corpus import ArrayReader, SeededPermutation, SentenceIndex, TokenizedCorpus
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
    """(starts, lengths) int64 of the non-empty lines, each cut into pieces of at most `max_length` words
    (whole arrays in memory: what `SentenceBatches` keeps for held-out batches only)."""
    offsets = np.asarray(corpus.offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    keep = lengths > 0
    return _cut(offsets[:-1][keep], lengths[keep], max_length)


def pieces_per_sentence(lengths: np.ndarray, max_length: int | None = None) -> np.ndarray:
    """Pieces of at most `max_length` words that lines of these lengths are cut into (none for an empty line)."""
    if max_length is None:
        return (lengths > 0).astype(np.int64)
    return -(-lengths // max_length)


class SentenceBatches(Dataset):
    """Map-style dataset whose item k is the k-th batch of sentences of the epoch.

    Item: `char_ids` (b, T, max_chars), `attention_mask` (b, T), `labels` (b, T) word ids (-100 at padding;
    from `targets`, an array aligned with `corpus.ids`, when the softmax vocabulary differs from the input's),
    `num_words`; unshuffled (evaluation) batches also carry `num_items_in_batch` = targets / batches, which
    makes Trainer's unweighted mean of the batch losses the exact per-target mean; they are sorted by length
    and hold at most `max_tokens` padded tokens (when given; a longer line is cut into pieces of `max_tokens`
    words, each scored with its own boundaries). Shuffled batches are drawn from (seed, epoch, k) alone
    (see the module docstring). Use with batch size 1 and `unwrap_batch`.
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
        if targets is not None:  # they align with the corpus's own ids (a split part's gathered ones)
            corpus = corpus.standalone()
        self.max_length = max_length
        self._index = SentenceIndex(corpus, functools.partial(pieces_per_sentence, max_length=max_length))
        if self._index.total == 0:
            raise ValueError("the corpus has no sentence to train on (every line is empty)")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.epoch = 0
        self.device = torch.device(device)
        self.num_pieces = self._index.total
        self.num_words = self._index.num_tokens
        self.num_targets = self.num_words + self.num_pieces  # per direction: words + one boundary each
        self._ids = corpus.subset_of()[0].id_reader()
        self._targets = None
        if targets is not None:
            self._targets = ArrayReader(targets)
            if len(self._targets) != len(self._ids):
                raise ValueError(
                    f"targets must align with the corpus ids: {len(self._targets)} vs {len(self._ids)} tokens"
                )
        table = char_table if char_table is not None else vocabulary_char_table(corpus.tokenizer, max_chars)
        self._pad_row = len(table) - 1
        self._table = torch.as_tensor(table)
        self._on_device = False
        self._plan: tuple[int, SeededPermutation, SeededPermutation] | None = None
        self._bounds = None  # unshuffled: batch boundaries in the length-sorted order
        if not self.shuffle:
            starts, lengths = [], []
            for _, s, n in self._index.sentences():
                piece_starts, piece_lengths = _cut(s, n, max_length)
                starts.append(piece_starts)
                lengths.append(piece_lengths)
            self.starts, self.lengths = np.concatenate(starts), np.concatenate(lengths)
            self._sorted = np.argsort(self.lengths, kind="stable")
            self._bounds = self._eval_bounds(max_tokens)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _eval_bounds(self, max_tokens: int | None) -> np.ndarray:
        """Batch boundaries over the length-sorted sentences: at most batch_size sentences and (when
        given) at most max_tokens padded token slots per batch, so that long lines come in small batches."""
        lengths = self.lengths[self._sorted]
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
        return -(-self.num_pieces // self.batch_size)

    def pieces(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(starts in the ids, lengths) of pieces `k` (numbers in corpus order)."""
        _, rank, start, length = self._index.locate(k)
        if self.max_length is None:
            return start, length
        return start + rank * self.max_length, np.minimum(self.max_length, length - rank * self.max_length)

    def batch_pieces(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(piece numbers in corpus order, starts in the ids, lengths) of batch `index` of the epoch."""
        if self._bounds is not None:
            rows = self._sorted[self._bounds[index] : self._bounds[index + 1]]
            return rows, self.starts[rows], self.lengths[rows]
        if self._plan is None or self._plan[0] != self.epoch:
            self._plan = (
                self.epoch,
                SeededPermutation(self.num_pieces, [self.seed, self.epoch, 0]),
                SeededPermutation(len(self), [self.seed, self.epoch, 1]),
            )
        _, pieces, batches = self._plan
        # batch slot `slot` is the r-th run of batch_size pieces of its pool (POOL_BATCHES slots of randomly
        # drawn pieces), once the pool is sorted by length
        slot = int(batches(index))
        pool, r = divmod(slot, POOL_BATCHES)
        size = self.batch_size * POOL_BATCHES
        members = pieces(np.arange(pool * size, min((pool + 1) * size, self.num_pieces)))
        starts, lengths = self.pieces(members)
        chosen = np.argsort(lengths, kind="stable")[r * self.batch_size : (r + 1) * self.batch_size]
        return members[chosen], starts[chosen], lengths[chosen]

    def order(self) -> np.ndarray:
        """Piece numbers (corpus order) of every batch of the epoch, batch after batch: for inspection;
        O(pieces) memory, which training never needs."""
        return np.concatenate([self.batch_pieces(k)[0] for k in range(len(self))])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        if not self._on_device:
            self._table = self._table.to(self.device)
            self._on_device = True
        _, starts, lens = self.batch_pieces(index)
        T = int(lens.max())
        pos = starts[:, None] + np.arange(T)
        mask = np.arange(T)[None, :] < lens[:, None]
        pos = np.where(mask, pos, 0)
        tok = np.where(mask, self._ids.take(pos), self._pad_row).astype(np.int64)
        tok_t = torch.as_tensor(tok, device=self.device)
        mask_t = torch.as_tensor(mask, device=self.device)
        labels = (
            tok_t
            if self._targets is None
            else torch.as_tensor(self._targets.take(pos).astype(np.int64), device=self.device)
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


def _cut(starts: np.ndarray, lengths: np.ndarray, max_length: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(starts, lengths) of the pieces of at most `max_length` words of the given non-empty lines."""
    if max_length is None or len(lengths) == 0 or lengths.max() <= max_length:
        return starts, lengths
    pieces = -(-lengths // max_length)
    sent = np.repeat(np.arange(len(lengths)), pieces)
    k = np.arange(len(sent)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    return starts[sent] + k * max_length, np.minimum(max_length, lengths[sent] - k * max_length)


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
