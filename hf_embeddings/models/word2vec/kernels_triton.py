"""GPU training kernel: the tensor path's block update (`modeling_word2vec._NegativeSamplingLoss`), fused
in Triton.

On a GPU the tensor path spends a step on a few dozen small kernels per sub-batch (row gathers, batched
products of 18 x 100 by 100 x 28 matrices, sigmoid, weights, trust region, scatters), each reading and
writing its intermediate tensors through global memory. Here one program handles one block of
`Word2VecBatches` (B consecutive centre words, their B + 2*window window slots and the block's shared
negatives, as FULL-W2V and BlazingText share negatives within a window): it reads the window's input
rows and the block's output rows (centres + negatives) from memory once (the scores take one pass over
the vector dimension, the gradients a second, which finds the rows in the on-chip caches), computes
scores, loss and both gradients with a few small dot products, and writes only gradient rows, their norms
and its loss. Per sub-batch:

1. `_block_grads`: one program per block writes its gradient rows (one per window slot, one per target),
   their norms and its loss, and (with a trust region) adds each row's norm to its row id's total;
2. `_apply_grads`: one program per block adds -rate * gradient (scaled down where a row's summed step
   would exceed `max_row_step`) to the tables in place, with atomics (a row shared by blocks gets every
   block's term: the sum SGD over the sub-batch applies);
3. `_clear_norms`: the row totals are zeroed for the next sub-batch.

Two launches (not one) because a sub-batch is evaluated where SGD stands after the previous sub-batch,
every block at the same weights, as in the tensor path: all gradients must be read before any update
lands. The result equals the tensor path's update for the same batch and rate (sub-batches of the same
size, the rate decaying across them towards the next step's, the same trust region) up to float32
reassociation; tests/test_word2vec_triton.py checks it on a CPU in Triton's interpreter.

Kernels are compiled on first use, for the interpreter or for the GPU as `TRITON_INTERPRET` says at that
moment (so a test that turns the interpreter on after this module was imported still gets it).
"""

# annotations stay strings, so the kernels' `tl.constexpr` parameters need no triton at import (triton reads
# them as text when it compiles)
from __future__ import annotations

import os
import types

import torch

try:
    import triton
    import triton.language as tl
except ImportError:  # optional: without triton the tensor path trains on the GPU
    triton = None
    tl = None

#: training only (triton): never bundled as remote code, so loading a model needs no triton
#: (hub/remote_code.py)
__training_only__ = True

#: warps per program, and vector components per pass over a block's rows: at the defaults (d 100, block 8,
#: window 5, 20 negatives) compiled for an H100, `_block_grads` takes 128 registers and spills none with
#: (4, 16), 102 with (8, 32), 168 with (4, 32); whole 32 x 128 tiles spilled. bench/gpu_checks.sh
#: word2vec-kernel times the combinations.
NUM_WARPS = 4
CHUNK = 16


def available() -> bool:
    """Whether triton is importable."""
    return triton is not None


def interpreted() -> bool:
    """Whether kernels compiled now would run in Triton's interpreter (`TRITON_INTERPRET=1`: CPU tensors)."""
    knobs = getattr(triton, "knobs", None)
    if knobs is not None:
        return bool(knobs.runtime.interpret)
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes")


def supports(device: torch.device | str) -> bool:
    """Whether the kernel can train tables on `device`: CUDA, or a CPU in the interpreter."""
    kind = torch.device(device).type
    return available() and (kind == "cuda" or (kind == "cpu" and interpreted()))


def _pow2(n: int) -> int:
    """tl.dot needs power-of-two tiles of at least 16."""
    return max(16, triton.next_power_of_2(int(n)))


