"""The "training data" of PPMI-SVD: one batch, the factorisation, computed when the Trainer asks for it."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from .ppmi_svd import Factorization, factorize


class SvdFactorizationBatch(Dataset):
    """A dataset of one item: the batch `SvdForFactorization` copies into the model.

    The PPMI matrix and its SVD are computed on the first access, inside `Trainer.train()` (so the
    training time of the log and the card is the factorisation's), and kept for later epochs; `stats`
    then holds their sizes and times.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> from hf_embeddings.models.svd.configuration_svd import SvdConfig
        >>> counts = sp.csr_matrix(np.kron(np.eye(2), np.ones((3, 3))))  # two groups of 3 words
        >>> data = SvdFactorizationBatch(counts, SvdConfig(vocab_size=6, vector_size=2))
        >>> len(data), sorted(data[0]), data[0]["word_vectors"].shape
        (1, ['context_vectors', 'residual', 'singular_values', 'word_vectors'], torch.Size([6, 2]))
    """

    def __init__(self, counts, config, *, seed: int = 0, device="cpu"):
        self.counts = counts
        self.config = config
        self.seed = seed
        self.device = device
        self.solution: Factorization | None = None

    @property
    def stats(self) -> dict:
        return dict(self.solution.stats) if self.solution is not None else {}

    def solve(self) -> Factorization:
        if self.solution is None:
            self.solution = factorize(self.counts, self.config, seed=self.seed, device=self.device)
            self.counts = None  # the matrix is not needed any more
        return self.solution

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> dict:
        if index not in (0, -1):
            raise IndexError(index)
        f = self.solve()
        batch = {
            "word_vectors": f.word_vectors,
            "singular_values": f.singular_values,
            "residual": torch.tensor(f.residual, dtype=f.word_vectors.dtype),
        }
        if f.context_vectors is not None:
            batch["context_vectors"] = f.context_vectors
        return batch
