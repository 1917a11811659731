"""GloVe: co-occurrence counting vs a brute-force count, chunked/spilled == in-memory, the loss and glove.c's
AdaGrad step by hand, training on planted structure, save/load, GloVe text import/export and the CLI."""

from __future__ import annotations

import random
from collections import defaultdict

import numpy as np
import pytest
import torch

import hf_embeddings  # noqa: F401  (registers the families with the Auto classes)
from hf_embeddings import load_corpus
from hf_embeddings.api import load, train
from hf_embeddings.cli import main
from hf_embeddings.errors import FormatError, HFEmbeddingsError
from hf_embeddings.hub.convert import export_vectors, import_vectors
from hf_embeddings.models import glove as glove_family
from hf_embeddings.models.glove import (
    COOCCURRENCE_FILE,
    GloVeAdaGrad,
    GloVeConfig,
    GloVeEntries,
    GloVeForWeightedLeastSquares,
    GloVeModel,
    count_cooccurrences,
    glove_loss,
    load_cooccurrence,
)
from hf_embeddings.models.glove.modeling_glove import reference_glove_loss, weighting
from hf_embeddings.vectors.formats import read_glove_format


# ------------------------------------------------------------------------------------------ co-occurrence
def _brute_force(corpus, window, symmetric, distance_weighting):
    """cooccur.c, literally: OOV words skipped (no position), window reset per line, 1/d weights."""
    counts = defaultdict(float)
    for sentence in corpus.iter_sentences():
        kept = [int(t) for t in sentence if t >= corpus.tokenizer.num_special_tokens]
        for j, w2 in enumerate(kept):
            for k in range(max(0, j - window), j):
                weight = 1.0 / (j - k) if distance_weighting else 1.0
                counts[kept[k], w2] += weight
                if symmetric:
                    counts[w2, kept[k]] += weight
    return counts


def _as_dict(cooc):
    return {(int(r), int(c)): float(v) for r, c, v in zip(cooc.rows, cooc.cols, cooc.values)}


@pytest.fixture(scope="module")
def small_corpus():
    """Zipf-ish words, ~35% of tokens out of vocabulary (rare words), lines of 0..24 words (empty ones too)."""
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(250):
        words = [
            f"w{rng.zipf(1.6) % 30}" if rng.random() < 0.65 else f"rare{rng.integers(5000)}"
            for _ in range(int(rng.integers(0, 25)))
        ]
        lines.append(" ".join(words))
    return load_corpus(lines, min_count=4, use_cache=False)


@pytest.mark.parametrize("window", [1, 2, 5, 10])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("distance_weighting", [True, False])
def test_counts_match_brute_force(small_corpus, window, symmetric, distance_weighting):
    assert (np.asarray(small_corpus.ids) == 0).mean() > 0.2  # the OOV path is exercised
    cooc = count_cooccurrences(
        small_corpus, window_size=window, symmetric=symmetric, distance_weighting=distance_weighting
    )
    expected = _brute_force(small_corpus, window, symmetric, distance_weighting)
    got = _as_dict(cooc)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == np.float32(value), key
    assert cooc.values.dtype == np.float32 and cooc.rows.dtype == cooc.cols.dtype == np.int32
    order = cooc.rows.astype(np.int64) * cooc.vocab_size + cooc.cols
    assert np.all(np.diff(order) > 0)  # row-major, no duplicates
    if symmetric:
        x = cooc.to_scipy()
        assert (x != x.T).nnz == 0