# one program per block: its gradient rows (g_in: one per window slot, g_out: one per target), their norms
# (n_in / n_out: zero for rows with nothing to add, padding included), its loss, and with TRUST each row's
# norm added to its row id's total. The vector dimension goes in chunks of DC (registers: whole 32 x 128
# tiles spill); the second pass re-reads the block's rows, which the first just brought into the caches.
def _block_grads(
    w_in,
    w_out,
    context,
    pair_mask,
    centres,
    negatives,
    g_in,
    g_out,
    n_in,
    n_out,
    tot_in,
    tot_out,
    loss_out,
    neg_scale,
    U: tl.constexpr,
    B: tl.constexpr,
    K: tl.constexpr,
    D: tl.constexpr,
    UP: tl.constexpr,
    BP: tl.constexpr,
    TP: tl.constexpr,
    DC: tl.constexpr,
    SKIPGRAM: tl.constexpr,
    CBOW_MEAN: tl.constexpr,
    TRUST: tl.constexpr,
):
    blk = tl.program_id(0).to(tl.int64)
    u = tl.arange(0, UP)
    c = tl.arange(0, BP)
    t = tl.arange(0, TP)
    u_ok = u < U
    c_ok = c < B
    t_ok = t < B + K
    pos = t < B
    # ids: the window slots, the block's targets (its B centres, then its K shared negatives)
    ctx = tl.load(context + blk * U + u, mask=u_ok, other=0)
    tgt_c = tl.load(centres + blk * B + t, mask=pos, other=0)
    tgt_n = tl.load(negatives + blk * K + tl.maximum(t - B, 0), mask=t_ok & (t >= B), other=0)
    tgt = tl.where(pos, tgt_c, tgt_n)
    cen = tl.load(centres + blk * B + c, mask=c_ok, other=-1)
    pm = tl.load(
        pair_mask + blk * U * B + u[:, None] * B + c[None, :], mask=u_ok[:, None] & c_ok[None, :], other=0
    ).to(tl.float32)  # (UP, BP): slot u pairs with centre c
    # (BP, TP): centre c trains against target t: its own column, and every shared negative that is not c
    # itself (the C tool skips a negative equal to the centre), each negative weighted neg_scale
    own = (c[:, None] == t[None, :]) & pos[None, :]
    other = (tgt[None, :] != cen[:, None]) & (t[None, :] >= B) & t_ok[None, :]
    target_of = tl.where(own | other, 1.0, 0.0) * c_ok[:, None].to(tl.float32)
    col_scale = tl.where(pos, 1.0, neg_scale)
    label = pos.to(tl.float32)
    if CBOW_MEAN:
        mix = pm / tl.maximum(tl.sum(pm, axis=0), 1.0)[None, :]  # the context mean ...
        back = pm  # ... and gensim's gradient: each context word gets the mean's full error
    else:
        mix = pm  # the context sum ...
        back = pm / tl.maximum(tl.sum(pm, axis=0), 1.0)[None, :]  # ... and the sum's error / count
    # scores: skip-gram (UP, TP), every slot against every target; CBOW (BP, TP), every centre's context
    # mean against every target
    if SKIPGRAM:
        s = tl.zeros((UP, TP), tl.float32)
    else:
        s = tl.zeros((BP, TP), tl.float32)
    for kc in range(0, D, DC):
        k = kc + tl.arange(0, DC)
        k_ok = k < D
        h = tl.load(w_in + ctx[:, None] * D + k[None, :], mask=u_ok[:, None] & k_ok[None, :], other=0.0)
        o = tl.load(w_out + tgt[:, None] * D + k[None, :], mask=t_ok[:, None] & k_ok[None, :], other=0.0)
        if SKIPGRAM:
            s += tl.dot(h, tl.trans(o), input_precision="ieee")
        else:
            x = tl.dot(tl.trans(mix), h, input_precision="ieee")  # (BP, DC)
            s += tl.dot(x, tl.trans(o), input_precision="ieee")
    if SKIPGRAM:  # every pair (slot u -> centre c): the centre's column plus the shared negatives
        wt = tl.dot(pm, target_of, input_precision="ieee") * col_scale[None, :]
    else:  # centres with at least one context word
        wt = target_of * col_scale[None, :] * (tl.sum(pm, axis=0) > 0).to(tl.float32)[:, None]
    coef = (tl.sigmoid(s) - label[None, :]) * wt  # d loss / d score
    # loss: softplus(-score) on the centre columns, softplus(score) on the negatives, weighted
    z = tl.where(pos[None, :], -s, s)
    soft = tl.maximum(z, 0.0) + tl.log(1.0 + tl.exp(-tl.abs(z)))
    tl.store(loss_out + blk, tl.sum(tl.sum(soft * wt, axis=1), axis=0))
    sq_in = tl.zeros((UP,), tl.float32)
    sq_out = tl.zeros((TP,), tl.float32)
    for kc in range(0, D, DC):
        k = kc + tl.arange(0, DC)
        k_ok = k < D
        h = tl.load(w_in + ctx[:, None] * D + k[None, :], mask=u_ok[:, None] & k_ok[None, :], other=0.0)
        o = tl.load(w_out + tgt[:, None] * D + k[None, :], mask=t_ok[:, None] & k_ok[None, :], other=0.0)
        if SKIPGRAM:
            gin = tl.dot(coef, o, input_precision="ieee")
            gout = tl.dot(tl.trans(coef), h, input_precision="ieee")
        else:
            x = tl.dot(tl.trans(mix), h, input_precision="ieee")
            gout = tl.dot(tl.trans(coef), x, input_precision="ieee")
            gx = tl.dot(coef, o, input_precision="ieee")  # (BP, DC) error of each centre's hidden vector
            gin = tl.dot(back, gx, input_precision="ieee")
        tl.store(g_in + blk * U * D + u[:, None] * D + k[None, :], gin, mask=u_ok[:, None] & k_ok[None, :])
        tl.store(
            g_out + blk * (B + K) * D + t[:, None] * D + k[None, :], gout, mask=t_ok[:, None] & k_ok[None, :]
        )
        sq_in += tl.sum(gin * gin, axis=1)
        sq_out += tl.sum(gout * gout, axis=1)
    norm_in = tl.sqrt(sq_in)
    norm_out = tl.sqrt(sq_out)
    tl.store(n_in + blk * U + u, norm_in, mask=u_ok)
    tl.store(n_out + blk * (B + K) + t, norm_out, mask=t_ok)
    if TRUST:  # each row id's summed gradient-row norms (zero rows, padding included, add nothing)
        tl.atomic_add(tot_in + ctx, norm_in, mask=u_ok & (norm_in > 0))
        tl.atomic_add(tot_out + tgt, norm_out, mask=t_ok & (norm_out > 0))


