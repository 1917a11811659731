"""The fused Triton Word2Vec kernel (`kernels_triton`) against the tensor path, on a CPU in Triton's
interpreter.

The interpreter runs every program of a launch one after the other in numpy (about 10-20 ms per block and
kernel), so batches here are a few dozen blocks; on a GPU the same kernels run compiled (bench/gpu_checks.sh),
and one test here compiles them for an H100 without one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("triton")

from hf_embeddings import load_corpus  # noqa: E402
from hf_embeddings.models.word2vec import (  # noqa: E402
    FAMILY,
    Word2VecConfig,
    Word2VecForNegativeSampling,
    config_from_corpus,
    kernels_triton,
)
from hf_embeddings.models.word2vec.modeling_word2vec import (  # noqa: E402
    negative_sampling_loss,
    resolve_gpu_kernel,
)
from hf_embeddings.training.fit import fit  # noqa: E402

# the interpreter evaluates sigmoid as 1 / (1 + exp(-x)) in numpy: exp overflows (harmlessly) for very
# negative scores
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")


@pytest.fixture
def interpreter(monkeypatch):
    """Triton's interpreter on: kernels compile for it at their first use under it (kernels_triton)."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert kernels_triton.interpreted() and kernels_triton.supports("cpu")


def _blocks(seed: int, V: int, nb: int, B: int, w: int, K: int):
    g = torch.Generator().manual_seed(seed)
    U = B + 2 * w
    context = torch.randint(0, V, (nb, U), generator=g)
    pair_mask = torch.rand(nb, U, B, generator=g) < 0.5
    centres = torch.randint(0, V, (nb, B), generator=g)
    negatives = torch.randint(0, V, (nb, K), generator=g)
    pair_mask[2] = False  # a block that pairs nothing (padding at a batch's end)
    negatives[0, 0] = centres[0, 1]  # a negative equal to a centre word is skipped for that centre
    context[1, :] = context[1, 0]  # one word in every slot of a block: duplicate rows within a block
    return context, pair_mask, centres, negatives


def _reference_step(win0, wout0, blocks, **kw):
    """The tensor path's update: its sparse gradient, applied by one SGD step with the batch's rate."""
    win, wout = win0.clone().requires_grad_(), wout0.clone().requires_grad_()
    loss = negative_sampling_loss(win, wout, *blocks, **kw)
    loss.backward()
    lr = kw["learning_rate"]
    return loss.item(), win0 - lr * win.grad.to_dense(), wout0 - lr * wout.grad.to_dense()