def test_semantics_on_a_hand_example():
    corpus = load_corpus(["a b zz a", "b a", "a"], min_count=2, use_cache=False)  # zz: OOV
    tok = corpus.tokenizer
    a, b = tok.convert_tokens_to_ids(["a", "b"])
    left = _as_dict(count_cooccurrences(corpus, window_size=2, symmetric=False))
    # line 1 without zz is "a b a": (a,b) d=1, (b,a) d=1, (a,a) d=2; line 2: (b,a) d=1; no pair across lines
    assert left == {(a, b): 1.0, (b, a): 2.0, (a, a): 0.5}
    sym = _as_dict(count_cooccurrences(corpus, window_size=2, symmetric=True))
    assert sym == {(a, b): 3.0, (b, a): 3.0, (a, a): 1.0}  # a word next to itself counts twice
    edge = _as_dict(count_cooccurrences(corpus, window_size=1, symmetric=False))
    assert edge == {(a, b): 1.0, (b, a): 2.0}  # distance 2 is outside a window of 1


def test_spilled_counting_equals_in_memory(small_corpus, tmp_path):
    whole = count_cooccurrences(small_corpus, window_size=5)
    stats = {}
    # ~16-token chunks and a budget of a few kB: every block is spilled, files merged pairwise
    tiny = count_cooccurrences(small_corpus, window_size=5, memory=2e-6, tmp_dir=tmp_path, stats=stats)
    assert (
        stats["chunks"] > 50
        and stats["spills"] > 50
        and stats["merges"] > 50
        and stats["exact_integer_weights"]
    )
    for name in ("rows", "cols", "values"):
        assert np.array_equal(getattr(whole, name), getattr(tiny, name)), name
    assert list(tmp_path.iterdir()) == []  # spill files are cleaned up
    assert whole.num_tokens == tiny.num_tokens == int((np.asarray(small_corpus.ids) >= 4).sum())


def test_cooccurrence_file_round_trip_and_errors(small_corpus, tmp_path):
    cooc = count_cooccurrences(small_corpus, window_size=3, symmetric=False)
    path = cooc.save(tmp_path / "c.npz")
    back = load_cooccurrence(path)
    assert back.settings() == cooc.settings() and back.vocab_size == cooc.vocab_size
    for name in ("rows", "cols", "values"):
        assert np.array_equal(getattr(back, name), getattr(cooc, name))
    (tmp_path / "bad.npz").write_bytes(b"not a zip file")
    with pytest.raises(FormatError, match="bad.npz"):
        load_cooccurrence(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="window_size"):
        count_cooccurrences(small_corpus, window_size=0)


# ------------------------------------------------------------------------------------------ loss, AdaGrad
def test_weighting_function():
    x = torch.tensor([1.0, 5.0, 10.0, 50.0])
    assert torch.allclose(weighting(x, 10.0, 0.75), torch.tensor([0.1**0.75, 0.5**0.75, 1.0, 1.0]))


def test_loss_and_gradients_match_hand_computation():
    g = torch.Generator().manual_seed(0)
    V, d = 7, 3
    w, wc = torch.randn(V, d, generator=g), torch.randn(V, d, generator=g)
    b, bc = torch.randn(V, 1, generator=g), torch.randn(V, 1, generator=g)
    rows, cols = torch.tensor([4, 5, 4, 6]), torch.tensor([5, 4, 6, 6])
    x = torch.tensor([3.0, 3.0, 0.5, 200.0])
    x_max, alpha = 10.0, 0.75
    by_hand = 0.0
    for i, j, xij in zip(rows.tolist(), cols.tolist(), x.tolist()):
        f = min(1.0, (xij / x_max) ** alpha)
        diff = (
            sum(w[i, k].item() * wc[j, k].item() for k in range(d))
            + b[i, 0].item()
            + bc[j, 0].item()
            - np.log(xij)
        )
        by_hand += 0.5 * f * diff * diff  # glove.c's cost
    args = (rows, cols, x.log(), weighting(x, x_max, alpha))
    params = [t.clone().requires_grad_() for t in (w, wc, b, bc)]
    fused = glove_loss(*params, *args)
    assert fused.item() == pytest.approx(by_hand, rel=1e-5)
    fused.backward()
    ref_params = [t.clone().requires_grad_() for t in (w, wc, b, bc)]
    ref = reference_glove_loss(*ref_params, *args)
    assert ref.item() == pytest.approx(by_hand, rel=1e-5)
    ref.backward()
    for p, q in zip(params, ref_params):
        assert p.grad.is_sparse
        torch.testing.assert_close(p.grad.to_dense(), q.grad, rtol=1e-5, atol=1e-6)


