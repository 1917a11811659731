"""AdaGrad as glove.c applies it, for uncoalesced sparse gradients (one row per co-occurrence entry)."""

from __future__ import annotations

import torch


class GloVeAdaGrad(torch.optim.Optimizer):
    """glove.c's AdaGrad for uncoalesced sparse gradients: every entry's gradient row g is scaled,
    u = lr * g, the accumulator G (per element, starting at `initial_accumulator_value` = 1 as glove.c's
    gradsq) sums u^2, and the parameter moves by -u / sqrt(G).

    The accumulator sums squares of the *learning-rate-scaled* gradient, as glove.c does. This is not
    `torch.optim.Adagrad(lr=0.05, initial_accumulator_value=1)`, whose step lr * g / sqrt(1 + sum g^2)
    becomes 1/lr = 20x smaller than glove.c's g / sqrt(1/lr^2 + sum g^2) once the sum dominates.

    Within a batch, a row hit by several entries gets the sum of their updates:

    - `mode="fresh"` (default) first adds the squares of all the batch's entries to G, then divides each
      update by sqrt(G): torch's / Duchi et al.'s order. A row seen n times in a step moves at most ~sqrt(n)
      steps, which keeps large batches stable (measured on gcide: quality holds up to 262,144 entries per
      step, ~1,000 entries of the busiest row; see bench/glove_quality.py).
    - `mode="stale"` divides by sqrt(G) as it was before the batch and then adds the squares: with one
      entry per step (or entries touching distinct rows) this is glove.c's update exactly, but a row seen
      n times moves n stale steps, which diverges for busy rows in large batches (NaN at 262,144 entries).

    Dense gradients count as one entry per row.
    """

    def __init__(self, params, lr: float = 0.05, initial_accumulator_value: float = 1.0, mode: str = "fresh"):
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        if not initial_accumulator_value > 0:
            raise ValueError(f"initial_accumulator_value must be > 0, got {initial_accumulator_value}")
        if mode not in ("stale", "fresh"):
            raise ValueError(f"mode must be 'stale' or 'fresh', got {mode!r}")
        super().__init__(
            params, {"lr": lr, "initial_accumulator_value": initial_accumulator_value, "mode": mode}
        )

    def _accumulator(self, p: torch.Tensor, group: dict) -> torch.Tensor:
        state = self.state[p]
        if "sum" not in state:
            state["sum"] = torch.full_like(
                p, group["initial_accumulator_value"], memory_format=torch.preserve_format
            )
        return state["sum"]

    def init_state(self) -> None:
        """Create every accumulator now (they are otherwise made at a parameter's first step), so that the
        replicas of a multi-process run can be summed from the start (training.distributed.ReplicaSync)."""
        for group in self.param_groups:
            for p in group["params"]:
                self._accumulator(p, group)

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            lr, fresh = group["lr"], group["mode"] == "fresh"
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                acc = self._accumulator(p, group)
                if g.is_sparse:
                    idx, upd = g._indices()[0], g._values() * -lr
                    sq = upd * upd
                    if fresh:
                        acc.index_add_(0, idx, sq)
                        den = acc.index_select(0, idx)
                    else:
                        den = acc.index_select(0, idx)
                        acc.index_add_(0, idx, sq)
                    p.index_add_(0, idx, upd.div_(den.sqrt_()))
                else:
                    upd = g * -lr
                    if fresh:
                        acc.addcmul_(upd, upd)
                        p.addcdiv_(upd, acc.sqrt())
                    else:
                        den = acc.sqrt()
                        acc.addcmul_(upd, upd)
                        p.addcdiv_(upd, den)
        return loss
