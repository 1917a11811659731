"""ELMo's layers outside the biLSTM: the character CNN token layer (bilm-tf / AllenNLP semantics: character
embedding -> valid Conv1d per width -> max over positions -> activation -> highway (sigmoid(carry) gates the
relu branch) -> projection), the cache of precomputed token embeddings, and the learned scalar mix of the
biLM's layers.

The character CNN runs only over the character columns that some word uses (plus the widest filter), which
is exact (`ElmoCharacterEncoder.trim`); `row_hash` finds equal character rows (the token cache, and the
model's one pass per distinct word of a batch).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .configuration_elmo import ElmoConfig
from .tokenization_elmo import NUM_CHAR_IDS, PAD_CHAR


# ------------------------------------------------------------------------------------------------------
# token layer
# ------------------------------------------------------------------------------------------------------
class ElmoHighway(nn.Module):
    """One highway layer in TensorFlow's convention: t = sigmoid(x W_carry + b_carry),
    y = t * relu(x W_transform + b_transform) + (1 - t) * x. `weight` stacks [W_transform; W_carry] (out, in)."""

    def __init__(self, width: int):
        super().__init__()
        self.width = width
        self.weight = nn.Parameter(torch.empty(2 * width, width))
        self.bias = nn.Parameter(torch.empty(2 * width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        transform, carry = nn.functional.linear(x, self.weight, self.bias).chunk(2, dim=-1)
        gate = torch.sigmoid(carry)
        return gate * torch.relu(transform) + (1 - gate) * x


class ElmoCharacterEncoder(nn.Module):
    """Character ids (N, max_chars) -> context-independent token embeddings (N, projection_dim)."""

    def __init__(self, config: ElmoConfig):
        super().__init__()
        self.char_embedding = nn.Embedding(NUM_CHAR_IDS, config.char_embedding_dim, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(config.char_embedding_dim, n, w) for w, n in config.filters)
        self.highways = nn.ModuleList(ElmoHighway(config.num_filters) for _ in range(config.n_highway))
        self.projection = nn.Linear(config.num_filters, config.projection_dim)
        self.activation = torch.relu if config.activation == "relu" else torch.tanh
        self.max_width = max(w for w, _ in config.filters)

    def trim(self, char_ids: torch.Tensor) -> torch.Tensor:
        """Drop the trailing character columns that hold the padding character in every row, keeping
        `max_width` of them: the same outputs for a fraction of the work (words are ~8 of 50 columns).

        Exact: every window that lies in those columns sees only padding, so it gives the same value for
        every row and filter; the window starting at the first such column is kept for every width."""
        if char_ids.shape[0] == 0:
            return char_ids
        used = (char_ids != PAD_CHAR + 1).any(dim=0)
        last = int(used.nonzero().max()) + 1 if bool(used.any()) else 0
        return char_ids[:, : min(char_ids.shape[1], last + self.max_width)]

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        x = self.char_embedding(self.trim(char_ids)).transpose(1, 2)  # (N, D, chars)
        x = torch.cat([self.activation(conv(x).amax(dim=-1)) for conv in self.convs], dim=-1)
        for highway in self.highways:
            x = highway(x)
        return self.projection(x)


class ElmoTokenCache(nn.Module):
    """Precomputed token embeddings of a word list, looked up by their character ids (exact match, found
    through a hash of the row); tokens not in the cache go through the character CNN."""

    def __init__(self, char_ids: torch.Tensor, embeddings: torch.Tensor):
        super().__init__()
        self._mult = hash_multipliers(char_ids.shape[1], char_ids.device)
        keys = row_hash(char_ids, self._mult)
        keys, order = keys.sort()
        self.register_buffer("keys", keys, persistent=False)
        self.register_buffer("char_ids", char_ids[order], persistent=False)
        self.register_buffer("embeddings", embeddings[order], persistent=False)

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, char_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(hit mask (N,), cache rows (N,) valid where hit) for character rows (N, max_chars)."""
        h = row_hash(char_ids, self._mult.to(char_ids.device))
        pos = torch.searchsorted(self.keys, h).clamp_max(len(self.keys) - 1)
        hit = (self.keys[pos] == h) & (self.char_ids[pos] == char_ids).all(dim=-1)
        return hit, pos


def hash_multipliers(width: int, device) -> torch.Tensor:
    g = np.random.default_rng(12345).integers(1, 2**62, size=width, dtype=np.int64) | 1
    return torch.as_tensor(g, device=device)


def row_hash(rows: torch.Tensor, mult: torch.Tensor) -> torch.Tensor:
    return (rows.long() * mult).sum(dim=-1)  # wraps around in int64: fine for a hash


# ------------------------------------------------------------------------------------------------------
# scalar mix
# ------------------------------------------------------------------------------------------------------
class ElmoScalarMix(nn.Module):
    """gamma * sum_k softmax(w)_k * layer_k, optionally layer-normalising each layer over its unmasked
    positions first (AllenNLP's convention: statistics over the whole masked tensor, eps 1e-13)."""

    def __init__(self, num_layers: int, do_layer_norm: bool = False):
        super().__init__()
        self.do_layer_norm = do_layer_norm
        self.scalar_parameters = nn.Parameter(torch.zeros(num_layers))
        self.gamma = nn.Parameter(torch.ones(1))

    def weights(self) -> torch.Tensor:
        return torch.softmax(self.scalar_parameters, dim=0)

    def forward(self, layers: list[torch.Tensor], mask: torch.Tensor | None = None) -> torch.Tensor:
        weights = self.weights().to(layers[0].dtype)
        if self.do_layer_norm:
            if mask is None:
                mask = layers[0].new_ones(layers[0].shape[:-1])
            m = mask.to(layers[0].dtype).unsqueeze(-1)
            count = m.sum() * layers[0].shape[-1]
            normed = []
            for layer in layers:
                mean = (layer * m).sum() / count
                var = (((layer - mean) * m) ** 2).sum() / count
                normed.append((layer - mean) / torch.sqrt(var + 1e-13))
            layers = normed
        mixed = sum(w * layer for w, layer in zip(weights, layers))
        return self.gamma.to(mixed.dtype) * mixed
