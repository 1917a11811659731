"""Word2Vec: batch generation semantics (gensim's), the fused loss kernel, SparseSGD, Trainer integration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import AutoModel, Trainer, TrainingArguments

import hf_embeddings  # noqa: F401  (registers the families with the Auto classes)
from hf_embeddings import load_corpus
from hf_embeddings.models.word2vec import (
    FAMILY,
    Word2VecConfig,
    Word2VecForNegativeSampling,
    Word2VecModel,
    config_from_corpus,
    kernels_word2vec,
)
from hf_embeddings.models.word2vec.data_word2vec import (
    PAD_CONTEXT_ID,
    Word2VecBatches,
    alias_table,
    huffman_tree,
    keep_probabilities,
    negative_distribution,
)
from hf_embeddings.models.word2vec.modeling_word2vec import (
    negative_sampling_loss,
    reference_negative_sampling_loss,
)
from hf_embeddings.training.fit import fit
from hf_embeddings.training.trainer import EmbeddingTrainer, SparseSGD

# ------------------------------------------------------------------------------------------ fixtures
CLUSTERS = [[f"{name}{i}" for i in range(8)] for name in ("ant", "bee", "cow", "dog")]


def planted_sentences(n: int = 500, length: int = 10, seed: int = 0) -> list[str]:
    """Sentences whose words all come from one of four topic clusters: a word's true neighbours are its
    cluster mates."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        cluster = CLUSTERS[rng.integers(len(CLUSTERS))]
        out.append(" ".join(rng.choice(cluster, size=length)))
    return out


needs_numba = pytest.mark.skipif(not kernels_word2vec.available(), reason="numba is not installed")


@pytest.fixture(scope="module")
def planted_corpus():
    return load_corpus(planted_sentences(), min_count=1, use_cache=False)


def train(corpus, tmp_path, *, seed=0, workers=0, words_per_batch=256, persistent=False, **config):
    options = dict(vector_size=16, window=3, negative=5, sample=0.0, epochs=8, alpha=0.05, min_count=1)
    options.update(config)
    result = fit(
        FAMILY,
        corpus,
        config_from_corpus(corpus, **options),
        training={"dataloader_persistent_workers": persistent, "logging_steps": 10**9},
        data_options={"words_per_batch": words_per_batch, "dataloader_workers": workers},
        device="cpu",
        seed=seed,
        output_dir=tmp_path / "out",
    )
    return result.model, result.trainer


# ---------------------------------------------------------------------------- training end to end
@pytest.mark.parametrize("kernel", ["torch", pytest.param("numba", marks=needs_numba)])
@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_planted_clusters_are_recovered_and_loss_decreases(planted_corpus, tmp_path, architecture, kernel):
    model, trainer = train(planted_corpus, tmp_path, architecture=architecture, cpu_kernel=kernel)
    wv = model.wv
    cluster_of = {w: k for k, words in enumerate(CLUSTERS) for w in words}
    hits = total = 0
    for word in cluster_of:
        for neighbour, _ in wv.most_similar(word, topn=5):
            hits += cluster_of[neighbour] == cluster_of[word]
            total += 1
    assert hits / total >= 0.95, f"{architecture}: only {hits}/{total} nearest neighbours in the same cluster"
    assert trainer._takes_lr  # the Trainer hands the step's learning rate to the model (sub-batches)
    losses = [h["epoch_loss_per_item"] for h in trainer.epoch_history]
    assert len(losses) == 8 and all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0] * 0.9
    assert all(b <= a * 1.02 for a, b in zip(losses, losses[1:])), losses
    assert all(h["words_per_second"] > 0 for h in trainer.epoch_history)


@pytest.mark.parametrize("kernel", ["torch", pytest.param("numba", marks=needs_numba)])
def test_same_seed_same_weights_with_or_without_a_dataloader_worker(
    planted_corpus, tmp_path, kernel, one_thread
):
    # bit-exact only on one thread: the numba kernel is Hogwild with several, and torch's reductions may
    # split differently by thread count on another CPU
    opts = dict(seed=3, epochs=2, cpu_kernel=kernel)
    a, _ = train(planted_corpus, tmp_path / "a", **opts)
    b, _ = train(planted_corpus, tmp_path / "b", workers=1, **opts)
    # a persistent worker lives across epochs: it must still see each new epoch's random draws
    p, _ = train(planted_corpus, tmp_path / "p", workers=1, persistent=True, **opts)
    c, _ = train(planted_corpus, tmp_path / "c", **{**opts, "seed": 4})
    for name in ("embeddings", "output_embeddings"):
        wa = getattr(a.word2vec, name).weight
        assert torch.equal(wa, getattr(b.word2vec, name).weight)
        assert torch.equal(wa, getattr(p.word2vec, name).weight)
        assert not torch.equal(wa, getattr(c.word2vec, name).weight)


