"""n-gram training windows for the NNLM, built with index arithmetic on the cached token-id array.

Every sentence (corpus line) becomes `context_size` `<s>` tokens, its words, then `</s>`; each word and
the `</s>` is a prediction target whose context is the `context_size` tokens before it, so windows never
cross a sentence boundary and the first words see `<s>` padding. Empty lines have no target.

`sentence_stream` lays the whole corpus out that way in one flat array (numpy, no Python loop over
sentences or windows); a window is then `stream[p - n : p + 1]` for a target position p: the reference
layout (Kneser-Ney, `ngram_windows`). `NGramBatches` serves whole batches of the same windows (one item =
one batch, shuffled per epoch) without laying anything out: target t of the corpus is found through a
`SentenceIndex` (sentence i holds length_i + 1 targets), its context read from the token-id cache and
the `<s>` padding set by index arithmetic; the epoch's order is a `SeededPermutation` of the targets. So
memory does not grow with the corpus (the old layout took 8 bytes per token plus a permutation).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ...text.corpus import SeededPermutation, SentenceIndex, TokenizedCorpus
from .modeling_nnlm import IGNORE_INDEX


def sentence_stream(
    ids: np.ndarray,
    offsets: np.ndarray,
    context_size: int,
    *,
    bos_id: int = 2,
    eos_id: int = 3,
    eos_count: int = 1,
    keep_empty: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lay sentences out as `<s>` * context_size + words + `</s>` * eos_count in one flat int64 array.

    Returns (stream, targets, starts): `targets` the stream positions of the words and the first `</s>`
    of every sentence (in corpus order), `starts[p]` the stream position where p's sentence (its `<s>`
    padding) begins. Empty sentences are dropped unless `keep_empty`.
    """
    ids = np.asarray(ids)
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    if not keep_empty:
        keep = lengths > 0
        if not keep.all():
            rows = np.flatnonzero(keep)
            starts_tok = offsets[rows]
            lengths = lengths[rows]
            idx = np.repeat(starts_tok - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(
                lengths.sum()
            )
            ids = ids[idx]
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    n_sent = len(lengths)
    extra = context_size + eos_count
    total = int(offsets[-1]) + n_sent * extra
    stream = np.full(total, bos_id, dtype=np.int64)
    sent_of_token = np.repeat(np.arange(n_sent, dtype=np.int64), lengths)
    word_pos = np.arange(int(offsets[-1]), dtype=np.int64) + sent_of_token * extra + context_size
    stream[word_pos] = ids
    sent_start = offsets[:-1] + np.arange(n_sent, dtype=np.int64) * extra  # where each sentence's <s> begin
    eos_first = sent_start + context_size + lengths
    for k in range(eos_count):
        stream[eos_first + k] = eos_id
    # targets in corpus order: sentence by sentence, its words then its </s>
    is_target = np.zeros(total, dtype=bool)
    is_target[word_pos] = True
    is_target[eos_first] = True
    targets = np.flatnonzero(is_target)
    starts = np.repeat(sent_start, lengths + extra)
    return stream, targets, starts


def ngram_windows(
    corpus: TokenizedCorpus, context_size: int, *, bos_id: int = 2, eos_id: int = 3
) -> np.ndarray:
    """All (context + target) windows of a corpus, (num_targets, context_size + 1) int64, corpus order."""
    stream, targets, _ = sentence_stream(
        corpus.ids, corpus.offsets, context_size, bos_id=bos_id, eos_id=eos_id
    )
    return stream[targets[:, None] + np.arange(-context_size, 1)]


def targets_per_sentence(lengths: np.ndarray) -> np.ndarray:
    """Prediction targets of sentences of these lengths: each word and one `</s>`; none for an empty line."""
    return np.where(lengths > 0, lengths + 1, 0)


class NGramBatches(Dataset):
    """Map-style dataset whose item k is the k-th batch of (context + target) windows of the epoch.

    Item: `input_ids` (batch, context_size + 1) = the context then the target, `labels` the same with
    every column but the last set to -100 (so the loss is the target's alone), `logits_to_keep` the one
    position scored (the last context word's), `num_words` the number of targets; unshuffled (evaluation)
    batches also carry `num_items_in_batch` (see `__getitem__`). With `shuffle`, the windows are visited
    in a seeded random order (`SeededPermutation` of (seed, epoch)) that changes with `set_epoch`;
    without, in corpus order (evaluation). Windows are built per batch from the token-id cache (see the
    module docstring). Use with batch size 1 and `unwrap_batch`.
    """

    def __init__(
        self,
        corpus: TokenizedCorpus,
        context_size: int,
        *,
        batch_size: int = 256,
        shuffle: bool = True,
        seed: int = 0,
        bos_id: int = 2,
        eos_id: int = 3,
        device: str | torch.device = "cpu",
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._index = SentenceIndex(corpus, targets_per_sentence)
        if self._index.total == 0:
            raise ValueError("the corpus has no word to predict (every line is empty)")
        self._ids = corpus.subset_of()[0].id_reader()
        self.context_size = int(context_size)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.epoch = 0
        self.bos_id, self.eos_id = int(bos_id), int(eos_id)
        self.num_targets = self._index.total
        self.num_words = self.num_targets
        self.device = torch.device(device)
        self._scored = torch.tensor([self.context_size - 1], device=self.device)
        self._order: SeededPermutation | None = None
        self._order_epoch = -1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return -(-self.num_targets // self.batch_size)

    def _permutation(self) -> SeededPermutation:
        if self._order is None or self._order_epoch != self.epoch:
            self._order = SeededPermutation(self.num_targets, [self.seed, self.epoch])
            self._order_epoch = self.epoch
        return self._order

    def windows(self, targets: np.ndarray) -> np.ndarray:
        """(len(targets), context_size + 1) int64 windows of targets (numbers in corpus order)."""
        _, rank, start, length = self._index.locate(targets)
        rel = rank[:, None] + np.arange(-self.context_size, 1)  # positions relative to the sentence start
        pos = np.clip(start[:, None] + rel, 0, max(len(self._ids) - 1, 0))
        words = self._ids.take(pos).astype(np.int64)
        return np.where(rel < 0, self.bos_id, np.where(rel >= length[:, None], self.eos_id, words))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        lo, hi = index * self.batch_size, min((index + 1) * self.batch_size, self.num_targets)
        targets = np.arange(lo, hi)
        if self.shuffle:
            targets = self._permutation()(targets)
        windows = torch.as_tensor(self.windows(targets), device=self.device)
        labels = torch.full_like(windows, IGNORE_INDEX)
        labels[:, -1] = windows[:, -1]
        batch = {
            "input_ids": windows,
            "labels": labels,
            # the one position scored: the last context word, whose output predicts the target
            "logits_to_keep": self._scored,
            "num_words": torch.tensor(hi - lo, device=self.device),
        }
        if not self.shuffle:
            # Trainer averages the evaluation batches' losses without weights (it takes every batch to be
            # per_device_eval_batch_size long): dividing each batch's summed NLL by targets / batches makes
            # that average the exact per-token mean, however short the last batch is
            batch["num_items_in_batch"] = torch.tensor(
                self.num_targets / len(self), dtype=torch.float64, device=self.device
            )
        return batch
