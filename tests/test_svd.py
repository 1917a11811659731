"""PPMI-SVD (Levy, Goldberg & Dagan 2015): the PPMI matrix against a dense brute-force computation, the SVD
solvers against numpy, planted topics, the one-step fit, and the whole path of a family (CLI train, saved
folder, AutoModel, query, word2vec export, remote code without the package, card, demo)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from _support.corpora import topic_sentences, write_lines

import hf_embeddings  # noqa: F401  (registers the families with the Auto classes)
from hf_embeddings import load_corpus
from hf_embeddings.api import load
from hf_embeddings.cli import main
from hf_embeddings.errors import HFEmbeddingsError
from hf_embeddings.models import svd as svd_family
from hf_embeddings.models.svd import (
    FAMILY,
    SvdConfig,
    SvdForFactorization,
    SvdModel,
    factorize,
    ppmi_matrix,
    randomized_svd,
    truncated_svd,
)
from hf_embeddings.training.fit import OptionError, fit

TOPICS = [
    ["ant", "bee", "cat", "dog", "eel"],
    ["red", "tan", "blue", "gray", "pink"],
    ["one", "two", "six", "ten", "nine"],
]


# ----------------------------------------------------------------------------------------------- PPMI
def _brute_force_counts(corpus, window: int, harmonic: bool) -> np.ndarray:
    """Symmetric window counts, literally: OOV words dropped before windowing, no pair across a line."""
    vocab = len(corpus.tokenizer)
    counts = np.zeros((vocab, vocab))
    for sentence in corpus.iter_sentences():
        kept = [int(t) for t in sentence if t >= corpus.tokenizer.num_special_tokens]
        for j, right in enumerate(kept):
            for i in range(max(0, j - window), j):
                weight = 1.0 / (j - i) if harmonic else 1.0
                counts[kept[i], right] += weight
                counts[right, kept[i]] += weight
    return counts


def _dense_sppmi(counts: np.ndarray, cds: float, neg: float) -> np.ndarray:
    """max(0, log(P(w, c) / (P(w) P_cds(c))) - log neg) on a dense matrix, straight from the definitions."""
    total = counts.sum()
    p_wc = counts / total
    p_w = counts.sum(axis=1) / total
    smoothed = counts.sum(axis=0) ** cds
    p_c = smoothed / smoothed.sum()
    out = np.zeros_like(counts)
    for w in range(counts.shape[0]):
        for c in range(counts.shape[1]):
            if counts[w, c] > 0:
                out[w, c] = max(0.0, np.log(p_wc[w, c] / (p_w[w] * p_c[c])) - np.log(neg))
    return out


@pytest.fixture(scope="module")
def small_corpus():
    """Zipf-ish words with ~30% rare (out-of-vocabulary) tokens, lines of 0..15 words."""
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(120):
        words = [
            f"w{rng.zipf(1.5) % 25}" if rng.random() < 0.7 else f"rare{rng.integers(3000)}"
            for _ in range(int(rng.integers(0, 16)))
        ]
        lines.append(" ".join(words))
    return load_corpus(lines, min_count=3, use_cache=False)


@pytest.mark.parametrize(
    ("window", "weighting", "cds", "neg"),
    [(2, "harmonic", 0.75, 1.0), (4, "none", 1.0, 5.0), (3, "harmonic", 0.5, 2.0)],
)
def test_ppmi_matches_dense_brute_force(small_corpus, window, weighting, cds, neg):
    config = svd_family.config_from_corpus(
        small_corpus, window_size=window, distance_weighting=weighting, cds=cds, neg=neg
    )
    counts = svd_family.cooccurrence_counts(small_corpus, config, cache=False).to_scipy()
    dense = _brute_force_counts(small_corpus, window, weighting == "harmonic")
    np.testing.assert_allclose(counts.toarray(), dense, rtol=1e-6)
    m = ppmi_matrix(counts, cds=cds, neg=neg)
    assert sp.issparse(m) and m.format == "csr"
    expected = _dense_sppmi(dense, cds, neg)
    assert m.nnz == np.count_nonzero(expected) and 0 < m.nnz < counts.nnz + 1  # zeros are not stored
    np.testing.assert_allclose(m.toarray(), expected, rtol=1e-5, atol=1e-6)


def test_ppmi_without_smoothing_is_the_textbook_formula():
    x = np.array([[4.0, 1, 0], [1, 0, 3], [0, 3, 2]])
    d = x.sum()
    pmi = np.log(x * d / np.outer(x.sum(1), x.sum(0)), where=x > 0, out=np.full_like(x, -np.inf))
    np.testing.assert_allclose(
        ppmi_matrix(sp.csr_matrix(x), cds=1.0).toarray(), np.maximum(pmi, 0), rtol=1e-6
    )
    with pytest.raises(ValueError, match=">= 0"):
        ppmi_matrix(sp.csr_matrix(-x))


# ------------------------------------------------------------------------------------------------ SVD
def _low_rank(rank: int = 4, shape=(40, 30), seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((shape[0], rank)) @ rng.standard_normal((rank, shape[1]))
    a[np.abs(a) < 0.5] = 0  # a sparse matrix (its rank is then full, with a few dominant directions)
    return sp.csr_matrix(a)


@pytest.mark.parametrize("solver", ["randomized", "arpack"])
def test_svd_factors_reconstruct_a_tiny_matrix(solver):
    rng = np.random.default_rng(1)
    exact = sp.csr_matrix(rng.standard_normal((12, 3)) @ rng.standard_normal((3, 9)))  # rank 3
    u, s, v = truncated_svd(exact, 3, solver=solver, seed=0, dtype=torch.float64)
    u, s, v = u.numpy(), s.numpy(), v.numpy()
    np.testing.assert_allclose(u @ np.diag(s) @ v.T, exact.toarray(), atol=1e-9)
    np.testing.assert_allclose(u.T @ u, np.eye(3), atol=1e-9)
    np.testing.assert_allclose(v.T @ v, np.eye(3), atol=1e-9)
    # truncated (rank 5 of a full-rank matrix): the best approximation (Eckart-Young)
    a = _low_rank()
    reference = np.linalg.svd(a.toarray(), compute_uv=False)
    u, s, v = (t.numpy() for t in truncated_svd(a, 5, solver=solver, seed=0, dtype=torch.float64))
    np.testing.assert_allclose(s, reference[:5], rtol=1e-7)
    error = np.linalg.norm(a.toarray() - u @ np.diag(s) @ v.T)
    np.testing.assert_allclose(error, np.sqrt((reference[5:] ** 2).sum()), rtol=1e-7)
    assert np.all(u[np.abs(u).argmax(axis=0), range(5)] > 0)  # signs fixed: the largest entry is positive


def test_solvers_agree_and_the_randomized_one_is_seeded():
    a = _low_rank(rank=6, shape=(60, 50), seed=3)
    r1 = randomized_svd(a, 4, seed=7, dtype=torch.float64)
    r2 = randomized_svd(a, 4, seed=7, dtype=torch.float64)
    arpack = truncated_svd(a, 4, solver="arpack", dtype=torch.float64)
    for x, y in zip(r1, r2):
        assert torch.equal(x, y)
    for x, y in zip(r1, arpack):
        torch.testing.assert_close(x, y, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="rank of the truncated SVD"):
        randomized_svd(a, 51)
    with pytest.raises(ValueError, match="unknown SVD solver"):
        truncated_svd(a, 2, solver="lanczos")


@pytest.mark.parametrize(("eig", "add_context"), [(0.0, False), (0.5, True), (1.0, True)])
def test_factorize_weights_the_singular_values(eig, add_context):
    counts = _low_rank(rank=5, shape=(30, 30), seed=2)
    counts = abs(counts + counts.T)  # symmetric non-negative counts
    config = SvdConfig(vocab_size=30, vector_size=6, eig=eig, add_context=add_context, cds=0.75, neg=1.0)
    f = factorize(counts, config, seed=0)
    m = ppmi_matrix(counts, cds=0.75)
    u, s, v = truncated_svd(m, 6, seed=0)
    torch.testing.assert_close(f.word_vectors, u * s**eig)
    assert (f.context_vectors is not None) == add_context
    if add_context:
        torch.testing.assert_close(f.context_vectors, v * s**eig)
    expected = 1 - (s.double() ** 2).sum() / (m.data.astype(np.float64) ** 2).sum()
    assert f.residual == pytest.approx(float(expected), abs=1e-6)
    assert f.stats["ppmi_nonzeros"] == m.nnz and f.stats["svd_solver"] == "randomized"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_randomized_svd_on_the_gpu_matches_the_cpu():
    a = _low_rank(rank=8, shape=(300, 200), seed=4)
    cpu = randomized_svd(a, 6, seed=1, dtype=torch.float64)
    gpu = randomized_svd(a, 6, seed=1, device="cuda", dtype=torch.float64)
    for x, y in zip(cpu, gpu):
        assert y.device.type == "cuda"
        torch.testing.assert_close(x, y.cpu(), rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------------------------- fitting
@pytest.fixture(scope="module")
def topic_corpus():
    return load_corpus(topic_sentences(TOPICS, n=300, length=10, seed=0), min_count=1, use_cache=False)


@pytest.mark.parametrize("solver", ["randomized", "arpack"])
def test_planted_topics_are_recovered(topic_corpus, solver):
    result = fit("svd", topic_corpus, {"vector_size": 4, "svd": solver}, device="cpu", seed=0)
    model = result.model
    for topic in TOPICS:
        for word in topic:
            neighbours = [w for w, _ in model.wv.most_similar(word, topn=4)]
            assert sorted(neighbours) == sorted(set(topic) - {word}), (word, neighbours)


def test_fit_is_one_step_that_copies_the_factorization_exactly(topic_corpus):
    result = fit("svd", topic_corpus, {"vector_size": 3, "keep_context": True, "add_context": False}, seed=5)
    config = result.model.config
    assert config.seed == 5  # the run's seed, recorded
    assert isinstance(result.model, SvdForFactorization) and isinstance(result.base_model, SvdModel)
    counts = svd_family.cooccurrence_counts(topic_corpus, config, cache=False).to_scipy()
    expected = factorize(counts, config, seed=5)
    base = result.base_model
    assert torch.equal(base.embeddings.weight.detach(), expected.word_vectors)  # the SGD step moved nothing
    assert torch.equal(base.context_embeddings.weight.detach(), expected.context_vectors)
    assert torch.equal(base.singular_values, expected.singular_values)
    np.testing.assert_array_equal(base.wv.vectors, expected.word_vectors[4:].numpy())  # W alone
    log = result.training_log()
    assert result.trainer.state.global_step == 1
    assert log["epochs"][0]["epoch_mean_batch_loss"] == pytest.approx(expected.residual, abs=1e-6)
    stats = next(e for e in log["log_history"] if "svd_seconds" in e)
    assert stats["ppmi_nonzeros"] > 0 and stats["residual"] == pytest.approx(expected.residual)


def test_counts_are_cached_per_corpus_and_checked(tmp_path, monkeypatch):
    from hf_embeddings.models import glove as glove_family

    calls = []
    real = glove_family.count_cooccurrences
    monkeypatch.setattr(glove_family, "count_cooccurrences", lambda *a, **k: calls.append(1) or real(*a, **k))
    corpus = load_corpus(topic_sentences(TOPICS, n=40, length=6), min_count=1)  # cached corpus
    config = svd_family.config_from_corpus(corpus, vector_size=2)
    svd_family.build_training_data(corpus, config)
    svd_family.build_training_data(corpus, svd_family.config_from_corpus(corpus, vector_size=3, eig=0.0))
    assert len(calls) == 1  # same window and weighting: counted once
    other = real(corpus, window_size=5)
    with pytest.raises(HFEmbeddingsError, match="counted with"):
        svd_family.build_training_data(corpus, config, cooccurrence=other)
    with pytest.raises(ValueError, match="PPMI matrix is empty"):  # every pair at chance level
        factorize(sp.csr_matrix(np.ones((3, 3))), SvdConfig(vocab_size=3, vector_size=1))


def test_bad_options_fail_in_one_line(topic_corpus):
    for options, message in (
        ({"distance_weighting": "linear"}, "distance_weighting must be one of"),
        ({"svd": "lanczos"}, "svd must be one of"),
        ({"neg": 0.5}, "neg must be a finite number >= 1"),
        ({"cds": 0}, "cds must be a finite number > 0"),
        ({"eig": -1}, "eig must be"),
        ({"vector_size": 0}, "vector_size must be a positive integer"),
        ({"n_iter": -1}, "n_iter must be an integer >= 0"),
    ):
        with pytest.raises(OptionError, match=message):
            fit("svd", topic_corpus, options)
    assert SvdConfig(distance_weighting=None).distance_weighting == "none"  # `--distance-weighting none`
    with pytest.raises(OptionError, match="vector_size 16 is more than the 15 words"):
        fit("svd", topic_corpus, {"vector_size": 16})
    assert svd_family.config_from_corpus(topic_corpus).vector_size == 15  # the default (500), lowered


# ------------------------------------------------------------------------------------ the whole path
@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("svd")
    corpus = write_lines(root / "topics.txt", topic_sentences(TOPICS, n=300, length=10, seed=0))
    out = root / "model"
    with pytest.MonkeyPatch.context() as m:
        m.setenv("HF_EMBEDDINGS_CACHE", str(root / "cache"))
        argv = ["train", "svd", "--corpus", str(corpus), "--output-dir", str(out), "--min-count", "1"]
        argv += ["--vector-size", "4", "--window-size", "3", "--distance-weighting", "none", "--eig", "0"]
        assert main([*argv, "--device", "cpu", "--seed", "3", "--evaluate", "--quiet"]) == 0
    return out


def test_cli_train_writes_a_complete_folder(trained_dir):
    from transformers import AutoConfig, AutoModel

    config = json.loads((trained_dir / "config.json").read_text())
    assert config["model_type"] == "hfe_svd" and config["auto_map"]["AutoModel"] == "modeling_svd.SvdModel"
    assert (config["vector_size"], config["window_size"], config["distance_weighting"], config["eig"]) == (
        4,
        3,
        "none",
        0.0,
    )
    assert config["seed"] == 3 and config["add_context"] is True
    log = json.loads((trained_dir / "training_log.json").read_text())
    assert log["model"] == "svd" and log["seed"] == 3 and len(log["epochs"]) == 1
    assert "wordsim353_spearman" in json.loads((trained_dir / "eval_results.json").read_text())
    assert AutoConfig.from_pretrained(trained_dir).model_type == "hfe_svd"
    auto = AutoModel.from_pretrained(trained_dir)
    assert type(auto) is SvdModel and auto.context_embeddings is not None
    assert auto.singular_values.abs().sum() > 0
    model, tok = load(trained_dir)
    ids = torch.tensor([tok.convert_tokens_to_ids(["ant", "red"])])
    table = model.embeddings.weight + model.context_embeddings.weight  # W + C
    torch.testing.assert_close(model(ids).last_hidden_state[0], table[ids[0]])
    np.testing.assert_array_equal(model.wv["ant"], table[ids[0, 0]].detach().numpy())
    assert {w for w, _ in model.wv.most_similar("ant", topn=4)} == {"bee", "cat", "dog", "eel"}


def test_query_and_word2vec_export(trained_dir, tmp_path, capsys):
    from hf_embeddings.vectors.formats import read_word2vec_format

    assert main(["query", str(trained_dir), "red", "--topn", "4", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {w for w, _ in shown["red"]} == {"tan", "blue", "gray", "pink"}, shown
    exported = tmp_path / "vectors.txt"
    assert main(["convert", "export", str(trained_dir), str(exported), "--format", "word2vec"]) == 0
    words, vectors = read_word2vec_format(exported)
    model, _ = load(trained_dir)
    assert words == model.wv.index_to_key
    np.testing.assert_allclose(vectors, model.wv.vectors, rtol=1e-6)


def test_card_cites_the_paper_and_the_demo_shows_the_model(trained_dir):
    from hf_embeddings.demo.models import load_model

    card = (trained_dir / "README.md").read_text()
    assert (
        "@article{levy2015improving" in card and "Transactions of the Association for Computational" in card
    )
    assert "Improving Distributional Similarity with Lessons Learned from Word Embeddings" in card
    assert "M ~ U S V^T" in card and "W + C" in card
    shown = load_model(str(trained_dir))
    assert shown.family == "svd" and shown.is_static and not shown.is_contextual


def test_family_entry():
    from hf_embeddings.models.family import get_family

    assert get_family("svd") is FAMILY
    assert FAMILY.capabilities == frozenset({"static"}) and FAMILY.prebuilt_batches


REMOTE_CHILD = """
import json, sys
sys.path.extend(json.loads(sys.argv[2]))