def test_sub_batch_size_follows_the_device_unless_set(planted_corpus, tmp_path):
    """sub_batch_words=None is the CPU's 1024 on a CPU (same weights as asking for it), and the size
    matters: much smaller sub-batches see each other's updates more often and land elsewhere."""
    assert Word2VecConfig(vocab_size=10).sub_batch_words is None
    opts = dict(seed=5, epochs=1, words_per_batch=4096, cpu_kernel="torch")
    auto, _ = train(planted_corpus, tmp_path / "auto", **opts)
    cpu, _ = train(
        planted_corpus, tmp_path / "cpu", sub_batch_words=Word2VecConfig.CPU_SUB_BATCH_WORDS, **opts
    )
    small, _ = train(planted_corpus, tmp_path / "small", sub_batch_words=64, **opts)
    w = auto.word2vec.embeddings.weight
    assert torch.equal(w, cpu.word2vec.embeddings.weight)
    assert not torch.equal(w, small.word2vec.embeddings.weight)
    with pytest.raises(ValueError, match="sub_batch_words"):
        Word2VecConfig(vocab_size=10, sub_batch_words=0)


def test_save_and_load_round_trip(planted_corpus, tmp_path):
    model, _ = train(planted_corpus, tmp_path, epochs=1)
    model.save_pretrained(tmp_path / "head")
    head = Word2VecForNegativeSampling.from_pretrained(tmp_path / "head")
    base_dir = tmp_path / "base"
    model.word2vec.save_pretrained(base_dir)
    base = Word2VecModel.from_pretrained(base_dir)
    auto = AutoModel.from_pretrained(base_dir)
    assert type(auto) is Word2VecModel
    w = model.word2vec.embeddings.weight
    for other in (head.word2vec, base, auto):
        assert torch.equal(other.embeddings.weight, w)
        assert torch.equal(other.output_embeddings.weight, model.word2vec.output_embeddings.weight)
    for key in ("vocab_size", "vector_size", "architecture", "window", "negative", "block_negatives"):
        assert getattr(auto.config, key) == getattr(model.config, key)


# ------------------------------------------------------------------------------- batch generation
def test_keep_probabilities_are_gensims():
    gensim_w2v = pytest.importorskip("gensim.models.word2vec")
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(300)]
    counts = np.sort(rng.zipf(1.3, size=300).clip(1, 10**6))[::-1].astype(np.int64)
    model = gensim_w2v.Word2Vec(sample=1e-3, min_count=1)
    model.build_vocab_from_freq(dict(zip(words, counts.tolist())))
    theirs = np.array([model.wv.get_vecattr(w, "sample_int") for w in words], dtype=np.float64) / (2**32 - 1)
    ours = keep_probabilities(np.r_[np.zeros(4, np.int64), counts], 1e-3, 4)
    assert np.all(ours[:4] == 0)
    np.testing.assert_allclose(ours[4:], theirs, rtol=1e-6, atol=1e-9)
    assert ours[4] < 0.2 and ours[-1] == 1.0  # the test exercises both regimes


def _batches(corpus, epoch=0, **kw):
    options = dict(
        architecture="skipgram", window=5, negative=5, sample=1e-3, ns_exponent=0.75, words_per_batch=4096
    )
    options.update(kw)
    ds = Word2VecBatches(corpus, **options)
    ds.set_epoch(epoch)
    return ds, [ds[i] for i in range(len(ds))]


@pytest.fixture(scope="module")
def zipf_corpus():
    rng = np.random.default_rng(1)
    vocab = [f"t{i}" for i in range(400)]
    p = 1.0 / np.arange(1, 401) ** 1.1
    p /= p.sum()
    sents = [" ".join(rng.choice(vocab, size=rng.integers(5, 40), p=p)) for _ in range(3000)]
    return load_corpus(sents, min_count=1, use_cache=False)


def test_empirical_keep_rate_matches(zipf_corpus):
    counts = zipf_corpus.tokenizer.word_counts
    keep = keep_probabilities(counts, 1e-3, zipf_corpus.tokenizer.num_special_tokens)
    kept = np.zeros(len(counts))
    for epoch in range(3):
        _, batches = _batches(zipf_corpus, epoch=epoch)
        for b in batches:
            ids = b["centres"].reshape(-1)
            kept += np.bincount(ids[ids != PAD_CONTEXT_ID].numpy(), minlength=len(counts))
    seen = counts * 3
    for i in np.argsort(-counts)[:30]:  # the frequent (subsampled) words
        n, p = seen[i], keep[i]
        assert p < 1
        assert abs(kept[i] - n * p) <= 5 * math.sqrt(n * p * (1 - p)) + 1, (i, kept[i], n * p)
    rare = counts < 0.5 * np.sort(counts)[-40]
    rare[: zipf_corpus.tokenizer.num_special_tokens] = False
    rare &= keep == 1.0
    assert np.array_equal(kept[rare], seen[rare])  # never-subsampled words are all kept