# one program per block: -rate * its gradient rows added to the tables (atomics: rows shared by blocks get
# every block's term), each row's term scaled down where the row's summed norms times the rate exceed bound
def _apply_grads(
    w_in,
    w_out,
    context,
    centres,
    negatives,
    g_in,
    g_out,
    n_in,
    n_out,
    tot_in,
    tot_out,
    rate,
    bound,
    U: tl.constexpr,
    B: tl.constexpr,
    K: tl.constexpr,
    D: tl.constexpr,
    UP: tl.constexpr,
    TP: tl.constexpr,
    DC: tl.constexpr,
    TRUST: tl.constexpr,
):
    blk = tl.program_id(0).to(tl.int64)
    u = tl.arange(0, UP)
    t = tl.arange(0, TP)
    u_ok = u < U
    t_ok = t < B + K
    pos = t < B
    ctx = tl.load(context + blk * U + u, mask=u_ok, other=0)
    tgt_c = tl.load(centres + blk * B + t, mask=pos, other=0)
    tgt_n = tl.load(negatives + blk * K + tl.maximum(t - B, 0), mask=t_ok & (t >= B), other=0)
    tgt = tl.where(pos, tgt_c, tgt_n)
    # rows with a zero gradient (padding, unpaired slots) are left alone: no atomics on them
    a_in = u_ok & (tl.load(n_in + blk * U + u, mask=u_ok, other=0.0) > 0)
    a_out = t_ok & (tl.load(n_out + blk * (B + K) + t, mask=t_ok, other=0.0) > 0)
    step_in = tl.full((UP,), 0.0, tl.float32) - rate
    step_out = tl.full((TP,), 0.0, tl.float32) - rate
    if TRUST:  # rows whose summed steps exceed the bound are scaled down to it (as `_trust_region_`)
        step_in = step_in * (bound / tl.maximum(tl.load(tot_in + ctx, mask=a_in, other=1.0), bound))
        step_out = step_out * (bound / tl.maximum(tl.load(tot_out + tgt, mask=a_out, other=1.0), bound))
    for kc in range(0, D, DC):
        k = kc + tl.arange(0, DC)
        k_ok = k < D
        m_in = a_in[:, None] & k_ok[None, :]
        m_out = a_out[:, None] & k_ok[None, :]
        gin = tl.load(g_in + blk * U * D + u[:, None] * D + k[None, :], mask=m_in, other=0.0)
        gout = tl.load(g_out + blk * (B + K) * D + t[:, None] * D + k[None, :], mask=m_out, other=0.0)
        tl.atomic_add(w_in + ctx[:, None] * D + k[None, :], gin * step_in[:, None], mask=m_in)
        tl.atomic_add(w_out + tgt[:, None] * D + k[None, :], gout * step_out[:, None], mask=m_out)


# one program per block: the row totals its ids touched back to zero
def _clear_norms(
    tot_in,
    tot_out,
    context,
    centres,
    negatives,
    U: tl.constexpr,
    B: tl.constexpr,
    K: tl.constexpr,
    UP: tl.constexpr,
    TP: tl.constexpr,
):
    blk = tl.program_id(0).to(tl.int64)
    u = tl.arange(0, UP)
    t = tl.arange(0, TP)
    u_ok = u < U
    t_ok = t < B + K
    pos = t < B
    ctx = tl.load(context + blk * U + u, mask=u_ok, other=0)
    tgt_c = tl.load(centres + blk * B + t, mask=pos, other=0)
    tgt_n = tl.load(negatives + blk * K + tl.maximum(t - B, 0), mask=t_ok & (t >= B), other=0)
    tgt = tl.where(pos, tgt_c, tgt_n)
    tl.store(tot_in + ctx, tl.full((UP,), 0.0, tl.float32), mask=u_ok)
    tl.store(tot_out + tgt, tl.full((TP,), 0.0, tl.float32), mask=t_ok)