def _glove_c_steps(W, Wc, b, bc, entries, lr, x_max, alpha, fresh=False):
    """glove.c's inner loop (float64), one entry at a time; gradsq starts at 1 and sums (lr * grad)^2.
    `fresh`: add the square before dividing (GloVeAdaGrad's default order) instead of after (glove.c)."""
    W, Wc, b, bc = (t.astype(np.float64).copy() for t in (W, Wc, b, bc))
    gW, gWc, gb, gbc = np.ones_like(W), np.ones_like(Wc), np.ones_like(b), np.ones_like(bc)
    for i, j, x in entries:
        diff = W[i] @ Wc[j] + b[i] + bc[j] - np.log(x)
        fdiff = (diff if x > x_max else (x / x_max) ** alpha * diff) * lr
        updates = (
            (W, gW, i, fdiff * Wc[j]),
            (Wc, gWc, j, fdiff * W[i]),
            (b, gb, i, fdiff),
            (bc, gbc, j, fdiff),
        )
        for table, gradsq, row, u in updates:
            if fresh:
                gradsq[row] += u * u
                table[row] -= u / np.sqrt(gradsq[row])
            else:
                table[row] -= u / np.sqrt(gradsq[row])
                gradsq[row] += u * u
    return W, Wc, b, bc


@pytest.mark.parametrize("mode", ["stale", "fresh"])
@pytest.mark.parametrize("batched", [False, True])
def test_adagrad_reproduces_glove_c(mode, batched):
    """One entry per step is glove.c's loop exactly ("stale"; "fresh" adds the square first); a batch whose
    entries touch distinct rows is the same as one entry per step."""
    torch.manual_seed(0)
    config = GloVeConfig(vocab_size=12, vector_size=5, x_max=10.0)
    model = GloVeForWeightedLeastSquares(config)
    g = model.glove
    tables = (g.embeddings.weight, g.context_embeddings.weight, g.biases.weight, g.context_biases.weight)
    start = [t.detach().numpy().copy() for t in tables]
    entries = [(4, 7, 3.0), (5, 8, 25.0), (6, 9, 0.5), (7, 10, 12.0), (8, 11, 1.0)]  # distinct rows and cols
    opt = GloVeAdaGrad(model.parameters(), lr=0.05, mode=mode)
    groups = [entries] if batched else [[e] for e in entries]
    for _ in range(3):
        for group in groups:
            x = torch.tensor([e[2] for e in group])
            out = model(
                rows=torch.tensor([e[0] for e in group]),
                cols=torch.tensor([e[1] for e in group]),
                log_values=x.log(),
                weights=weighting(x, config.x_max, config.alpha),
            )
            out.loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    expected = _glove_c_steps(*start, entries * 3, 0.05, config.x_max, config.alpha, fresh=mode == "fresh")
    for e, t in zip(expected, tables):
        np.testing.assert_allclose(t.detach().numpy(), e, rtol=1e-5, atol=1e-7)


def test_fresh_adagrad_bounds_busy_rows():
    """n entries of one row in a step: "stale" moves it n glove.c steps, "fresh" at most ~sqrt(n)."""
    moves = {}
    for mode in ("stale", "fresh"):
        p = torch.nn.Parameter(torch.zeros(3, 1))
        opt = GloVeAdaGrad([p], lr=0.05, mode=mode)
        n = 400
        p.grad = torch.sparse_coo_tensor(
            torch.full((1, n), 2), torch.full((n, 1), -20.0), (3, 1), check_invariants=True
        )
        opt.step()
        moves[mode] = p[2, 0].item()
    assert moves["stale"] == pytest.approx(400 * 0.05 * 20.0)  # n full steps against gradsq = 1
    assert moves["fresh"] == pytest.approx(400 * 1.0 / np.sqrt(1 + 400 * 1.0))  # sum u / sqrt(1 + sum u^2)
    assert moves["fresh"] < np.sqrt(400)


