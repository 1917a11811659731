"""Word2Vec model: input table W (the word vectors) and output table W' trained with negative sampling."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutput
from transformers.utils import ModelOutput

from ...vectors.static_model import StaticEmbeddingHeadMixin, StaticEmbeddingMixin
from ..modeling_base import StrictLoadingMixin
from .configuration_word2vec import Word2VecConfig


@dataclass
class Word2VecTrainingOutput(ModelOutput):
    """`loss` is the SGNS / CBOW-NS loss summed over the batch (SGD on a sum is what gensim does per pair);
    `num_pairs` the number of (input, output) examples it sums over (skip-gram pairs, CBOW rows)."""

    loss: torch.FloatTensor | None = None
    num_pairs: torch.LongTensor | None = None


def _block_weights(pair_mask, centres, negatives, neg_scale, skipgram, dtype):
    """Per-score weights of a chunk of blocks.

    Skip-gram scores are (blocks, U, B+Kn): every window slot u against the B centres and the Kn shared
    negatives; a pair (u, c) weighs 1 on its centre column, and neg_scale on each negative column, summed
    over the pairs of u (a negative equal to the pair's centre word is skipped, as in the C tool).
    CBOW scores are (blocks, B, B+Kn): each centre's context mean against the same targets.
    """
    pm = pair_mask.to(dtype)
    neq = (negatives[:, None, :] != centres[:, :, None]).to(dtype)  # (g, B, Kn)
    if skipgram:
        return torch.cat([pm, torch.bmm(pm, neq).mul_(neg_scale)], dim=2), pm
    has = (pm.sum(1) > 0).to(dtype)  # (g, B) centres with at least one context word
    B = centres.shape[1]
    eye = torch.eye(B, dtype=dtype, device=pm.device)
    return torch.cat([eye * has[:, :, None], neq.mul_(has[:, :, None] * neg_scale)], dim=2), pm


def _signs(B: int, T: int, like: torch.Tensor) -> torch.Tensor:
    """+1 for the centre (positive) columns, -1 for the negatives: loss = softplus(-sign * score)."""
    s = torch.full((T,), -1.0, dtype=like.dtype, device=like.device)
    s[:B] = 1.0
    return s


def reference_negative_sampling_loss(
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
) -> torch.Tensor:
    """Plain-autograd version of the training loss (slow; the definition the fused kernel is tested against).

    A block holds B consecutive centre words (`centres`, (blocks, B)), the window slots around them
    (`context`, (blocks, U)), which slot pairs with which centre (`pair_mask`, (blocks, U, B)) and the Kn
    negatives the block's examples share (`negatives`, (blocks, Kn)), each weighted `neg_scale`.
    Skip-gram: sum over pairs (u -> c) of -log s(w_u.w'_c) - neg_scale * sum_k log s(-w_u.w'_k).
    CBOW: per centre c, the same with w_u replaced by the mean (or sum) of c's context vectors; the
    gradient reaching each context vector is gensim's (the full error for the mean, error/count for the sum).
    """
    B = centres.shape[1]
    pm = pair_mask.to(weight_in.dtype)
    h = weight_in[context]  # (g, U, d)
    o = weight_out[torch.cat([centres, negatives], dim=1)]  # (g, B+Kn, d)
    neq = (negatives[:, None, :] != centres[:, :, None]).to(weight_in.dtype)
    if skipgram:
        pos = nn.functional.softplus(-torch.einsum("gud,gcd->guc", h, o[:, :B]))
        neg = nn.functional.softplus(torch.einsum("gud,gkd->guk", h, o[:, B:]))
        # pair (u, c): its positive term plus the shared negatives (those equal to c skipped)
        per_pair = pos + neg_scale * torch.einsum("guk,gck->guc", neg, neq)
        return (per_pair * pm).sum()
    count = pm.sum(1)  # (g, B)
    total = torch.einsum("guc,gud->gcd", pm, h)
    cnt = count.clamp_min(1)[:, :, None]
    if cbow_mean:
        hidden = total.detach() / cnt + (total - total.detach())
    else:
        hidden = total.detach() + (total - total.detach()) / cnt
    pos = nn.functional.softplus(-(hidden * o[:, :B]).sum(-1))
    neg = nn.functional.softplus(torch.einsum("gcd,gkd->gck", hidden, o[:, B:]))
    per_centre = pos + neg_scale * (neg * neq).sum(-1)
    return (per_centre * (count > 0)).sum()


class _NegativeSamplingLoss(torch.autograd.Function):
    """Fused SGNS / CBOW-NS loss over blocks, with its gradient in closed form.

    The batch is processed in sub-batches of `chunk` blocks. Per sub-batch, forward gathers the rows once
    (the window slots of B consecutive centres overlap, so each input row is read about (B + 2*window) / B
    times instead of 2*window), computes scores, loss and (when a gradient is wanted) the gradient rows
    with a few batched matrix products while the rows are in cache; backward only wraps them as
    uncoalesced sparse COO gradients (one row per block slot: `SparseSGD` adds them with `index_add_`).
    No autograd graph is built over the gathers.

    With `lr` (the learning rate of the SGD step that will apply this gradient), the sub-batches are
    sequential: each is evaluated where SGD would be after the previous ones (their updates are applied
    to the tables in place, and the rows restored bit for bit once the batch is done), so the returned gradient is the sum
    of the sub-batch gradients along that path and one SGD step with `lr` lands where SGD over the
    sub-batches, one after the other, lands. Large batches then train like sub-batch-sized ones.
    """

    @staticmethod
    def forward(
        ctx,
        weight_in,
        weight_out,
        context,
        pair_mask,
        centres,
        negatives,
        neg_scale,
        skipgram,
        cbow_mean,
        chunk,
        lr,
        max_step,
        lr_end=None,
    ):
        need_in, need_out = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        nb, U = context.shape
        B = centres.shape[1]
        targets = torch.cat([centres, negatives], dim=1)
        T = targets.shape[1]
        d = weight_in.shape[1]
        dev, dt = weight_in.device, weight_in.dtype
        sign = _signs(B, T, weight_in)
        label = (sign > 0).to(dt)
        loss = torch.zeros((), dtype=torch.float64, device=dev)
        in_vals = torch.empty((nb, U, d), dtype=dt, device=dev) if need_in else None
        out_vals = torch.empty((nb, T, d), dtype=dt, device=dev) if need_out else None
        sequential = bool(lr) and need_in and need_out
        scratch = (
            torch.zeros(max(weight_in.shape[0], weight_out.shape[0]), dtype=dt, device=dev)
            if max_step and sequential
            else None
        )
        step = max(1, min(chunk, nb))
        done = (nb - 1) // step * step if sequential else 0  # blocks before the last sub-batch
        n_sub = -(-nb // step)
        # the rate decays linearly across the sub-batches, from lr towards the next step's lr_end (as
        # gensim decays it within a job): sub-batch k's gradient is scaled by lr_k / lr, folded into the
        # products' alpha, so that one optimiser step with lr applies lr_k to it
        decay = (lr_end - lr) / (lr * n_sub) if (sequential and lr_end is not None and lr_end != lr) else 0.0
        if done:  # the rows the look-ahead will move, as they are now (put back, bit-exact, at the end)
            saved_in = weight_in.index_select(0, context[:done].reshape(-1))
            saved_out = weight_out.index_select(0, targets[:done].reshape(-1))
        for a in range(0, nb, step):
            b = min(a + step, nb)
            g = b - a
            r = 1.0 + decay * (a // step)
            wt, pm = _block_weights(pair_mask[a:b], centres[a:b], negatives[a:b], neg_scale, skipgram, dt)
            h = weight_in.index_select(0, context[a:b].reshape(-1)).view(g, U, d)
            o = weight_out.index_select(0, targets[a:b].reshape(-1)).view(g, T, d)
            if skipgram:
                x = h
            else:
                count = pm.sum(1).clamp_min_(1)  # (g, B) context words per centre
                mix = pm / count[:, None, :] if cbow_mean else pm
                x = torch.bmm(mix.transpose(1, 2), h)  # (g, B, d) context mean (sum)
            s = torch.bmm(x, o.transpose(1, 2))  # (g, rows, T)
            loss += (nn.functional.softplus(s * -sign) * wt).sum(dtype=torch.float64)
            if not (need_in or need_out):
                continue
            coef = torch.sigmoid(s).sub_(label).mul_(wt)  # d loss / d score
            if need_out:
                _bmm_into(coef.transpose(1, 2), x, out_vals[a:b], r)
            if need_in:
                if skipgram:
                    _bmm_into(coef, o, in_vals[a:b], r)
                else:
                    gx = torch.bmm(coef, o)  # (g, B, d) error of each centre's hidden vector
                    # gensim: each context word gets the full error (mean) or error / count (sum)
                    _bmm_into(pm if cbow_mean else mix / count[:, None, :], gx, in_vals[a:b], r)
            if sequential and max_step:
                _trust_region_(context[a:b].reshape(-1), in_vals[a:b].view(-1, d), scratch, max_step / lr)
                _trust_region_(targets[a:b].reshape(-1), out_vals[a:b].view(-1, d), scratch, max_step / lr)
            if sequential and b < nb:  # (vals already carry lr_k / lr)
                weight_in.index_add_(0, context[a:b].reshape(-1), in_vals[a:b].view(-1, d), alpha=-lr)
                weight_out.index_add_(0, targets[a:b].reshape(-1), out_vals[a:b].view(-1, d), alpha=-lr)
        if done:  # take the look-ahead back (duplicate ids carry identical rows): the optimiser applies it
            weight_in.index_copy_(0, context[:done].reshape(-1), saved_in)
            weight_out.index_copy_(0, targets[:done].reshape(-1), saved_out)
        ctx.grads = (
            context.reshape(-1) if need_in else None,
            in_vals,
            targets.reshape(-1) if need_out else None,
            out_vals,
        )
        ctx.shapes = (weight_in.shape, weight_out.shape)
        return loss.to(dt)

    @staticmethod
    def backward(ctx, grad_loss):
        grads = []
        scale = None if (grad_loss.device.type == "cpu" and float(grad_loss) == 1.0) else grad_loss
        for (idx, vals), shape in zip((ctx.grads[:2], ctx.grads[2:]), ctx.shapes):
            if idx is None:
                grads.append(None)
                continue
            vals = vals.view(-1, shape[1])
            if scale is not None:
                vals = vals * scale.to(vals.dtype)
            # autograd keeps (steals) this tensor as .grad when nothing else references its parts
            grads.append(torch.sparse_coo_tensor(idx.unsqueeze(0), vals, shape, check_invariants=False))
            del vals
        del ctx.grads
        return grads[0], grads[1], None, None, None, None, None, None, None, None, None, None, None


class _KernelStep(torch.autograd.Function):
    """Wraps an in-place SGD step (the CPU kernel, the Triton kernel) as an autograd op: forward runs it
    and returns the batch loss; backward gives no gradient, since the tables have already been updated."""

    @staticmethod
    def forward(ctx, weight_in, weight_out, run):
        with torch.no_grad():
            loss = run()  # summed in float64 by the kernel; a device tensor stays there (no sync)
            return loss if isinstance(loss, torch.Tensor) else torch.tensor(loss, dtype=torch.float64)

    @staticmethod
    def backward(ctx, grad_loss):
        return None, None, None


def _bmm_into(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor, alpha: float) -> None:
    """out = alpha * (a @ b), batched; alpha rides on the product itself (no extra pass over `out`)."""
    if alpha == 1.0:
        torch.bmm(a, b, out=out)
    else:
        torch.baddbmm(out, a, b, beta=0.0, alpha=alpha, out=out)  # beta 0: out's old contents are ignored


def _trust_region_(idx: torch.Tensor, vals: torch.Tensor, scratch: torch.Tensor, bound: float) -> None:
    """Scale, in place, the gradient rows of every row id whose summed row norms exceed `bound` down to it
    (`scratch`: a zero vector over ids, left zero again)."""
    norms = torch.linalg.vector_norm(vals, dim=1)
    scratch.index_add_(0, idx, norms)
    total = scratch[idx]
    scratch.index_fill_(0, idx, 0.0)
    if vals.device.type == "cpu" and not bool((total > bound).any()):
        return  # the common case; on an accelerator always scale rather than synchronise to find out
    vals.mul_((bound / total.clamp_min_(bound)).unsqueeze(1))


def negative_sampling_loss(
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
    learning_rate: float | None = None,
    max_row_step: float | None = None,
    learning_rate_end: float | None = None,
) -> torch.Tensor:
    """Training loss of one batch of blocks (see `reference_negative_sampling_loss` for the definition),
    computed by the fused kernel in sub-batches of `chunk_blocks` blocks; its gradients w.r.t. the two
    tables are sparse (one row per slot). With `learning_rate`, the sub-batches are sequential (see
    `_NegativeSamplingLoss`): the gradient is then the one that makes an SGD step with that rate equal
    to SGD over the sub-batches one after the other; `max_row_step` then bounds each sub-batch's step of
    each row (a trust region: rows whose summed gradient-row norms times the rate exceed it are scaled
    down to it). With `learning_rate_end` too (the next step's rate), the rate decays linearly across the
    sub-batches from `learning_rate` towards it, so a large batch decays as smoothly as small ones."""
    return _NegativeSamplingLoss.apply(
        weight_in,
        weight_out,
        context,
        pair_mask,
        centres,
        negatives,
        float(neg_scale),
        bool(skipgram),
        bool(cbow_mean),
        int(chunk_blocks),
        float(learning_rate) if learning_rate else None,
        float(max_row_step) if max_row_step else None,
        float(learning_rate_end) if (learning_rate and learning_rate_end is not None) else None,
    )


def resolve_gpu_kernel(
    config: Word2VecConfig, device: torch.device | str, dtype: torch.dtype = torch.float32
) -> str:
    """Which kernel the tensor path trains with on `device`: "triton" (the fused kernel of
    `kernels_triton`, float32 tables) or "torch" (`negative_sampling_loss`), per `config.gpu_kernel`.
    "auto" falls back to torch wherever triton cannot run (no triton, not CUDA, other dtypes, remote code,
    which bundles no training kernels); "triton" there is an error, so a benchmark measures what it names."""
    choice = getattr(config, "gpu_kernel", "auto")
    kind = torch.device(device).type
    if choice == "torch" or (choice == "auto" and (kind != "cuda" or dtype != torch.float32)):
        return "torch"
    try:  # training only: imported here, never with the model
        from .kernels_triton import available, supports
    except ImportError:
        if choice == "auto":
            return "torch"
        raise
    if supports(device) and dtype == torch.float32:
        return "triton"
    if choice == "auto":
        return "torch"
    if not available():
        raise ImportError("Word2VecConfig(gpu_kernel='triton') needs triton: pip install triton")
    raise ValueError(
        "gpu_kernel='triton' trains float32 tables on CUDA (or, for tests, on a CPU with "
        f"TRITON_INTERPRET=1); these are {dtype} on {kind}: use gpu_kernel 'auto' or 'torch' there"
    )


#: the output table's key (as a base model's or a head's), absent from folders of imported vectors
_OUTPUT_TABLE = r"(^|\.)output_embeddings\.weight$"


class Word2VecPreTrainedModel(StrictLoadingMixin, PreTrainedModel):
    config_class = Word2VecConfig
    base_model_prefix = "word2vec"
    main_input_name = "input_ids"
    accepts_loss_kwargs = False  # the loss is a sum by design; never rescale it

    def _init_weights(self, module: nn.Module) -> None:
        # input vectors uniform in +-init_scale/d (gensim 4: 1/d; word2vec.c: 0.5/d), output vectors zero
        base = getattr(self, "word2vec", self)
        if module is getattr(base, "embeddings", None):
            bound = getattr(self.config, "init_scale", 0.5) / self.config.vector_size
            init.uniform_(module.weight, -bound, bound)
        elif module is getattr(base, "output_embeddings", None) or module is getattr(
            base, "hs_embeddings", None
        ):
            init.zeros_(module.weight)


class Word2VecModel(StaticEmbeddingMixin, Word2VecPreTrainedModel):
    """Word vectors: `forward(input_ids)` returns W[input_ids]; `model.wv` is the query API.

    Example:
        >>> model = Word2VecModel(Word2VecConfig(vocab_size=10, vector_size=8))
        >>> model(torch.tensor([[4, 5]])).last_hidden_state.shape
        torch.Size([1, 2, 8])
    """

    def __init__(self, config: Word2VecConfig):
        super().__init__(config)
        # sparse gradients: a batch touches a few thousand rows of a (possibly huge) table
        self.embeddings = nn.Embedding(config.vocab_size, config.vector_size, sparse=True)
        self.output_embeddings = nn.Embedding(config.vocab_size, config.vector_size, sparse=True)
        # hierarchical softmax: one vector per inner node of the Huffman tree (n_words - 1 < vocab_size)
        self.hs_embeddings = None
        if getattr(config, "hierarchical_softmax", False):
            self.hs_embeddings = nn.Embedding(config.vocab_size, config.vector_size, sparse=True)
        if getattr(config, "imported_vectors", False):
            # vectors imported from a file that has no output table: not saved, zero on load (`_init_weights`)
            self._keys_to_ignore_on_save = {"output_embeddings.weight"}
            self._keys_to_ignore_on_load_missing = {_OUTPUT_TABLE}
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings = value

    def forward(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None, **kwargs
    ) -> BaseModelOutput:
        hidden = self.embeddings(input_ids)
        if attention_mask is not None:
            hidden = hidden * attention_mask.unsqueeze(-1).to(hidden.dtype)
        return BaseModelOutput(last_hidden_state=hidden)


class Word2VecForNegativeSampling(StaticEmbeddingHeadMixin, Word2VecPreTrainedModel):
    """The training head: skip-gram or CBOW with negative sampling; forward returns the summed loss."""

    def __init__(self, config: Word2VecConfig):
        super().__init__(config)
        if getattr(config, "imported_vectors", False):
            # training fills the output table: from here on the model has two tables to keep, and an imported
            # folder it loads from has none yet (it starts at zero, as in a new model)
            config.imported_vectors = False
            self._keys_to_ignore_on_load_missing = {_OUTPUT_TABLE}
        self.word2vec = Word2VecModel(config)
        self.post_init()

    def forward(
        self,
        context: torch.LongTensor | None = None,
        pair_mask: torch.Tensor | None = None,
        centres: torch.LongTensor | None = None,
        negatives: torch.LongTensor | None = None,
        num_words: torch.Tensor | None = None,
        learning_rate: float | None = None,
        learning_rate_end: float | None = None,
        return_loss: bool = True,
        tokens: torch.Tensor | None = None,
        sentence_ids: torch.Tensor | None = None,
        keep_probs: torch.Tensor | None = None,
        span_seed: torch.Tensor | None = None,
        noise_accept: torch.Tensor | None = None,
        noise_alias: torch.Tensor | None = None,
        hs_codes: torch.Tensor | None = None,
        hs_points: torch.Tensor | None = None,
        hs_lengths: torch.Tensor | None = None,
    ) -> Word2VecTrainingOutput:
        """Train on one batch, in one of two layouts.

        Blocks (`Word2VecBatches`, the tensor path: GPU, or CPU with cpu_kernel="torch"): `centres`
        (blocks, B) consecutive centre words, the window slots around them `context` (blocks, U),
        `pair_mask` (blocks, U, B) and the block's shared `negatives` (blocks, Kn), each weighted
        negative / Kn. `learning_rate` (passed by `EmbeddingTrainer`: the rate of the SGD step that
        follows) makes the sub-batches of `config.sub_batch_words` centre words sequential, so a large
        batch trains like sequential sub-batches; without it the whole batch is evaluated at the current
        weights. On CUDA (`config.gpu_kernel`), the fused Triton kernel of `kernels_triton` takes that same
        step in place instead, and the returned loss carries no gradient.

        Spans (`Word2VecSpans`, a CPU with numba): `tokens` / `sentence_ids` of a stretch of corpus, with
        the per-vocabulary `keep_probs` and alias table. The compiled kernel of `kernels_word2vec`
        subsamples, windows and trains them with gensim's per-example SGD, in place, on torch's thread
        count, the rate going from `learning_rate` to `learning_rate_end` across the span; the returned
        loss carries no gradient for the optimiser to apply (the step is already taken).
        """
        hs = {}
        if self.word2vec.hs_embeddings is not None and tokens is not None:
            if hs_codes is None:
                raise ValueError(
                    "hierarchical softmax needs the Huffman paths (hs_codes/hs_points/hs_lengths) in the batch"
                )
            hs = dict(
                hs_weight=self.word2vec.hs_embeddings.weight,
                hs_codes=hs_codes,
                hs_points=hs_points,
                hs_lengths=hs_lengths,
            )
        if tokens is not None:
            return self._train_span(
                tokens, sentence_ids, keep_probs, noise_accept, noise_alias, span_seed, learning_rate,
                learning_rate_end, hs,
            )  # fmt: skip
        if context is None or pair_mask is None or centres is None or negatives is None:
            raise ValueError(
                "a Word2Vec training batch needs either `tokens` (a span, as Word2VecSpans builds it) or "
                "`context`, `pair_mask`, `centres` and `negatives` (blocks, as Word2VecBatches builds them)"
            )
        skipgram = self.config.architecture == "skipgram"
        loss = self._tensor_path_loss(
            self.word2vec.embeddings.weight, context, pair_mask, centres, negatives, learning_rate, skipgram,
            self.word2vec.hs_embeddings is not None, learning_rate_end,
        )  # fmt: skip
        with torch.no_grad():
            num = pair_mask.sum() if skipgram else pair_mask.any(1).sum()
        return Word2VecTrainingOutput(loss=loss, num_pairs=num)

    def _train_span(
        self, tokens, sentence_ids, keep_probs, accept, alias, seed, learning_rate, learning_rate_end, hs
    ) -> Word2VecTrainingOutput:
        """One span through the compiled CPU kernel (see `forward`)."""
        emb = self.word2vec.embeddings.weight
        where = (
            f"this model is on {emb.device.type} in {emb.dtype}, training={self.training}, "
            f"learning_rate={learning_rate!r}"
        )
        if not (self.training and learning_rate and emb.device.type == "cpu" and emb.dtype == torch.float32):
            raise ValueError(
                "span batches (Word2VecSpans) are trained by the compiled CPU kernel, in training, on float32 "
                f"CPU tables, with the step's learning_rate (EmbeddingTrainer passes it); {where}. "
                "Elsewhere use Word2VecBatches (what build_training_data picks for the device)"
            )
        if keep_probs is None or accept is None or alias is None:
            raise ValueError(
                "a span batch needs keep_probs, noise_accept and noise_alias (see Word2VecSpans)"
            )
        from .kernels_word2vec import train_span

        counted = {}

        def run() -> float:
            loss, counted["n"] = train_span(
                emb,
                self.word2vec.output_embeddings.weight,
                tokens,
                sentence_ids,
                keep_probs,
                accept,
                alias,
                window=self.config.window,
                negative=self.config.negative,
                learning_rate=learning_rate,
                learning_rate_end=learning_rate_end,
                skipgram=self.config.architecture == "skipgram",
                cbow_mean=self.config.cbow_mean,
                shrink_windows=self.config.shrink_windows,
                seed=int(seed) if seed is not None else 0,
                threads=torch.get_num_threads(),
                **hs,
            )
            return loss

        loss = _KernelStep.apply(emb, self.word2vec.output_embeddings.weight, run)
        return Word2VecTrainingOutput(loss=loss, num_pairs=torch.tensor(counted["n"]))

    def _tensor_path_loss(
        self, emb, context, pair_mask, centres, negatives, learning_rate, skipgram, hs, learning_rate_end=None
    ):
        """The batched tensor kernel (GPU, or CPU with cpu_kernel='torch' or without numba); in training on
        CUDA the fused Triton kernel instead, per `config.gpu_kernel` (`resolve_gpu_kernel`)."""
        if hs:
            raise ValueError(
                "hierarchical softmax is trained by the CPU kernel only (numba, cpu_kernel 'auto' or 'numba', "
                f"float32 tables on a CPU, in training); this call is on {emb.device.type} with "
                f"cpu_kernel={self.config.cpu_kernel!r}: use negative sampling there"
            )
        sub = self.config.sub_batch_words or (
            self.config.CPU_SUB_BATCH_WORDS if emb.device.type == "cpu" else self.config.GPU_SUB_BATCH_WORDS
        )
        chunk = max(1, sub // centres.shape[1]) if centres.shape[1] else 1
        out = self.word2vec.output_embeddings.weight
        if (
            self.training
            and learning_rate
            and emb.requires_grad
            and out.requires_grad
            and resolve_gpu_kernel(self.config, emb.device, emb.dtype) == "triton"
        ):
            # the fused kernel applies the sequential sub-batches' SGD in place (the optimiser gets no
            # gradient): the update `negative_sampling_loss` makes one SGD step with `learning_rate` take
            from .kernels_triton import train_blocks

            def run() -> torch.Tensor:
                return train_blocks(
                    emb, out, context, pair_mask, centres, negatives, skipgram=skipgram,
                    cbow_mean=self.config.cbow_mean, neg_scale=self.config.negative / negatives.shape[1],
                    chunk_blocks=chunk, learning_rate=learning_rate, learning_rate_end=learning_rate_end,
                    max_row_step=self.config.max_row_step,
                )  # fmt: skip

            return _KernelStep.apply(emb, out, run)
        return negative_sampling_loss(
            emb,
            self.word2vec.output_embeddings.weight,
            context,
            pair_mask,
            centres,
            negatives,
            skipgram=skipgram,
            cbow_mean=self.config.cbow_mean,
            neg_scale=self.config.negative / negatives.shape[1],
            chunk_blocks=chunk,
            learning_rate=learning_rate if self.training else None,
            max_row_step=self.config.max_row_step,
            learning_rate_end=learning_rate_end if self.training else None,
        )