#: compiled kernels by (function, interpreted)
_COMPILED: dict[tuple[str, bool], object] = {}


def _kernel(fn):
    """`fn` jit-compiled for the interpreter or the GPU, whichever `TRITON_INTERPRET` now says."""
    key = (fn.__name__, interpreted())
    if key not in _COMPILED:
        _COMPILED[key] = _interpreted(fn) if key[1] else triton.jit(fn)
    return _COMPILED[key]


def _interpreted(fn):
    """`fn` for Triton's interpreter, even when triton was imported before `TRITON_INTERPRET` was set.

    Triton picks compiled or interpreted when a function is decorated, its own library included, and
    `import torch` imports triton: a test that turns the interpreter on later finds `tl.sum`, `tl.max` or
    `tl.sigmoid` compiled-mode objects that the interpreter refuses to call. The kernel then runs against a
    view of `tl` that hands out those library functions interpreted from their Python source (and
    everything else, the interpreter's patched builtins included, as `tl` has it at the time).
    """
    from triton.runtime.interpreter import InterpretedFunction
    from triton.runtime.jit import JITFunction

    library: dict[str, object] = {}

    class _Lang(types.ModuleType):
        def __getattr__(self, name: str):
            value = getattr(tl, name)
            if not isinstance(value, JITFunction):
                return value
            if name not in library:
                library[name] = InterpretedFunction(value.fn)
            return library[name]

    # the interpreter patches the builtins of the `triton.language` (and `.core`) modules it finds among the
    # kernel's globals for the run, and puts them back after; the library functions patch `.core` again
    # without putting it back, so the kernel must see it too, or compiling afterwards in this process breaks
    namespace = {**fn.__globals__, "tl": _Lang("triton.language"), "_tl": tl, "_tl_core": tl.core}
    clone = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    clone.__annotations__ = dict(fn.__annotations__)
    return InterpretedFunction(clone)


