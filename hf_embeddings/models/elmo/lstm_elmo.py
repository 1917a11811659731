"""ELMo's biLSTM: one LSTM-with-projection layer for both directions, its time step, and the time loop as an
autograd Function with a hand-written backward.

Each LSTM (bilm-tf semantics, see docs/elmo-format.md in the project)
    z = x W_ih + h W_hh + b   (TensorFlow gate order i, j, f, o; forget_bias added to f)
    c = clip(sigmoid(f) c + sigmoid(i) tanh(j)),  h = clip((sigmoid(o) tanh(c)) W_proj)

Speed: both directions of a layer run together (stacked weights, one batched matmul per step), the input
side of every step is one matmul over the whole packed sequence before the time loop, sequences are
sorted by length and packed so that each step only touches the sequences still running (no state ever
flows through padding), and the backward direction reads each sequence reversed within its own span
(`reverse_within_lengths`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def lstm_step(
    x_t: torch.Tensor,
    h: torch.Tensor,
    c: torch.Tensor,
    w_hh: torch.Tensor,
    w_proj: torch.Tensor,
    cell_clip: float | None,
    proj_clip: float | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One time step of both directions: x_t (2, n, 4C) the input side (bias included), h (2, n, P), c (2, n, C)
    -> the new (h, c). A module-level function so that it can be swapped for a compiled one
    (bench/elmo_lstm_step.py measures torch.compile on it)."""
    z_i, z_j, z_f, z_o = torch.baddbmm(x_t, h, w_hh).chunk(4, dim=-1)
    c = torch.sigmoid(z_f) * c + torch.sigmoid(z_i) * torch.tanh(z_j)
    if cell_clip is not None:
        c = c.clamp(-cell_clip, cell_clip)
    h = torch.bmm(torch.sigmoid(z_o) * torch.tanh(c), w_proj)
    if proj_clip is not None:
        h = h.clamp(-proj_clip, proj_clip)
    return h, c


def _clip_mask(x: torch.Tensor, clip: float | None) -> torch.Tensor | None:
    """Where `clamp(x, -clip, clip)` passes its gradient (inclusive bounds, as autograd's clamp)."""
    return None if clip is None else x.abs() <= clip


class LstmRecurrence(torch.autograd.Function):
    """The time loop of `ElmoBiLstmLayer` (both directions, packed) with its backward written out.

    Same values as the `lstm_step` loop under autograd (tests check both against each other in float64), but
    no autograd graph of ~40 nodes per step: on a GPU the loop is bound by the per-operation cost on the
    host, not by arithmetic (one H100 took ~1 ms per layer step at 256 sentences, bench/elmo_lstm_step.py).
    The step's activations are kept in packed buffers, and the weight gradients are two large matrix
    products over the whole sequence after the backward loop instead of one small product per step."""

    @staticmethod
    def forward(ctx, xp, w_hh, w_proj, batch_sizes, cell_clip, proj_clip):
        # xp (2, N, 4C) input side incl. bias; w_hh (2, P, 4C); w_proj (2, C, P); batch_sizes: tuple of ints
        C = w_proj.shape[1]
        h = xp.new_zeros(2, batch_sizes[0], w_proj.shape[2])
        c = xp.new_zeros(2, batch_sizes[0], C)
        gates, c_pre, tanh_c, h_pre, outs = [], [], [], [], []
        for n, x_t in zip(batch_sizes, torch.split(xp, batch_sizes, dim=1)):
            g = torch.baddbmm(x_t, h[:, :n], w_hh)  # -> sigmoid(i), tanh(j), sigmoid(f), sigmoid(o)
            t_j = torch.tanh(g[..., C : 2 * C])
            g.sigmoid_()
            g[..., C : 2 * C] = t_j
            s_i, _, s_f, s_o = g.chunk(4, dim=-1)
            cp = torch.addcmul(s_f * c[:, :n], s_i, t_j)
            c = cp if cell_clip is None else cp.clamp(-cell_clip, cell_clip)
            tc = torch.tanh(c)
            hp = torch.bmm(s_o * tc, w_proj)
            h = hp if proj_clip is None else hp.clamp(-proj_clip, proj_clip)
            for buf, v in ((gates, g), (c_pre, cp), (tanh_c, tc), (h_pre, hp), (outs, h)):
                buf.append(v)
        out = torch.cat(outs, dim=1)
        ctx.save_for_backward(
            w_hh, w_proj, torch.cat(gates, dim=1), torch.cat(c_pre, dim=1), torch.cat(tanh_c, dim=1),
            torch.cat(h_pre, dim=1), out,
        )  # fmt: skip
        ctx.batch_sizes, ctx.clips = tuple(batch_sizes), (cell_clip, proj_clip)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        w_hh, w_proj, gates, c_pre, tanh_c, h_pre, out = ctx.saved_tensors
        batch_sizes, (cell_clip, proj_clip) = ctx.batch_sizes, ctx.clips
        C = w_proj.shape[1]
        offsets = [0]
        for n in batch_sizes:
            offsets.append(offsets[-1] + n)
        w_hh_t, w_proj_t = w_hh.transpose(1, 2), w_proj.transpose(1, 2)
        d_gates, d_hp = [], []  # per step, last step first
        dh_rec = dc_rec = None  # from step t + 1 (its rows are the first rows of step t)
        for t in range(len(batch_sizes) - 1, -1, -1):
            n, sl = batch_sizes[t], slice(offsets[t], offsets[t + 1])
            dh = grad_out[:, sl]
            if dh_rec is not None:
                dh = dh.clone()
                dh[:, : dh_rec.shape[1]] += dh_rec
            mask = _clip_mask(h_pre[:, sl], proj_clip)
            dhp = dh * mask if mask is not None else dh
            dm = torch.bmm(dhp, w_proj_t)  # (2, n, C): gradient of sigmoid(o) tanh(c)
            g = gates[:, sl]
            s_i, t_j, s_f, s_o = g.chunk(4, dim=-1)
            tc = tanh_c[:, sl]
            dc = dm * s_o * (1 - tc * tc)
            if dc_rec is not None:
                dc[:, : dc_rec.shape[1]] += dc_rec
            mask = _clip_mask(c_pre[:, sl], cell_clip)
            if mask is not None:
                dc = dc * mask
            if t > 0:
                prev = c_pre[:, offsets[t - 1] : offsets[t - 1] + n]
                d_f = dc * (prev if cell_clip is None else prev.clamp(-cell_clip, cell_clip))
            else:
                d_f = torch.zeros_like(dc)
            dg = torch.cat([dc * t_j, dc * s_i, d_f, dm * tc], dim=-1)
            # through the activations: sigmoid' = s (1 - s), tanh' = 1 - t^2
            deriv = torch.addcmul(g, g, g, value=-1)
            deriv[..., C : 2 * C].add_(1).sub_(t_j)
            dg.mul_(deriv)
            dc_rec = dc * s_f
            dh_rec = torch.bmm(dg, w_hh_t)
            d_gates.append(dg)
            d_hp.append(dhp)
        d_gates = torch.cat(d_gates[::-1], dim=1)  # = the gradient of xp
        grads = [d_gates, None, None]
        if ctx.needs_input_grad[1]:
            # h before each step (zeros at the first): the first n_t rows of the previous step's outputs
            src = np.concatenate([np.arange(offsets[t - 1], offsets[t - 1] + batch_sizes[t])
                                  for t in range(1, len(batch_sizes))] or [np.zeros(0, np.int64)])  # fmt: skip
            h_prev = torch.zeros_like(out)
            h_prev[:, batch_sizes[0] :] = out[:, torch.as_tensor(src, device=out.device)]
            grads[1] = torch.bmm(h_prev.transpose(1, 2), d_gates)
        if ctx.needs_input_grad[2]:
            m = gates[..., 3 * C :] * tanh_c  # sigmoid(o) tanh(c) at every step
            grads[2] = torch.bmm(m.transpose(1, 2), torch.cat(d_hp[::-1], dim=1))
        return (*grads, None, None, None)