def test_negatives_follow_unigram_power(zipf_corpus):
    counts = zipf_corpus.tokenizer.word_counts
    ns = zipf_corpus.tokenizer.num_special_tokens
    probs = negative_distribution(counts, 0.75, ns)
    np.testing.assert_allclose(probs[ns:], counts[ns:] ** 0.75 / (counts[ns:] ** 0.75).sum(), rtol=1e-12)
    accept, alias = alias_table(probs)
    n = len(probs)
    implied = accept.copy()
    np.add.at(implied, alias, 1.0 - accept)
    np.testing.assert_allclose(implied / n, probs, atol=1e-12)
    ds, _ = _batches(zipf_corpus)
    g = torch.Generator().manual_seed(0)
    draws = ds.sample_negatives((2_000_000,), g).numpy()
    freq = np.bincount(draws, minlength=n)
    assert freq[:ns].sum() == 0
    expected = probs * len(draws)
    ok = expected >= 20
    chi2 = (((freq - expected) ** 2)[ok] / expected[ok]).sum()
    dof = ok.sum() - 1
    assert chi2 < dof + 6 * math.sqrt(2 * dof), (chi2, dof)
    top = np.argsort(-probs)[:20]
    assert np.max(np.abs(freq[top] / expected[top] - 1)) < 0.03


def test_dynamic_window_distances():
    w = 5
    rng = np.random.default_rng(2)
    # long sentences of distinct-enough words; no subsampling, so every position is a centre
    sents = [" ".join(f"x{j}" for j in rng.integers(0, 50, size=2000)) for _ in range(20)]
    corpus = load_corpus(sents, min_count=1, use_cache=False)
    ds, batches = _batches(corpus, sample=0.0, window=w)
    B = ds.block_size
    dist = np.abs(np.arange(B + 2 * w)[:, None] - w - np.arange(B)[None, :])
    hist = np.zeros(w + 1)
    centres = 0
    for b in batches:
        pm = b["pair_mask"].numpy()
        hist += np.bincount(np.broadcast_to(dist, pm.shape)[pm], minlength=w + 1)
        centres += int((b["centres"] != PAD_CONTEXT_ID).sum())
    assert hist[0] == 0
    # a centre's shrunk window is w - U{0..w-1}: distance k is inside with probability (w - k + 1) / w,
    # on both sides (sentence and batch edges remove a fraction ~ 2w / 2000 of the pairs)
    per_centre = hist[1:] / centres
    expected = 2 * (w - np.arange(1, w + 1) + 1) / w
    np.testing.assert_allclose(per_centre, expected, rtol=0.03)
    # pairs never cross sentences
    b = batches[0]
    assert b["pair_mask"].dtype == torch.bool and b["context"].shape[1] == B + 2 * w


def test_pairs_stay_inside_sentences():
    corpus = load_corpus(["a b c", "d e", "f", "g h i j"], min_count=1, use_cache=False)
    ds, (batch,) = _batches(corpus, sample=0.0, window=3, words_per_batch=64)
    tok = corpus.tokenizer
    sentence_of = {
        tok.convert_tokens_to_ids(w): k
        for k, s in enumerate(["a b c", "d e", "f", "g h i j"])
        for w in s.split()
    }
    pm, ctx, cen = batch["pair_mask"], batch["context"], batch["centres"]
    pairs = set()
    for blk, u, c in pm.nonzero().tolist():
        x, y = int(ctx[blk, u]), int(cen[blk, c])
        assert sentence_of[x] == sentence_of[y]
        pairs.add((x, y))
    assert len(pairs) <= 2 * 3 + 2 + 12