def train_blocks(
    weight_in: torch.Tensor,
    weight_out: torch.Tensor,
    context: torch.Tensor,
    pair_mask: torch.Tensor,
    centres: torch.Tensor,
    negatives: torch.Tensor,
    *,
    skipgram: bool,
    cbow_mean: bool = True,
    neg_scale: float = 1.0,
    chunk_blocks: int = 256,
    learning_rate: float,
    learning_rate_end: float | None = None,
    max_row_step: float | None = None,
) -> torch.Tensor:
    """Train one batch of blocks in place: SGD over sub-batches of `chunk_blocks` blocks, one after the
    other, each at the weights the previous ones left, its rate decaying linearly from `learning_rate`
    towards `learning_rate_end` across the sub-batches, each row's step per sub-batch bounded by
    `max_row_step` (what `modeling_word2vec.negative_sampling_loss` with the same arguments makes one SGD
    step do). Returns the batch loss (float64 scalar on the tables' device, evaluated along the way) and
    never synchronises with the device. Float32 tables only.
    """
    if triton is None:
        raise ImportError("the Triton Word2Vec kernel needs triton: pip install triton")
    for name, table in (("weight_in", weight_in), ("weight_out", weight_out)):
        if table.dtype != torch.float32 or not table.is_contiguous():
            raise ValueError(f"{name} must be a contiguous float32 table, got {table.dtype}")
    if weight_in.shape[1] != weight_out.shape[1]:
        raise ValueError("the two tables must have the same vector size")
    if not learning_rate:
        raise ValueError("train_blocks applies SGD in place: it needs the step's learning_rate")
    dev = weight_in.device
    context, centres, negatives = (x.contiguous() for x in (context, centres, negatives))
    pair_mask = (
        pair_mask.contiguous().view(torch.uint8) if pair_mask.dtype == torch.bool else pair_mask.contiguous()
    )
    nb, U = context.shape
    B, K, D = centres.shape[1], negatives.shape[1], weight_in.shape[1]
    T = B + K
    sizes = dict(U=U, B=B, K=K, D=D, UP=_pow2(U), TP=_pow2(T), DC=CHUNK)
    loss = torch.zeros(max(nb, 1), dtype=torch.float32, device=dev)
    if nb == 0:
        return loss.sum(dtype=torch.float64)
    step = max(1, min(int(chunk_blocks), nb))
    n_sub = -(-nb // step)
    lr = float(learning_rate)
    decay = (
        (float(learning_rate_end) - lr) / (lr * n_sub)
        if learning_rate_end is not None and learning_rate_end != lr
        else 0.0
    )
    trust = bool(max_row_step)
    # one sub-batch's gradient rows and their norms, reused by every sub-batch
    g_in = torch.empty((step, U, D), dtype=torch.float32, device=dev)
    g_out = torch.empty((step, T, D), dtype=torch.float32, device=dev)
    n_in = torch.empty((step, U), dtype=torch.float32, device=dev)
    n_out = torch.empty((step, T), dtype=torch.float32, device=dev)
    # per-row totals of the gradient-row norms (zero between sub-batches); a dummy when there is no bound
    tot_in = torch.zeros(weight_in.shape[0] if trust else 1, dtype=torch.float32, device=dev)
    tot_out = torch.zeros(weight_out.shape[0] if trust else 1, dtype=torch.float32, device=dev)
    grads, apply, clear = _kernel(_block_grads), _kernel(_apply_grads), _kernel(_clear_norms)
    bufs = (g_in, g_out, n_in, n_out, tot_in, tot_out)
    for i, a in enumerate(range(0, nb, step)):
        b = min(a + step, nb)
        grid = (b - a,)
        ids = (context[a:b], centres[a:b], negatives[a:b])
        grads[grid](
            weight_in, weight_out, ids[0], pair_mask[a:b], ids[1], ids[2], *bufs, loss[a:b], float(neg_scale),
            BP=_pow2(B), SKIPGRAM=bool(skipgram), CBOW_MEAN=bool(cbow_mean), TRUST=trust, num_warps=NUM_WARPS,
            **sizes,
        )  # fmt: skip
        rate = lr * (1.0 + decay * i)  # sub-batch i's rate: linear from this step's towards the next one's
        bound = float(max_row_step) / rate if trust else 0.0
        apply[grid](
            weight_in, weight_out, *ids, *bufs, rate, bound, TRUST=trust, num_warps=NUM_WARPS, **sizes
        )  # fmt: skip
        if trust:
            clear[grid](
                tot_in, tot_out, *ids, U=U, B=B, K=K, UP=sizes["UP"], TP=sizes["TP"], num_warps=NUM_WARPS
            )
    return loss.sum(dtype=torch.float64)
    step = max(1, min(int(chunk_blocks), nb))
    n_sub = -(-nb // step)
    lr = float(learning_rate)
    decay = (
        (float(learning_rate_end) - lr) / (lr * n_sub)
        if learning_rate_end is not None and learning_rate_end != lr
        else 0.0
    )
    trust = bool(max_row_step)
    g_in = torch.empty((step, U, D), dtype=torch.float32, device=dev)
    g_out = torch.empty((step, T, D), dtype=torch.float32, device=dev)
    # per-row totals of the gradient-row norms (zero between sub-batches); a dummy when there is no bound
    norm_in = torch.zeros(weight_in.shape[0] if trust else 1, dtype=torch.float32, device=dev)
    norm_out = torch.zeros(weight_out.shape[0] if trust else 1, dtype=torch.float32, device=dev)
    grads, apply, clear = _kernel(_block_grads), _kernel(_apply_grads), _kernel(_clear_norms)
    for i, a in enumerate(range(0, nb, step)):
        b = min(a + step, nb)
        grid = (b - a,)
        ids = (context[a:b], centres[a:b], negatives[a:b])
        grads[grid](
            weight_in, weight_out, ids[0], pair_mask[a:b], ids[1], ids[2], g_in, g_out, norm_in, norm_out,
            loss[a:b], float(neg_scale), BP=_pow2(B), SKIPGRAM=bool(skipgram), CBOW_MEAN=bool(cbow_mean),
            TRUST=trust, num_warps=NUM_WARPS, **sizes,
        )  # fmt: skip
        rate = lr * (1.0 + decay * i)  # sub-batch i's rate: linear from this step's towards the next one's
        bound = float(max_row_step) / rate if trust else 0.0
        apply[grid](
            weight_in, weight_out, *ids, g_in, g_out, norm_in, norm_out, rate, bound, TRUST=trust,
            num_warps=NUM_WARPS, **sizes,
        )  # fmt: skip
        if trust:
            clear[grid](
                norm_in, norm_out, *ids, U=U, B=B, K=K, UP=sizes["UP"], TP=sizes["TP"], num_warps=NUM_WARPS
            )
    return loss.sum(dtype=torch.float64)