class ElmoBiLstmLayer(nn.Module):
    """Both directions of one LSTM-with-projection layer, stacked on dim 0 (0 = forward, 1 = backward).

    weight_ih (2, 4C, P), weight_hh (2, 4C, P), bias (2, 4C) in TensorFlow gate order i, j, f, o (the
    original's B, without the forget bias), weight_proj (2, P, C).

    `manual_backward`: train through `LstmRecurrence` (hand-written backward) instead of autograd over the
    step loop; None (default) = on accelerators, where the loop is bound by per-operation host cost. On a
    CPU the arithmetic dominates and autograd's loop was as fast (2 cores)."""

    manual_backward: bool | None = None

    def __init__(self, input_dim: int, cell_dim: int, projection_dim: int):
        super().__init__()
        self.cell_dim = cell_dim
        self.weight_ih = nn.Parameter(torch.empty(2, 4 * cell_dim, input_dim))
        self.weight_hh = nn.Parameter(torch.empty(2, 4 * cell_dim, projection_dim))
        self.bias = nn.Parameter(torch.empty(2, 4 * cell_dim))
        self.weight_proj = nn.Parameter(torch.empty(2, projection_dim, cell_dim))

    def forward(
        self,
        inputs: torch.Tensor,
        batch_sizes: list[int],
        forget_bias: float,
        cell_clip: float | None,
        proj_clip: float | None,
    ) -> torch.Tensor:
        """inputs (2, N, P): the packed (time-major, length-sorted) sequences of each direction -> outputs
        (2, N, P), packed the same way. `batch_sizes[t]` sequences are still running at step t."""
        C = self.cell_dim
        bias = self.bias.clone()
        bias[:, 2 * C : 3 * C] += forget_bias
        # the input side of every step at once: one matmul for the whole packed sequence
        xp = torch.baddbmm(bias.unsqueeze(1), inputs, self.weight_ih.transpose(1, 2))  # (2, N, 4C)
        w_hh, w_proj = self.weight_hh.transpose(1, 2), self.weight_proj.transpose(1, 2)
        n0 = batch_sizes[0]
        h = inputs.new_zeros(2, n0, w_hh.shape[1])
        c = inputs.new_zeros(2, n0, C)
        manual = self.manual_backward
        if manual is None:
            manual = inputs.device.type != "cpu"
        # under autocast the loop's products would come out in the low precision that the hand-written
        # backward does not expect: autograd's loop handles the mixed dtypes there
        if manual and torch.is_grad_enabled() and not torch.is_autocast_enabled(inputs.device.type):
            return LstmRecurrence.apply(xp, w_hh, w_proj, tuple(batch_sizes), cell_clip, proj_clip)
        outputs = []
        # split (not sliced step by step): its backward is one concatenation, where the backward of
        # per-step slices would write a full-size zero tensor at every step
        for n, x_t in zip(batch_sizes, torch.split(xp, batch_sizes, dim=1)):
            if n < h.shape[1]:  # sequences that ended drop out (the batch is sorted by length)
                h, c = h[:, :n], c[:, :n]
            h, c = lstm_step(x_t, h, c, w_hh, w_proj, cell_clip, proj_clip)
            outputs.append(h)
        return torch.cat(outputs, dim=1)


def reverse_within_lengths(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence of x (B, T, ...) within its first lengths[b] steps; padding stays in place."""
    T = x.shape[1]
    t = torch.arange(T, device=x.device)
    idx = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (B, T)
    return x.gather(1, idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x))