# ------------------------------------------------------------------------------------ the kernel
@pytest.mark.parametrize("skipgram", [True, False])
@pytest.mark.parametrize("cbow_mean", [True, False])
def test_fused_kernel_matches_autograd_reference(skipgram, cbow_mean):
    torch.manual_seed(0)
    V, d, nb, B, w, K = 40, 6, 23, 4, 2, 3
    U = B + 2 * w
    context = torch.randint(0, V, (nb, U))
    pair_mask = torch.rand(nb, U, B) < 0.5
    pair_mask[2] = False
    centres = torch.randint(0, V, (nb, B))
    negatives = torch.randint(0, V, (nb, K))
    negatives[0, 0] = centres[0, 1]  # a negative equal to a centre word is skipped for that centre
    grads = []
    for fn, extra in ((negative_sampling_loss, {"chunk_blocks": 5}), (reference_negative_sampling_loss, {})):
        # scores stay below 20, where torch's softplus (the reference) switches to its linear branch
        win = (
            0.5 * torch.randn(V, d, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        ).requires_grad_()
        wout = (
            0.5 * torch.randn(V, d, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
        ).requires_grad_()
        loss = fn(
            win,
            wout,
            context,
            pair_mask,
            centres,
            negatives,
            skipgram=skipgram,
            cbow_mean=cbow_mean,
            neg_scale=0.6,
            **extra,
        )
        (loss * 1.5).backward()
        dense = [p.grad.to_dense() if p.grad.is_sparse else p.grad for p in (win, wout)]
        grads.append((loss.detach(), *dense))
    for ours, ref in zip(grads[0], grads[1]):
        torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)


def _random_blocks(seed, V=40, nb=23, B=4, w=2, K=3):
    g = torch.Generator().manual_seed(seed)
    U = B + 2 * w
    return (
        torch.randint(0, V, (nb, U), generator=g),
        torch.rand(nb, U, B, generator=g) < 0.5,
        torch.randint(0, V, (nb, B), generator=g),
        torch.randint(0, V, (nb, K), generator=g),
    )


@pytest.mark.parametrize("lr_end", [None, 0.04], ids=["constant-rate", "rate-decays-in-batch"])
@pytest.mark.parametrize("skipgram", [True, False])
def test_sequential_sub_batches_are_sgd_over_sub_batches(skipgram, lr_end):
    V, d, lr = 40, 6, 0.1
    blocks = _random_blocks(0, V=V)
    g = torch.Generator().manual_seed(3)
    win0 = torch.randn(V, d, dtype=torch.float64, generator=g)
    wout0 = 0.3 * torch.randn(V, d, dtype=torch.float64, generator=g)
    win, wout = win0.clone().requires_grad_(), wout0.clone().requires_grad_()
    negative_sampling_loss(
        win, wout, *blocks, skipgram=skipgram, chunk_blocks=5, learning_rate=lr, learning_rate_end=lr_end
    ).backward()
    # the look-ahead updates were taken back: the weights are bit-identical until the optimiser steps
    assert torch.equal(win.detach(), win0) and torch.equal(wout.detach(), wout0)
    step_in, step_out = win0 - lr * win.grad.to_dense(), wout0 - lr * wout.grad.to_dense()
    ref_in, ref_out = win0.clone(), wout0.clone()
    starts = range(0, blocks[0].shape[0], 5)
    for k, a in enumerate(starts):
        # sub-batch k of K at lr + (lr_end - lr) k / K: linear from this step's rate to the next one's
        rate = lr if lr_end is None else lr + (lr_end - lr) * k / len(starts)
        x, y = ref_in.clone().requires_grad_(), ref_out.clone().requires_grad_()
        reference_negative_sampling_loss(x, y, *(t[a : a + 5] for t in blocks), skipgram=skipgram).backward()
        ref_in, ref_out = ref_in - rate * x.grad, ref_out - rate * y.grad
    torch.testing.assert_close(step_in, ref_in, rtol=0, atol=1e-12)
    torch.testing.assert_close(step_out, ref_out, rtol=0, atol=1e-12)


def test_trust_region_bounds_each_rows_step():
    V, d, lr, tau = 40, 6, 0.5, 0.05
    blocks = _random_blocks(1, V=V, nb=10)
    g = torch.Generator().manual_seed(4)
    win = torch.randn(V, d, generator=g).requires_grad_()
    wout = torch.randn(V, d, generator=g).requires_grad_()
    kw = dict(skipgram=True, chunk_blocks=100, learning_rate=lr)
    negative_sampling_loss(win, wout, *blocks, max_row_step=tau, **kw).backward()
    free_in, free_out = win.grad, wout.grad
    win.grad = wout.grad = None
    negative_sampling_loss(win, wout, *blocks, **kw).backward()
    for bounded, free in ((free_in, win.grad), (free_out, wout.grad)):
        step = (lr * bounded.to_dense()).norm(dim=1)
        assert step.max() <= tau * (1 + 1e-5)
        unbounded = (lr * free.to_dense()).norm(dim=1)
        assert unbounded.max() > 2 * tau  # the bound did bind
        small = (lr * free.coalesce().to_dense()).norm(dim=1) < tau / 10
        # rows far below the bound whose occurrences are few are untouched
        untouched = small & (torch.bincount(free._indices()[0], minlength=V) == 1)
        assert torch.equal(bounded.to_dense()[untouched], free.to_dense()[untouched])


def test_kernel_gradients_are_uncoalesced_sparse():
    cfg = Word2VecConfig(vocab_size=30, vector_size=4)
    model = Word2VecForNegativeSampling(cfg)
    ctx = torch.randint(4, 30, (3, 8))
    pm = torch.rand(3, 8, 4) < 0.5
    out = model(
        context=ctx,
        pair_mask=pm,
        centres=torch.randint(4, 30, (3, 4)),
        negatives=torch.randint(4, 30, (3, 5)),
    )
    out.loss.backward()
    g = model.word2vec.embeddings.weight.grad
    assert g.is_sparse and not g.is_coalesced() and g._values().shape == (24, 4)


# --------------------------------------------------------------------------------------- SparseSGD
def test_sparse_sgd_applies_duplicate_rows():
    p = torch.nn.Parameter(torch.zeros(5, 2))
    idx = torch.tensor([[1, 3, 1, 1]])
    vals = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    p.grad = torch.sparse_coo_tensor(idx, vals, (5, 2), check_invariants=True)
    SparseSGD([p], lr=0.5).step()
    expected = torch.zeros(5, 2)
    expected[1] = -0.5 * torch.tensor([13.0, 16.0])
    expected[3] = -0.5 * torch.tensor([3.0, 4.0])
    assert torch.equal(p.data, expected)
    q = torch.nn.Parameter(torch.ones(2, 2))
    q.grad = torch.full((2, 2), 2.0)
    SparseSGD([q], lr=0.25).step()  # dense gradients: plain SGD
    assert torch.equal(q.data, torch.full((2, 2), 0.5))


def test_sparse_sgd_row_trust_region_and_cap():
    idx = torch.tensor([[0, 0, 0, 0, 2]])
    vals = torch.tensor([[3.0, 4.0]] * 4 + [[0.3, 0.4]])  # row 0: 4 x norm 5; row 2: norm 0.5
    p = torch.nn.Parameter(torch.zeros(3, 2))
    p.grad = torch.sparse_coo_tensor(idx, vals, (3, 2), check_invariants=True)
    SparseSGD([p], lr=0.1, max_row_step=1.0).step()
    # row 0 would move lr * 20 = 2 > 1: scaled to 1; row 2 moves 0.05 < 1: untouched
    torch.testing.assert_close(p.data[0], torch.tensor([-0.6, -0.8]))
    torch.testing.assert_close(p.data[2], torch.tensor([-0.03, -0.04]))
    p2 = torch.nn.Parameter(torch.zeros(3, 2))
    p2.grad = torch.sparse_coo_tensor(idx, vals, (3, 2), check_invariants=True)
    SparseSGD([p2], lr=0.1, max_row_updates=2).step()
    torch.testing.assert_close(p2.data[0], torch.tensor([-0.6, -0.8]))  # 4 occurrences counted as 2
    torch.testing.assert_close(p2.data[2], torch.tensor([-0.03, -0.04]))


# ------------------------------------------------------------- the Trainer's private hooks we override
def _trainer_with_sparse_grads(tmp_path, max_grad_norm):
    torch.manual_seed(0)
    model = Word2VecForNegativeSampling(Word2VecConfig(vocab_size=12, vector_size=3))
    args = TrainingArguments(
        output_dir=str(tmp_path), use_cpu=True, report_to="none", max_grad_norm=max_grad_norm
    )
    trainer = EmbeddingTrainer(model=model, args=args)
    emb = model.word2vec.embeddings.weight
    emb.grad = torch.sparse_coo_tensor(
        torch.tensor([[1, 1, 4]]),
        torch.tensor([[3.0, 0, 0], [0, 4, 0], [0, 0, 12]]),
        emb.shape,
        check_invariants=True,
    )
    return trainer, model, emb


def test_trainer_hooks_exist():
    # pinned private API: EmbeddingTrainer overrides these to support sparse gradients
    assert callable(getattr(Trainer, "_clip_grad_norm", None))
    assert callable(getattr(Trainer, "_get_grad_norm", None))


def test_sparse_aware_clip_grad_norm(tmp_path):
    trainer, model, emb = _trainer_with_sparse_grads(tmp_path, max_grad_norm=1.0)
    norm = trainer._clip_grad_norm(model)
    assert norm == pytest.approx(13.0)  # duplicates summed first: |(3, 4, 0)| and |(0, 0, 12)|
    assert emb.grad.is_sparse
    assert emb.grad.coalesce().to_dense().norm().item() == pytest.approx(1.0, rel=1e-5)
    assert trainer._get_grad_norm(model) is None  # too costly to compute on sparse gradients
    assert trainer._get_grad_norm(model, grad_norm=2.5) == 2.5


def test_sparse_aware_grad_norm_without_clipping(tmp_path):
    trainer, model, emb = _trainer_with_sparse_grads(tmp_path, max_grad_norm=0.0)
    before = emb.grad.coalesce().to_dense().clone()
    assert trainer._clip_grad_norm(model) == pytest.approx(13.0)
    assert torch.equal(emb.grad.coalesce().to_dense(), before)
    model.word2vec.embeddings.weight.grad = None
    model.word2vec.output_embeddings.weight.grad = torch.ones(12, 3)  # dense: the stock path
    assert float(trainer._get_grad_norm(model)) == pytest.approx(6.0)


# ---------------------------------------------------------------------------- numba CPU kernel
def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def gensim_reference(w_in, w_out, tokens, sentences, *, window, lr, lr_end, skipgram, cbow_mean=True,
                     noise=None, negative=0, w_hs=None, paths=None):  # fmt: skip
    """word2vec.c's / gensim's loop in float64 numpy for a span with no subsampling and full windows:
    centres in order, each centre's context words in order (skip-gram) or their mean / sum (CBOW); per
    example the Huffman path (`paths`: id -> (inner nodes, bits)), then with `negative` the positive
    target and `negative` draws of the single noise word `noise`. Returns (tables after, loss, examples)."""
    e_in, e_out = w_in.double().numpy().copy(), w_out.double().numpy().copy()
    e_hs = None if w_hs is None else w_hs.double().numpy().copy()
    n, loss, count = len(tokens), 0.0, 0

    def example(h, centre, alpha):
        nonlocal loss
        targets = [] if paths is None else [(e_hs, node, 1 - bit) for node, bit in zip(*paths[centre])]
        if negative:
            targets += [(e_out, centre, 1)] + [(e_out, noise, 0)] * negative
        err = np.zeros_like(h)
        for table, t, label in targets:
            f = h @ table[t]
            loss += -np.log(_sigmoid(f) if label else 1 - _sigmoid(f))
            g = (label - _sigmoid(f)) * alpha
            err += g * table[t]
            table[t] += g * h
        return err

    for i in range(n):
        alpha = lr + (lr_end - lr) * i / n
        ctx = [j for j in range(max(i - window, 0), min(i + window + 1, n)) if j != i]
        ctx = [j for j in ctx if sentences[j] == sentences[i]]
        if skipgram:
            for j in ctx:
                e_in[tokens[j]] += example(e_in[tokens[j]].copy(), tokens[i], alpha)
                count += 1
        elif ctx:
            total = sum(e_in[tokens[j]] for j in ctx)
            err = example(total / len(ctx) if cbow_mean else total, tokens[i], alpha)
            for j in ctx:
                e_in[tokens[j]] += err if cbow_mean else err / len(ctx)
            count += 1
    return e_in, e_out, e_hs, loss, count


def _single_noise_word(vocab: int, word: int) -> tuple[np.ndarray, np.ndarray]:
    """An alias table that always draws `word`."""
    accept = np.zeros(vocab)
    accept[word] = 1.0
    return accept, np.full(vocab, word)


def _run_span(w_in, w_out, tokens, sentences, *, keep=None, noise=None, **kw):
    vocab = w_in.shape[0]
    accept, alias = _single_noise_word(vocab, vocab - 1) if noise is None else noise
    kw = {"window": 2, "shrink_windows": False, "threads": 1, "seed": 0, "skipgram": True, **kw}
    return kernels_word2vec.train_span(
        w_in,
        w_out,
        np.asarray(tokens, np.int32),
        np.asarray(sentences, np.int32),
        np.ones(vocab) if keep is None else keep,
        accept,
        alias,
        **kw,
    )


@needs_numba
@pytest.mark.parametrize("architecture", ["skipgram", "cbow_mean", "cbow_sum"])
def test_numba_kernel_is_gensims_loop(architecture):
    """A span of two sentences, no subsampling, full windows, a noise distribution that always draws
    word 9 (absent from the span): the kernel's in-place updates, summed loss and example count are those
    of gensim's loop written out in numpy, with the rate decaying linearly across the span, windows
    stopping at the sentence boundary, and CBOW-sum sharing its error out over the context words."""
    rng = np.random.default_rng(0)
    w_in = torch.tensor(rng.normal(0, 0.3, (10, 4)), dtype=torch.float32)
    w_out = torch.tensor(rng.normal(0, 0.3, (10, 4)), dtype=torch.float32)
    tokens, sentences = [4, 5, 6, 4, 7, 5, 6, 8], [0, 0, 0, 0, 0, 1, 1, 1]
    opts = dict(skipgram=architecture == "skipgram", cbow_mean=architecture != "cbow_sum")
    e_in, e_out, _, expected_loss, expected_n = gensim_reference(
        w_in, w_out, tokens, sentences, window=2, lr=0.1, lr_end=0.02, noise=9, negative=3, **opts
    )
    a_in, a_out = w_in.clone(), w_out.clone()
    loss, n = _run_span(
        a_in, a_out, tokens, sentences, negative=3, learning_rate=0.1, learning_rate_end=0.02, **opts
    )
    assert n == expected_n == (20 if opts["skipgram"] else 8)
    np.testing.assert_allclose(a_in.numpy(), e_in, atol=1e-6)
    np.testing.assert_allclose(a_out.numpy(), e_out, atol=1e-6)
    assert loss == pytest.approx(expected_loss, rel=1e-6)


@needs_numba
def test_numba_kernel_skips_saturated_scores_like_max_exp():
    """A score beyond +-6 gives no update (word2vec.c / gensim MAX_EXP), but its loss still counts, exactly."""
    w_in = torch.zeros(4, 2)
    w_out = torch.zeros(4, 2)
    w_in[1] = w_in[2] = w_out[1] = w_out[2] = torch.tensor([2.0, 3.0])  # every score is 13
    before = (w_in.clone(), w_out.clone())
    # pair (2 -> 1): its noise draw (1) is its target, skipped; pair (1 -> 2): one negative, word 1
    loss, n = _run_span(
        w_in, w_out, [1, 2], [0, 0], window=1, negative=1, learning_rate=0.5, noise=_single_noise_word(4, 1)
    )
    assert n == 2
    assert torch.equal(w_in, before[0]) and torch.equal(w_out, before[1])
    assert loss == pytest.approx(
        2 * math.log1p(math.exp(-13.0)) + 13.0 + math.log1p(math.exp(-13.0)), rel=1e-12
    )


@needs_numba
def test_sigmoid_and_loss_table_interpolation_is_accurate():
    """The kernel's interpolated sigmoid and -log sigmoid are within 3e-7 of the exact values on [-6, 6]."""
    table = kernels_word2vec.sigmoid_loss_table().astype(np.float64)
    f = np.linspace(-6, 6, 200_001)[:-1]
    x = (f + 6) * (kernels_word2vec.TABLE_SIZE / 12)
    i = np.minimum(x.astype(int), kernels_word2vec.TABLE_SIZE - 1)
    r = x - i
    assert np.abs(table[i, 0] + r * table[i, 1] - _sigmoid(f)).max() < 3e-7
    assert np.abs(table[i, 2] + r * table[i, 3] - np.logaddexp(0, -f)).max() < 3e-7


@needs_numba
def test_numba_kernel_windows_and_chunks():
    """Example counts (learning rate 0, so nothing changes): a full window gives each word every other
    word within `window` in its sentence, and windows stop at chunk edges; a shrunk window is uniform in
    1..window (mean window + 1 examples per word in skip-gram); one word per sentence gives no examples."""
    w_in, w_out = torch.zeros(6, 3), torch.zeros(6, 3)
    n_words, w = 10_000, 5
    tokens = np.random.default_rng(0).integers(1, 5, n_words)
    one_sentence = np.zeros(n_words, np.int32)
    run = dict(negative=1, learning_rate=0.0, window=w)
    _, full = _run_span(w_in, w_out, tokens, one_sentence, **run)
    chunks = -(-n_words // kernels_word2vec.CHUNK_WORDS)
    assert full == 2 * w * n_words - chunks * w * (w + 1)
    _, small_chunks = _run_span(w_in, w_out, tokens, one_sentence, chunk_words=100, **run)
    assert small_chunks == 2 * w * n_words - 100 * w * (w + 1)
    _, shrunk = _run_span(w_in, w_out, tokens, one_sentence, shrink_windows=True, **run)
    assert shrunk / n_words == pytest.approx(w + 1, abs=0.1)
    _, cbow = _run_span(w_in, w_out, tokens, one_sentence, shrink_windows=True, skipgram=False, **run)
    assert cbow == n_words
    _, none = _run_span(w_in, w_out, tokens, np.arange(n_words), **run)
    assert none == 0
    assert torch.equal(w_in, torch.zeros(6, 3))


@needs_numba
def test_numba_kernel_subsamples_with_the_keep_probability():
    """Each position is kept with its word's probability: in CBOW with no window across sentences of one
    word... a word-per-sentence span gives no examples, so count examples of a single sentence instead:
    with window 1 and no shrinking, every kept word but the ends is one CBOW example."""
    w_in, w_out = torch.zeros(4, 3), torch.zeros(4, 3)
    n_words = 200_000
    tokens = np.where(np.arange(n_words) % 2 == 0, 1, 2)
    keep = np.array([0.0, 0.25, 1.0, 0.0])
    _, n = _run_span(
        w_in, w_out, tokens, np.zeros(n_words), keep=keep, window=1, negative=1, learning_rate=0.0,
        skipgram=False, chunk_words=n_words,
    )  # fmt: skip
    assert (n + 2) / n_words == pytest.approx(0.5 * 0.25 + 0.5, abs=0.004)


@needs_numba
def test_numba_noise_sampler_follows_the_alias_table():
    probs = np.array([0.0, 0.5, 0.25, 0.125, 0.0625, 0.0625])
    accept, alias = alias_table(probs)
    draws = kernels_word2vec.draw_noise(accept, alias, 400_000, seed=7)
    freq = np.bincount(draws, minlength=len(probs)) / len(draws)
    assert freq[0] == 0.0  # zero-probability ids (specials) are never drawn
    np.testing.assert_allclose(freq, probs, atol=0.003)
    again = kernels_word2vec.draw_noise(accept, alias, 1000, seed=7)
    assert np.array_equal(again, draws[:1000])
    assert not np.array_equal(kernels_word2vec.draw_noise(accept, alias, 1000, seed=8), again)


# ---------------------------------------------------------------------------- hierarchical softmax
def test_huffman_tree_is_optimal_and_prefix_free():
    import heapq

    rng = np.random.default_rng(0)
    counts = np.r_[[0, 0, 5, 0], np.sort(rng.integers(1, 1000, 60))[::-1]]  # 4 specials, 60 words
    codes, points, lengths = huffman_tree(counts, 4)
    assert lengths[:4].tolist() == [0, 0, 0, 0]  # specials have no path
    words = range(4, len(counts))
    strings = ["".join(map(str, codes[w, : lengths[w]])) for w in words]
    assert len(set(strings)) == 60 and all(lengths[w] > 0 for w in words)
    assert not any(a != b and b.startswith(a) for a in strings for b in strings)  # prefix-free
    assert sum(2.0 ** -lengths[w] for w in words) == pytest.approx(1.0)  # a full binary tree
    heap = [int(c) for c in counts[4:]]
    heapq.heapify(heap)
    optimal = 0
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        optimal += a + b
        heapq.heappush(heap, a + b)
    assert sum(int(counts[w]) * int(lengths[w]) for w in words) == optimal  # Huffman-optimal cost
    assert all(points[w, 0] == 58 for w in words)  # the root (inner node n_words - 2) comes first
    # the same code prefix means the same inner nodes
    for w in words:
        for v in words:
            k = 0
            while k < min(lengths[w], lengths[v]) and codes[w, k] == codes[v, k]:
                k += 1
            assert np.array_equal(
                points[w, : min(k + 1, lengths[w], lengths[v])],
                points[v, : min(k + 1, lengths[w], lengths[v])],
            )
    assert points[4:, :].max() <= 58


@needs_numba
@pytest.mark.parametrize("negative", [0, 2])
def test_hierarchical_softmax_update_follows_the_path(negative):
    """Hierarchical softmax (alone, or with negative sampling): for each inner node n on the centre's
    path with bit b, g = (1 - b - sigmoid(h.v_n)) * lr; v_n += g h; the input row gets the sum of the
    g v_n (old v_n) of the path and of the negative-sampling targets: gensim's loop in numpy."""
    rng = np.random.default_rng(1)
    counts = np.array([0, 0, 0, 0, 50, 30, 10, 5, 5, 1])
    codes, points, lengths = huffman_tree(counts, 4)
    w_in = torch.tensor(rng.normal(0, 0.5, (10, 3)), dtype=torch.float32)
    w_hs = torch.tensor(rng.normal(0, 0.5, (10, 3)), dtype=torch.float32)
    w_out = torch.tensor(rng.normal(0, 0.5, (10, 3)), dtype=torch.float32)
    tokens, sentences = [5, 7, 4, 8, 7], [0, 0, 0, 0, 0]
    paths = {w: (points[w, : lengths[w]], codes[w, : lengths[w]]) for w in range(10)}
    e_in, e_out, e_hs, expected, expected_n = gensim_reference(
        w_in, w_out, tokens, sentences, window=2, lr=0.2, lr_end=0.2, skipgram=True, noise=9,
        negative=negative, w_hs=w_hs, paths=paths,
    )  # fmt: skip
    a_in, a_out, a_hs = w_in.clone(), w_out.clone(), w_hs.clone()
    loss, n = _run_span(
        a_in, a_out, tokens, sentences, negative=negative, learning_rate=0.2, hs_weight=a_hs,
        hs_codes=torch.from_numpy(codes), hs_points=torch.from_numpy(points), hs_lengths=torch.from_numpy(lengths),
    )  # fmt: skip
    assert n == expected_n == 14
    np.testing.assert_allclose(a_hs.numpy(), e_hs, atol=1e-6)
    np.testing.assert_allclose(a_in.numpy(), e_in, atol=1e-6)
    np.testing.assert_allclose(a_out.numpy(), e_out, atol=1e-6)
    assert loss == pytest.approx(expected, rel=1e-6)
    if negative == 0:  # no negative sampling, no output-table update
        assert torch.equal(a_out, w_out)


@needs_numba
@pytest.mark.parametrize("negative", [0, 5])
def test_hierarchical_softmax_learns_the_planted_clusters(planted_corpus, tmp_path, negative):
    model, trainer = train(planted_corpus, tmp_path, hierarchical_softmax=True, negative=negative)
    cluster_of = {w: k for k, words in enumerate(CLUSTERS) for w in words}
    hits = sum(
        cluster_of[n] == cluster_of[w] for w in cluster_of for n, _ in model.wv.most_similar(w, topn=5)
    )
    assert hits / (5 * len(cluster_of)) >= 0.9
    assert model.word2vec.hs_embeddings.weight.abs().sum() > 0
    losses = [h["epoch_loss_per_item"] for h in trainer.epoch_history]
    assert losses[-1] < losses[0]


def test_hierarchical_softmax_needs_the_cpu_kernel(planted_corpus, tmp_path):
    with pytest.raises(ValueError, match="hierarchical softmax is trained by the CPU kernel"):
        train(planted_corpus, tmp_path, hierarchical_softmax=True, cpu_kernel="torch", epochs=1)
    with pytest.raises(ValueError, match="negative=0 needs hierarchical_softmax"):
        Word2VecConfig(vocab_size=10, negative=0)


def test_initialisation_scale():
    """Input vectors uniform in +-init_scale/d (0.5: word2vec.c, the default; 1: gensim 4), outputs zero."""
    torch.manual_seed(0)
    for scale in (0.5, 1.0):
        model = Word2VecForNegativeSampling(Word2VecConfig(vocab_size=2000, vector_size=16, init_scale=scale))
        w = model.word2vec.embeddings.weight
        assert w.abs().max() <= scale / 16 and w.abs().max() > 0.95 * scale / 16
        assert torch.count_nonzero(model.word2vec.output_embeddings.weight) == 0
    with pytest.raises(ValueError, match="init_scale"):
        Word2VecConfig(vocab_size=10, init_scale=0)


@needs_numba
def test_span_batches_outside_cpu_training_get_a_clear_error(planted_corpus):
    """A span (Word2VecSpans) is trained in place by the CPU kernel: out of training, or without the
    step's learning rate, there is nothing it can do, and the error says what to use instead."""
    cfg = config_from_corpus(planted_corpus, vector_size=8, window=2, sample=0.0)
    model = Word2VecForNegativeSampling(cfg)
    data = FAMILY.build_training_data(planted_corpus, cfg, words_per_batch=64)
    assert type(data.train_dataset).__name__ == "Word2VecSpans"
    batch = data.train_dataset[0]
    model.eval()
    with pytest.raises(ValueError, match="trained by the compiled CPU kernel.*training=False"):
        model(**batch, learning_rate=0.01)
    model.train()
    with pytest.raises(ValueError, match="learning_rate=None"):
        model(**batch)
    with pytest.raises(ValueError, match="needs either `tokens`"):
        model(num_words=batch["num_words"])
    before = model.word2vec.embeddings.weight.clone()
    out = model(**batch, learning_rate=0.05, learning_rate_end=0.04)
    assert out.num_pairs > 0 and torch.isfinite(out.loss) and out.loss.dtype == torch.float64
    assert not torch.equal(before, model.word2vec.embeddings.weight)  # the step was taken in place