class Block:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "hf_embeddings" or name.startswith("hf_embeddings."):
            raise ModuleNotFoundError(name)

sys.meta_path.insert(0, Block)
from transformers import AutoModel, AutoTokenizer

model = AutoModel.from_pretrained(sys.argv[1], trust_remote_code=True)
tok = AutoTokenizer.from_pretrained(sys.argv[1], trust_remote_code=True)
print(json.dumps({"model": type(model).__module__ + "." + type(model).__name__,
                  "table": model.word_table().detach().tolist(),
                  "ids": tok("ant red")["input_ids"],
                  "most_similar": model.most_similar("ant", topn=4)}))
"""


@pytest.mark.slow
def test_remote_code_loads_without_the_package(trained_dir, tmp_path):
    """A fresh interpreter where hf_embeddings cannot be imported loads the folder's bundled code."""
    import os
    import subprocess
    import sys
    import sysconfig

    bundled = {p.name for p in trained_dir.glob("*.py")}
    assert {"configuration_svd.py", "modeling_svd.py"} <= bundled
    assert not bundled & {"ppmi_svd.py", "data_svd.py", "cooccurrence.py"}  # the solver stays in the package
    site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "PYTHONPATH"))}
    env.update(HF_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    cmd = [sys.executable, "-I", "-S", "-c", REMOTE_CHILD, str(trained_dir), json.dumps(site)]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["model"].startswith("transformers_modules.") and got["model"].endswith(".SvdModel")
    model, tok = load(trained_dir)
    assert got["table"] == model.word_table().detach().tolist()
    assert got["ids"] == tok("ant red")["input_ids"]
    expected = model.most_similar("ant", topn=4)
    assert [w for w, _ in got["most_similar"]] == [w for w, _ in expected]
    np.testing.assert_allclose([s for _, s in got["most_similar"]], [s for _, s in expected], rtol=1e-6)