def test_init_is_glove_c_uniform():
    torch.manual_seed(0)
    model = GloVeModel(GloVeConfig(vocab_size=500, vector_size=20))
    for t in model.parameters():
        assert t.abs().max() <= 0.5 / 20 and t.abs().max() > 0.4 / 20


def test_entries_dataset_is_a_seeded_permutation(small_corpus):
    cooc = count_cooccurrences(small_corpus, window_size=3)
    ds = GloVeEntries(cooc, x_max=10.0, alpha=0.75, entries_per_batch=64, seed=3)
    epoch0 = torch.cat([ds[k]["rows"] * cooc.vocab_size + ds[k]["cols"] for k in range(len(ds))])
    assert sorted(epoch0.tolist()) == sorted(
        (cooc.rows.astype(np.int64) * cooc.vocab_size + cooc.cols).tolist()
    )
    again = GloVeEntries(cooc, x_max=10.0, alpha=0.75, entries_per_batch=64, seed=3)
    assert torch.equal(again[0]["rows"], ds[0]["rows"])
    ds.set_epoch(1)
    assert not torch.equal(ds.order(), again.order())


# ------------------------------------------------------------------------------------------ training
TOPICS = [[f"{name}{i}" for i in range(6)] for name in ("sun", "car", "tea", "dog")]