CASES = {
    # name: (skipgram, cbow_mean, max_row_step, shapes V, d, nb, B, w, K, chunk_blocks)
    "skipgram": (True, True, None, (60, 20, 23, 4, 2, 6, 5)),
    "skipgram-trust-region": (True, True, 0.05, (60, 20, 23, 4, 2, 6, 5)),
    "cbow-mean": (False, True, None, (60, 20, 23, 4, 2, 6, 5)),
    "cbow-sum-trust-region": (False, False, 0.05, (60, 20, 23, 4, 2, 6, 5)),
    # the GPU defaults' tile shapes: d 100 (padded to 128), B 8, window 5, 20 negatives per block
    "skipgram-default-shapes": (True, True, 2.0, (300, 100, 6, 8, 5, 20, 4)),
    "cbow-default-shapes": (False, True, 2.0, (300, 100, 6, 8, 5, 20, 4)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_kernel_update_equals_the_tensor_paths(interpreter, case):
    """Same batch, same rate (decaying across the sub-batches), same trust region: the tables the kernel
    leaves equal the tensor path's update up to float32 reassociation, and so does the loss."""
    skipgram, cbow_mean, tau, (V, d, nb, B, w, K, chunk) = CASES[case]
    blocks = _blocks(0, V, nb, B, w, K)
    g = torch.Generator().manual_seed(3)
    win0 = 0.5 * torch.randn(V, d, generator=g)
    wout0 = 0.3 * torch.randn(V, d, generator=g)
    kw = dict(
        skipgram=skipgram,
        cbow_mean=cbow_mean,
        neg_scale=0.7,
        chunk_blocks=chunk,
        learning_rate=0.2,
        learning_rate_end=0.1,
        max_row_step=tau,
    )
    ref_loss, ref_in, ref_out = _reference_step(win0, wout0, blocks, **kw)
    win, wout = win0.clone(), wout0.clone()
    loss = kernels_triton.train_blocks(win, wout, *blocks, **kw)
    assert loss.dtype == torch.float64 and loss.device == win.device
    moved = max(float((win - win0).abs().max()), float((wout - wout0).abs().max()))
    assert moved > 1e-2  # the batch did move the tables (a no-op kernel would not pass)
    diff = max(float((win - ref_in).abs().max()), float((wout - ref_out).abs().max()))
    assert diff < 1e-5, f"{case}: max |kernel - tensor path| = {diff:.2e}"
    assert float(loss) == pytest.approx(ref_loss, rel=1e-5)
    if tau:  # the bound did bind on some row, so the comparison covers the trust region
        _, free_in, free_out = _reference_step(win0, wout0, blocks, **{**kw, "max_row_step": None})
        assert not torch.allclose(free_in, ref_in, atol=1e-5) or not torch.allclose(
            free_out, ref_out, atol=1e-5
        )


def test_model_trains_through_the_kernel_in_place(interpreter):
    """In training with a rate, `gpu_kernel="triton"` takes the step itself: the tables move in the forward
    pass, the optimiser gets no gradient, and the result is the tensor path's SGD step."""
    cfg = dict(vocab_size=40, vector_size=8, block_negatives=5, window=2, init_scale=4.0)
    blocks = _blocks(1, 40, 9, 4, 2, 5)
    batch = dict(zip(("context", "pair_mask", "centres", "negatives"), blocks))
    ref = Word2VecForNegativeSampling(Word2VecConfig(gpu_kernel="torch", **cfg)).train()
    ours = Word2VecForNegativeSampling(Word2VecConfig(gpu_kernel="triton", **cfg)).train()
    ours.load_state_dict(ref.state_dict())
    ours.word2vec.output_embeddings.weight.data.normal_(0, 0.3)
    ref.load_state_dict(ours.state_dict())
    before = ours.word2vec.embeddings.weight.detach().clone()
    out = ours(**batch, learning_rate=0.1, learning_rate_end=0.05)
    out.loss.backward()
    assert ours.word2vec.embeddings.weight.grad is None  # the step is already taken
    assert not torch.equal(ours.word2vec.embeddings.weight, before)
    loss_ref = ref(**batch, learning_rate=0.1, learning_rate_end=0.05).loss
    loss_ref.backward()
    with torch.no_grad():
        for name in ("embeddings", "output_embeddings"):
            p = getattr(ref.word2vec, name).weight
            p.add_(p.grad.to_dense(), alpha=-0.1)
            assert torch.allclose(getattr(ours.word2vec, name).weight, p, atol=1e-5)
    assert out.loss.item() == pytest.approx(loss_ref.item(), rel=1e-5)
    # evaluation (no rate) is the tensor path's plain loss, whatever the kernel
    ours.eval()
    assert ours(**batch).loss.requires_grad


def test_kernel_choice(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    auto, triton, torch_ = (Word2VecConfig(vocab_size=10, gpu_kernel=k) for k in ("auto", "triton", "torch"))
    assert Word2VecConfig(vocab_size=10).gpu_kernel == "auto"
    assert resolve_gpu_kernel(auto, "cpu") == "torch"  # auto is CUDA only
    assert resolve_gpu_kernel(torch_, "cuda") == "torch"
    assert resolve_gpu_kernel(auto, "cuda") == "triton"
    assert resolve_gpu_kernel(auto, "cuda", torch.float16) == "torch"
    with pytest.raises(ValueError, match="TRITON_INTERPRET"):  # asked for where it cannot run: refused
        resolve_gpu_kernel(triton, "cpu")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert resolve_gpu_kernel(triton, "cpu") == "triton"
    monkeypatch.setattr(kernels_triton, "triton", None)  # as without triton installed
    assert resolve_gpu_kernel(auto, "cuda") == "torch"
    with pytest.raises(ImportError, match="pip install triton"):
        resolve_gpu_kernel(triton, "cuda")
    with pytest.raises(ValueError, match="gpu_kernel"):
        Word2VecConfig(vocab_size=10, gpu_kernel="cuda")


def test_kernel_module_is_training_only(tmp_path):
    """Remote code is inference only: the kernel module (and triton) is never bundled with a model."""
    from hf_embeddings.hub.remote_code import bundle_remote_code

    bundle = bundle_remote_code(FAMILY, tmp_path)
    assert "hf_embeddings.models.word2vec.kernels_triton" in bundle.training_only
    assert not (tmp_path / "kernels_triton.py").exists()
    assert "triton" not in bundle.requirements + bundle.optional_requirements


@pytest.mark.parametrize("skipgram", [True, False], ids=["skipgram", "cbow"])
def test_kernels_compile_for_an_h100(skipgram, monkeypatch):
    """The compiled path, which the interpreter never takes (dot shapes, types, layouts): the kernels build
    for sm_90 at the default shapes with triton's compiler and the ptxas its wheel carries, no GPU needed."""
    import triton
    import triton.language as tl
    from triton.runtime.jit import JITFunction

    if tuple(int(v) for v in triton.__version__.split(".")[:2]) != (3, 7):
        pytest.skip(f"the ahead-of-time compile API used here is triton 3.7's, this is {triton.__version__}")
    if not isinstance(tl.sum, JITFunction):
        pytest.skip("triton was imported with TRITON_INTERPRET=1: its own library is interpreter-only")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    cfg = Word2VecConfig(vocab_size=10)  # d 100, block 8, window 5, 20 negatives: tiles of 32 x 16 floats
    U, B, K = cfg.block_size + 2 * cfg.window, cfg.block_size, cfg.block_negatives
    pow2 = kernels_triton._pow2
    consts = dict(U=U, B=B, K=K, D=cfg.vector_size, UP=pow2(U), BP=pow2(B), TP=pow2(B + K))
    consts.update(DC=kernels_triton.CHUNK, SKIPGRAM=skipgram, CBOW_MEAN=True, TRUST=True)
    types = dict(context="*i64", centres="*i64", negatives="*i64", pair_mask="*u8")
    types.update(neg_scale="fp32", rate="fp32", bound="fp32")
    for fn in (kernels_triton._block_grads, kernels_triton._apply_grads, kernels_triton._clear_norms):
        jitted = triton.jit(fn)
        names = list(jitted.arg_names)
        signature = {n: "constexpr" if n in consts else types.get(n, "*fp32") for n in names}
        constexprs = {(names.index(n),): v for n, v in consts.items() if n in names}
        source = ASTSource(fn=jitted, signature=signature, constexprs=constexprs)
        compiled = triton.compile(
            source, target=GPUTarget("cuda", 90, 32), options={"num_warps": kernels_triton.NUM_WARPS}
        )
        assert compiled.asm["cubin"]


CLUSTERS = [[f"{name}{i}" for i in range(6)] for name in ("ant", "bee", "cow")]


def test_planted_neighbours_are_recovered_through_the_kernel(interpreter, monkeypatch, tmp_path):
    """End to end through fit() with the kernel (interpreted, so small: 64-word blocks, few of them): words
    of a topic cluster end up each other's nearest neighbours, skip-gram and CBOW, and the run lands where
    the tensor path's lands (same seed), epoch losses included."""
    rng = np.random.default_rng(0)
    sentences = [" ".join(rng.choice(CLUSTERS[rng.integers(3)], size=8)) for _ in range(100)]
    corpus = load_corpus(sentences, min_count=1, use_cache=False)
    calls = []
    real = kernels_triton.train_blocks
    monkeypatch.setattr(kernels_triton, "train_blocks", lambda *a, **k: calls.append(1) or real(*a, **k))
    cluster_of = {w: k for k, words in enumerate(CLUSTERS) for w in words}
    options = dict(vector_size=16, window=3, negative=5, sample=0.0, epochs=4, alpha=0.05, min_count=1)
    for arch in ("skipgram", "cbow"):
        runs = {}
        for kernel in ("triton", "torch"):
            cfg = config_from_corpus(
                corpus, architecture=arch, cpu_kernel="torch", gpu_kernel=kernel, block_size=64,
                sub_batch_words=256, **options,
            )  # fmt: skip
            runs[kernel] = fit(
                FAMILY,
                corpus,
                cfg,
                training={"logging_steps": 10**9},
                data_options={"words_per_batch": 600, "dataloader_workers": 0},
                device="cpu",
                seed=0,
                output_dir=tmp_path / arch / kernel,
            )
        ours, ref = runs["triton"], runs["torch"]
        hits = sum(
            cluster_of[n] == cluster_of[w]
            for w in cluster_of
            for n, _ in ours.model.wv.most_similar(w, topn=4)
        )
        assert hits / (4 * len(cluster_of)) >= 0.9, (
            f"{arch}: {hits}/{4 * len(cluster_of)} neighbours in cluster"
        )
        for name in ("embeddings", "output_embeddings"):
            a, b = (getattr(r.model.word2vec, name).weight.detach() for r in (ours, ref))
            diff = float((a - b).abs().max())
            assert diff < 1e-4, f"{arch} {name}: max |triton - torch| after training = {diff:.2e}"
        losses = [[h["epoch_loss_per_item"] for h in r.trainer.epoch_history] for r in (ours, ref)]
        assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    assert len(calls) >= 2 * 4 * 2  # every step of the triton runs went through the kernel
