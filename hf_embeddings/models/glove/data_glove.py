"""GloVe training batches: the non-zero entries of the co-occurrence matrix, reshuffled every epoch.

Item k of an epoch is the k-th slice of a permutation of all entries, drawn from (seed, epoch), as a dict
of tensors: `rows`, `cols` (int64 ids), `log_values` (log X) and `weights` (f(X)); log and f are computed
once. The arrays live on the training device, so on a GPU no batch crosses the bus.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch.utils.data import Dataset

from ..family import BatchRanges, data_parallel_processes
from .cooccurrence import Cooccurrence
from .modeling_glove import weighting

logger = logging.getLogger(__name__)

#: expected entries of the busiest row in one step above which AdaGrad overshoots on that row (measured on
#: gcide: fine at ~1,000 (262,144 entries per step), diverging at ~4,000 (1,048,576); see GloVeAdaGrad)
MAX_ROW_ENTRIES_PER_STEP = 2000


class GloVeEntries(Dataset):
    """Map-style dataset whose item k is the k-th batch of `entries_per_batch` shuffled entries.

    Use with `per_device_train_batch_size=1` and `unwrap_batch` (what the family's `build_training_data`
    sets up); `set_epoch` (called by `EmbeddingTrainer` at each epoch start) draws a new order.

    Example:
        >>> from hf_embeddings.models.glove.cooccurrence import count_cooccurrences
        >>> from hf_embeddings.text.corpus import load_corpus
        >>> cooc = count_cooccurrences(load_corpus(["a b c", "b c a"], min_count=1), window_size=2)
        >>> ds = GloVeEntries(cooc, x_max=10, alpha=0.75, entries_per_batch=4)
        >>> len(ds), sorted(ds[0]), len(ds[0]["rows"]) + len(ds[1]["rows"])  # 6 entries in 2 batches
        (2, ['cols', 'log_values', 'rows', 'weights'], 6)
    """

    def __init__(
        self,
        cooccurrence: Cooccurrence,
        *,
        x_max: float,
        alpha: float,
        entries_per_batch: int,
        seed: int = 0,
        device: str | torch.device = "cpu",
        processes: int | None = None,
    ):
        if entries_per_batch < 1:
            raise ValueError(f"entries_per_batch must be >= 1, got {entries_per_batch}")
        if cooccurrence.nnz == 0:
            raise ValueError("the co-occurrence matrix is empty: nothing to train on (corpus too small?)")
        self.device = torch.device(device)
        values = torch.from_numpy(cooccurrence.values).to(self.device, torch.float32)
        self.rows = torch.from_numpy(cooccurrence.rows).to(self.device)
        self.cols = torch.from_numpy(cooccurrence.cols).to(self.device)
        self.log_values = values.log()
        self.weights = weighting(values, x_max, alpha)
        self.nnz = cooccurrence.nnz
        self.entries_per_batch = int(entries_per_batch)
        # several processes: a number of batches they share out evenly (no entry trained twice an epoch)
        self._batches = BatchRanges(self.nnz, self.entries_per_batch, processes or data_parallel_processes())
        self.seed = int(seed)
        self.epoch = 0
        self._order: torch.Tensor | None = None
        busiest_row = max(np.bincount(cooccurrence.rows).max(), np.bincount(cooccurrence.cols).max())
        busiest = int(busiest_row) * self.entries_per_batch / self.nnz
        if busiest > MAX_ROW_ENTRIES_PER_STEP:
            logger.warning(
                "%d entries per step put ~%d entries of the busiest row into each step: training is likely "
                "to overshoot on frequent words; use fewer entries per step (entries_per_batch)",
                self.entries_per_batch,
                busiest,
            )

    def set_epoch(self, epoch: int) -> None:
        if int(epoch) != self.epoch:
            self.epoch = int(epoch)
            self._order = None

    def order(self) -> torch.Tensor:
        """This epoch's permutation of the entries (deterministic in seed and epoch)."""
        if self._order is None:
            g = torch.Generator(device=self.device)
            g.manual_seed(self.seed * 1_000_003 + self.epoch)
            self._order = torch.randperm(self.nnz, generator=g, device=self.device)
        return self._order

    def __len__(self) -> int:
        return len(self._batches)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        lo, hi = self._batches[index]  # IndexError past the end
        idx = self.order()[lo:hi]
        return {
            "rows": self.rows[idx].long(),
            "cols": self.cols[idx].long(),
            "log_values": self.log_values[idx],
            "weights": self.weights[idx],
        }
