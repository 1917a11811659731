"""Word2Vec training batches, generated the way gensim / the C tool do it, but vectorised in torch.

One batch covers a fixed span of `words_per_batch` in-vocabulary corpus positions (so the learning-rate
schedule, which decays per step, decays per word as gensim's does). Per span:
1. frequent-word subsampling with gensim's keep probability (sqrt(c / (s*T)) + 1) * (s*T) / c;
2. a shrunk ("dynamic") window per centre word: window - randint(window);
3. (input, output) pairs within a sentence: skip-gram pairs input = context word, output = centre word
   (as in the C tool); CBOW rows of up to 2*window context words per centre word;
4. `negative` negatives per row from the unigram^ns_exponent distribution (inverse-CDF sampling).
Everything is a handful of tensor ops per batch; it runs on the training device, so on a GPU the data
never crosses the bus. Batches are deterministic functions of (seed, epoch, batch index).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from ...corpus import TokenizedCorpus


def keep_probabilities(counts: np.ndarray, sample: float, num_special: int) -> np.ndarray:
    """Return gensim's per-id probability of keeping a word occurrence (1 for rare words and sample=0)."""
    counts = counts.astype(np.float64)
    p = np.ones_like(counts)
    retain_total = counts[num_special:].sum()
    if sample > 0 and retain_total > 0:
        threshold = sample * retain_total
        c = np.maximum(counts, 1)
        p = np.minimum((np.sqrt(c / threshold) + 1) * threshold / c, 1.0)
    p[:num_special] = 0.0
    return p


def negative_cdf(counts: np.ndarray, exponent: float, num_special: int) -> np.ndarray:
    """Return the cumulative unigram^exponent distribution over ids (special tokens get no mass)."""
    w = counts.astype(np.float64) ** exponent
    w[:num_special] = 0.0
    if w.sum() <= 0:
        raise ValueError("cannot build the negative-sampling table: every word count is zero")
    cdf = np.cumsum(w)
    return cdf / cdf[-1]