def _topic_corpus(n_lines=300, seed=0):
    """Each line is about one topic; 1 word in 10 comes from another topic (so X also has weak cross pairs)."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n_lines):
        topic = rng.randrange(len(TOPICS))
        words = [rng.choice(TOPICS[topic] if rng.random() < 0.9 else rng.choice(TOPICS)) for _ in range(12)]
        lines.append(" ".join(words))
    return lines


@pytest.fixture(scope="module")
def trained_topics(tmp_path_factory):
    root = tmp_path_factory.mktemp("glove-topics")
    with pytest.MonkeyPatch.context() as m:
        m.setenv("HF_EMBEDDINGS_CACHE", str(root / "cache"))
        result = train(
            "glove",
            _topic_corpus(),
            root / "model",
            config={
                "vector_size": 10,
                "window_size": 5,
                "x_max": 10.0,
                "epochs": 40,
                "entries_per_batch": 64,
                "min_count": 1,
            },
            device="cpu",
            show_progress=False,
            seed=0,
        )
    return result


def test_training_lowers_loss_and_recovers_topics(trained_topics):
    losses = [h["epoch_loss_per_item"] for h in trained_topics.epoch_history]
    assert len(losses) == 40 and losses[-1] < 0.2 * losses[0]
    model = trained_topics.model
    for topic in TOPICS:
        for word in topic:
            neighbours = [w for w, _ in model.wv.most_similar(word, topn=3)]
            assert all(w[:3] == word[:3] for w in neighbours), (word, neighbours)


def test_saved_folder_round_trip(trained_topics):
    from transformers import AutoConfig, AutoModel

    folder = trained_topics.output_dir
    assert AutoConfig.from_pretrained(folder).model_type == "hfe_glove"
    auto = AutoModel.from_pretrained(folder)
    assert isinstance(auto, GloVeModel)
    for name, p in trained_topics.model.state_dict().items():
        assert torch.equal(auto.state_dict()[name], p), name
    model, tok = load(folder)
    assert model.wv.index_to_key == trained_topics.model.wv.index_to_key
    np.testing.assert_array_equal(model.wv.vectors, trained_topics.model.wv.vectors)
    # the combined table (W + W~) is what the query API and forward() return
    ids = torch.tensor([tok.convert_tokens_to_ids(["sun0", "car1"])])
    table = model.embeddings.weight + model.context_embeddings.weight
    torch.testing.assert_close(model(ids).last_hidden_state[0], table[ids[0]])
    np.testing.assert_array_equal(model.wv["sun0"], table[ids[0, 0]].detach().numpy())
    # the co-occurrence matrix travels with the model, and training can resume from it without counting
    cooc = load_cooccurrence(folder)
    assert (folder / COOCCURRENCE_FILE).is_file() and cooc.window_size == 5 and cooc.vocab_size == len(tok)
    data = glove_family.build_training_data(None, model.config, cooccurrence=folder)
    assert data.train_dataset.nnz == cooc.nnz


@pytest.mark.parametrize("combine", ["sum", "word"])
def test_combine_and_table_refresh(combine):
    torch.manual_seed(0)
    tok = load_corpus(["a b"], min_count=1, use_cache=False).tokenizer
    model = GloVeModel(GloVeConfig(vocab_size=len(tok), vector_size=4, combine=combine)).attach_tokenizer(tok)
    a = tok.convert_tokens_to_ids("a")
    expected = model.embeddings.weight[a] + (model.context_embeddings.weight[a] if combine == "sum" else 0)
    np.testing.assert_array_equal(model.wv["a"], expected.detach().numpy())
    before = model.wv["a"].copy()
    with torch.no_grad():
        model.context_embeddings.weight.add_(1.0)  # an optimiser step in place: the query cache must follow
    np.testing.assert_allclose(model.wv["a"], before + (1.0 if combine == "sum" else 0.0))
    with pytest.raises(ValueError, match="combine"):
        GloVeConfig(combine="mean")


def test_corpus_cache_counts_once(tmp_path, monkeypatch):
    calls = []
    real = glove_family.count_cooccurrences

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(glove_family, "count_cooccurrences", counting)
    corpus = load_corpus(_topic_corpus(50), min_count=1)  # cached corpus (the test's own cache folder)
    config = glove_family.config_from_corpus(corpus, window_size=4)
    first = glove_family.build_training_data(corpus, config)
    second = glove_family.build_training_data(corpus, config)
    assert len(calls) == 1 and first.train_dataset.nnz == second.train_dataset.nnz
    glove_family.build_training_data(corpus, glove_family.config_from_corpus(corpus, window_size=3))
    assert len(calls) == 2  # other settings, another matrix
    with pytest.raises(HFEmbeddingsError, match="ids"):
        glove_family.build_training_data(
            corpus, GloVeConfig(vocab_size=5), cooccurrence=real(corpus, window_size=2)
        )


def test_counting_progress_follows_the_progress_switch(tmp_path, capsys):
    """Counting is the slow silent step on a large corpus: a bar when training shows progress, none when
    quiet; the bar does not change the counts."""
    from hf_embeddings.training.fit import fit

    corpus = load_corpus(_topic_corpus(50), min_count=1, cache_dir=tmp_path)
    quiet = count_cooccurrences(corpus, window_size=3)
    assert "counting co-occurrences" not in capsys.readouterr().err
    shown = count_cooccurrences(corpus, window_size=3, show_progress=True)
    assert "counting co-occurrences" in capsys.readouterr().err
    assert np.array_equal(shown.values, quiet.values) and np.array_equal(shown.cols, quiet.cols)
    opts = {"vector_size": 4, "epochs": 1, "window_size": 2}
    fit("glove", corpus, opts, device="cpu", show_progress=False)
    assert "counting co-occurrences" not in capsys.readouterr().err
    fit("glove", corpus, {**opts, "window_size": 4}, device="cpu", show_progress=True)  # a new matrix
    assert "counting co-occurrences" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ files and CLI
def test_glove_text_export_import_round_trip(trained_topics, tmp_path):
    folder = trained_topics.output_dir
    exported = tmp_path / "vectors.txt"
    export_vectors(folder, exported, fmt="glove")
    words, vectors = read_glove_format(exported)
    assert words == trained_topics.model.wv.index_to_key
    np.testing.assert_array_equal(vectors, trained_topics.model.wv.vectors)
    import_vectors(exported, tmp_path / "imported", fmt="glove", model="glove")
    imported, _ = load(tmp_path / "imported")
    assert isinstance(imported, GloVeModel)
    np.testing.assert_array_equal(imported.wv.vectors, vectors)
    export_vectors(tmp_path / "imported", tmp_path / "again.txt", fmt="glove")
    assert (tmp_path / "again.txt").read_bytes() == exported.read_bytes()


@pytest.mark.parametrize(
    ("content", "message", "line"),
    [
        ("a 1 2 3\nb 1 2\n", "ragged row", 2),
        ("a 1 2 3\nb 1 x 3\n", "non-numeric value", 2),
        ("a 1 2 3\nb 1 2 3\na 4 5 6\n", "duplicate", 3),
    ],
)
def test_bad_glove_files(tmp_path, content, message, line):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(FormatError, match=message) as err:
        import_vectors(path, tmp_path / "out", fmt="glove", model="glove")
    assert err.value.path == str(path) and err.value.line == line
    assert not (tmp_path / "out").exists()


def test_cli_train_glove(tmp_path, capsys):
    corpus = tmp_path / "topics.txt"
    corpus.write_text("\n".join(_topic_corpus(60)) + "\n")
    out = tmp_path / "D"
    argv = ["train", "glove", "--corpus", str(corpus), "--output-dir", str(out), "--epochs", "1", "--quiet"]
    assert main([*argv, "--vector-size", "8", "--min-count", "1", "--x-max", "10", "--device", "cpu"]) == 0
    assert f"saved glove to {out}" in capsys.readouterr().out
    model, _ = load(out)
    assert isinstance(model, GloVeModel) and model.config.vector_size == 8 and model.config.x_max == 10.0
    assert (out / COOCCURRENCE_FILE).is_file()
    assert (
        main(
            [
                "train",
                "glove",
                "--corpus",
                str(corpus),
                "--output-dir",
                str(tmp_path / "E"),
                "--combine",
                "avg",
            ]
        )
        == 2
    )
    assert "combine must be one of" in capsys.readouterr().err


def test_resume_from_trainer_checkpoint_is_exact(tmp_path, one_thread):
    """A run resumed from an epoch checkpoint (weights + AdaGrad state) ends where the uninterrupted one does."""
    from hf_embeddings.training.fit import fit

    rng = random.Random(0)
    corpus = load_corpus(
        [" ".join(rng.choice("abcdefghij") for _ in range(10)) for _ in range(100)], min_count=1
    )
    config = glove_family.config_from_corpus(corpus, vector_size=8, entries_per_batch=16, epochs=3)

    def run(out, resume=None):
        result = fit(
            glove_family.FAMILY, corpus, config, device="cpu", seed=0, output_dir=out,
            training={"save_strategy": "epoch", "logging_steps": 10**9}, resume_from_checkpoint=resume,
        )  # fmt: skip
        return result.model.glove.embeddings.weight.detach().clone(), result.epoch_history

    full, history = run(tmp_path / "a")
    steps_per_epoch = len(glove_family.build_training_data(corpus, config).train_dataset)
    resumed, resumed_history = run(
        tmp_path / "a", resume=str(tmp_path / "a" / f"checkpoint-{2 * steps_per_epoch}")
    )
    # the checkpoint carries the epochs before it: the resumed run's history is the whole run's
    assert len(resumed_history) == 3 and resumed_history[-1]["epoch_loss"] == pytest.approx(
        history[-1]["epoch_loss"]
    )
    assert [e["epoch_loss"] for e in resumed_history[:2]] == [e["epoch_loss"] for e in history[:2]]
    torch.testing.assert_close(resumed, full, rtol=0, atol=0)