def _split_long_sentences(sent: np.ndarray, max_len: int) -> np.ndarray:
    """Sentence ids with sentences longer than `max_len` cut into pieces (gensim's MAX_WORDS_IN_BATCH)."""
    starts = np.flatnonzero(np.r_[True, sent[1:] != sent[:-1]])
    pos_in_sent = np.arange(len(sent)) - np.repeat(starts, np.diff(np.r_[starts, len(sent)]))
    piece = pos_in_sent // max_len
    key = sent.astype(np.int64) * (len(sent) // max_len + 2) + piece
    return np.r_[0, np.cumsum(key[1:] != key[:-1])].astype(np.int32)


@dataclass
class Word2VecBatchSpec:
    architecture: str
    window: int
    negative: int
    shrink_windows: bool


class Word2VecBatches(Dataset):
    """Map-style dataset whose item k is the k-th training batch of the current epoch (a dict of tensors).

    Use with `per_device_train_batch_size=1` and `unwrap_batch` as the collator (what the family's
    `build_training_data` sets up). `set_epoch` changes the random draws per epoch.
    """

    def __init__(
        self,
        corpus: TokenizedCorpus,
        *,
        architecture: str,
        window: int,
        negative: int,
        sample: float,
        ns_exponent: float,
        shrink_windows: bool = True,
        max_sentence_length: int = 10000,
        words_per_batch: int = 16384,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ):
        counts = corpus.tokenizer.word_counts
        if counts is None:
            raise ValueError("the tokenizer has no word counts: build it with load_corpus or WordTokenizer.train")
        ns = corpus.tokenizer.num_special_tokens
        ids = np.asarray(corpus.ids)
        keep = ids >= ns  # gensim drops out-of-vocabulary words before windowing
        sent = corpus.sentence_ids()[keep]
        self.ids_np = ids[keep].astype(np.int64)
        self.sent_np = _split_long_sentences(sent, max_sentence_length) if len(sent) else sent
        self.spec = Word2VecBatchSpec(architecture, window, negative, shrink_windows)
        self.words_per_batch = int(words_per_batch)
        self.seed = int(seed)
        self.epoch = 0
        self.num_words = len(self.ids_np)
        self.raw_words = int(corpus.num_tokens)
        self.device = torch.device(device)
        self._keep_p = torch.as_tensor(keep_probabilities(counts, sample, ns), dtype=torch.float32)
        self._cdf = torch.as_tensor(negative_cdf(counts, ns_exponent, ns), dtype=torch.float64)
        self._ids = torch.as_tensor(self.ids_np)
        self._sent = torch.as_tensor(self.sent_np.astype(np.int64))
        self._on_device = False

    def to(self, device: str | torch.device) -> Word2VecBatches:
        """Keep the token arrays on `device` so batches are generated there (GPU: no host round trip)."""
        self.device = torch.device(device)
        self._on_device = False
        return self

    def _materialize(self) -> None:
        if not self._on_device:
            for name in ("_keep_p", "_cdf", "_ids", "_sent"):
                setattr(self, name, getattr(self, name).to(self.device))
            self._on_device = True

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return max(1, -(-self.num_words // self.words_per_batch))

    def _generator(self, index: int) -> torch.Generator:
        g = torch.Generator(device=self.device)
        g.manual_seed((self.seed * 1_000_003 + self.epoch) * 1_000_000_007 + index)
        return g

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        self._materialize()
        g = self._generator(index)
        lo = index * self.words_per_batch
        ids = self._ids[lo : lo + self.words_per_batch]
        sent = self._sent[lo : lo + self.words_per_batch]
        n_words = len(ids)
        kept = torch.rand(len(ids), generator=g, device=self.device) < self._keep_p[ids]
        ids, sent = ids[kept], sent[kept]
        w = self.spec.window
        if self.spec.shrink_windows:
            eff = w - torch.randint(0, w, (len(ids),), generator=g, device=self.device)
        else:
            eff = torch.full((len(ids),), w, device=self.device)
        if self.spec.architecture == "skipgram":
            batch = self._skipgram(ids, sent, eff)
            n_rows = len(batch["outputs"])
        else:
            batch = self._cbow(ids, sent, eff)
            n_rows = len(batch["outputs"])
        u = torch.rand((n_rows, self.spec.negative), generator=g, device=self.device, dtype=torch.float64)
        batch["negatives"] = torch.searchsorted(self._cdf, u).clamp_(max=len(self._cdf) - 1)
        batch["num_words"] = torch.tensor(n_words, device=self.device)
        return batch

    def _skipgram(self, ids, sent, eff) -> dict[str, torch.Tensor]:
        n = len(ids)
        centres, contexts = [], []
        for d in range(1, self.spec.window + 1):
            if d >= n:
                break
            # pair (centre i, context i+d) exists if d is inside centre i's window, likewise (i+d, i)
            same = sent[d:] == sent[:-d]
            fwd = same & (eff[:-d] >= d)
            bwd = same & (eff[d:] >= d)
            i = torch.nonzero(fwd).squeeze(1)
            centres.append(i)
            contexts.append(i + d)
            j = torch.nonzero(bwd).squeeze(1) + d
            centres.append(j)
            contexts.append(j - d)
        if centres:
            c = torch.cat(centres)
            x = torch.cat(contexts)
        else:
            c = x = torch.zeros(0, dtype=torch.long, device=self.device)
        # the C tool trains the context word's input vector against the centre word's output vector
        return {"inputs": ids[x], "outputs": ids[c]}

    def _cbow(self, ids, sent, eff) -> dict[str, torch.Tensor]:
        n, w = len(ids), self.spec.window
        pos = torch.arange(n, device=self.device)
        offsets = torch.cat([torch.arange(-w, 0, device=self.device), torch.arange(1, w + 1, device=self.device)])
        ctx = pos[:, None] + offsets[None, :]
        inside = (ctx >= 0) & (ctx < n)
        ctx_c = ctx.clamp(0, max(n - 1, 0))
        mask = inside & (sent[ctx_c] == sent[:, None]) & (offsets.abs()[None, :] <= eff[:, None])
        has = mask.any(1)
        return {"context": ids[ctx_c][has], "context_mask": mask[has], "outputs": ids[has]}


def unwrap_batch(features: list[dict]) -> dict:
    """Collator for datasets whose items are whole batches (DataLoader batch_size=1)."""
    if len(features) != 1:
        raise ValueError("Word2Vec batches are pre-built: use per_device_train_batch_size=1")
    return features[0]
