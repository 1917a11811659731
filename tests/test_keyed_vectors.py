"""KeyedVectors: parity with gensim's KeyedVectors, live-table cache invalidation, pooling."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel

from hf_embeddings.errors import HFEmbeddingsError
from hf_embeddings.vectors.keyed_vectors import KeyedVectors
from hf_embeddings.vectors.pooling import PooledVector
from hf_embeddings.vectors.static_model import StaticEmbeddingMixin, TokenizerNotAvailableError

N_WORDS, DIM, ZERO_ROW = 500, 20, 7


@pytest.fixture(scope="module")
def table() -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(1234)
    vecs = rng.standard_normal((N_WORDS, DIM)).astype(np.float32)
    vecs[ZERO_ROW] = 0.0
    # near-duplicates at clearly different distances (no float-precision ties)
    vecs[11] = vecs[10] + 0.01 * rng.standard_normal(DIM)
    vecs[12] = vecs[10] + 0.05 * rng.standard_normal(DIM)
    vecs[40] = 3.0 * vecs[30] + 0.02 * rng.standard_normal(DIM)
    vecs[300] = vecs[20] + 0.03 * rng.standard_normal(DIM)
    words = [f"w{i}" for i in range(N_WORDS)]
    return words, vecs


@pytest.fixture(scope="module")
def ours(table) -> KeyedVectors:
    words, vecs = table
    return KeyedVectors.from_arrays(words, vecs)


@pytest.fixture(scope="module")
def theirs(table):
    gensim_models = pytest.importorskip("gensim.models")
    words, vecs = table
    gkv = gensim_models.KeyedVectors(DIM)
    gkv.add_vectors(words, vecs.copy())
    return gkv


def assert_same_ranking(mine, ref, atol=1e-5):
    assert [w for w, _ in mine] == [w for w, _ in ref]
    np.testing.assert_allclose([s for _, s in mine], [s for _, s in ref], atol=atol)


def gensim_quiet(fn, *args, **kwargs):
    """Call gensim, silencing its divide-by-zero warnings on the zero row."""
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# --------------------------------------------------------------------------- gensim parity
QUERIES = [
    dict(positive="w10"),
    dict(positive=["w30"], topn=5),
    dict(positive=["w1", "w2"], negative=["w3"]),
    dict(positive=["w20", "w5"], negative=["w6", "w8"], topn=20),
    dict(negative=["w4"], topn=7),
    dict(positive=["w10", "w40"], restrict_vocab=100),
    dict(positive=[("w1", 2.0), ("w2", 0.5)], negative=[("w3", -1.5)], topn=8),
    dict(positive="w0", negative="w1", topn=3),
]


@pytest.mark.parametrize("query", QUERIES)
def test_most_similar_matches_gensim(ours, theirs, query):
    assert_same_ranking(ours.most_similar(**query), gensim_quiet(theirs.most_similar, **query))


COSMUL_QUERIES = [
    dict(positive="w10"),
    dict(positive=["w30"], topn=5),
    dict(positive=["w1", "w2"], negative=["w3"]),
    dict(positive=["w20", "w5"], negative=["w6", "w8"], topn=20),
    dict(positive="w0", negative="w1", topn=3),
]


@pytest.mark.parametrize("query", COSMUL_QUERIES)
def test_most_similar_cosmul_matches_gensim(ours, theirs, query):
    assert_same_ranking(ours.most_similar_cosmul(**query), gensim_quiet(theirs.most_similar_cosmul, **query))


def test_vector_inputs_match_gensim(ours, theirs, table):
    _, vecs = table
    v = vecs[3] * 2.5 - vecs[9]
    assert_same_ranking(
        ours.most_similar(positive=[v, "w4"]), gensim_quiet(theirs.most_similar, positive=[v, "w4"])
    )
    assert_same_ranking(ours.similar_by_vector(v, topn=4), gensim_quiet(theirs.similar_by_vector, v, topn=4))
    assert_same_ranking(
        ours.most_similar_cosmul(positive=[v * 0.1, "w4"], negative=["w5"]),
        gensim_quiet(theirs.most_similar_cosmul, positive=[v * 0.1, "w4"], negative=["w5"]),
    )


def test_full_score_arrays_match_gensim(ours, theirs):
    for kwargs in (dict(positive=["w1", "w2"], negative=["w3"]), dict(positive="w10", restrict_vocab=50)):
        mine = ours.most_similar(topn=None, **kwargs)
        ref = gensim_quiet(theirs.most_similar, topn=None, **kwargs)
        assert mine.shape == ref.shape
        assert np.isnan(ref[ZERO_ROW]) and mine[ZERO_ROW] == 0.0  # documented deviation: no nan
        keep = ~np.isnan(ref)
        np.testing.assert_allclose(mine[keep], ref[keep], atol=1e-5)
    mine = ours.most_similar_cosmul(positive=["w1", "w2"], negative=["w3"], topn=None)
    ref = gensim_quiet(theirs.most_similar_cosmul, positive=["w1", "w2"], negative=["w3"], topn=None)
    keep = ~np.isnan(ref)
    assert keep.sum() == N_WORDS - 1
    np.testing.assert_allclose(mine[keep], ref[keep], rtol=1e-5, atol=1e-5)


def test_whole_vocabulary_ranking_puts_zero_row_last_like_gensim(ours, theirs):
    mine = ours.most_similar("w1", topn=N_WORDS + 10)
    ref = gensim_quiet(theirs.most_similar, "w1", topn=N_WORDS + 10)
    assert len(mine) == len(ref) == N_WORDS - 1
    assert mine[-1] == (f"w{ZERO_ROW}", 0.0) and ref[-1][0] == f"w{ZERO_ROW}" and math.isnan(ref[-1][1])
    assert_same_ranking(mine[:-1], ref[:-1])


def test_cosmul_restrict_vocab_is_honoured(ours, theirs):
    mine = ours.most_similar_cosmul(positive=["w1", "w2"], negative=["w3"], topn=5, restrict_vocab=60)
    full = gensim_quiet(theirs.most_similar_cosmul, positive=["w1", "w2"], negative=["w3"], topn=N_WORDS)
    ref = [(w, s) for w, s in full if int(w[1:]) < 60][:5]
    assert_same_ranking(mine, ref)


def test_pairwise_queries_match_gensim(ours, theirs, table):
    _, vecs = table
    for a, b in [("w1", "w2"), ("w10", "w11"), ("w30", "w40"), ("w5", "w5")]:
        assert ours.similarity(a, b) == pytest.approx(float(theirs.similarity(a, b)), abs=1e-5)
        assert ours.rank(a, b) == gensim_quiet(theirs.rank, a, b)
        assert ours.words_closer_than(a, b) == gensim_quiet(theirs.closer_than, a, b)
    assert ours.similarity("w1", f"w{ZERO_ROW}") == 0.0
    assert ours.n_similarity(["w1", "w2"], ["w3", "w10", "w11"]) == pytest.approx(
        float(theirs.n_similarity(["w1", "w2"], ["w3", "w10", "w11"])), abs=1e-5
    )
    np.testing.assert_allclose(
        ours.distances("w3", ["w1", "w4", "w3"]), theirs.distances("w3", ["w1", "w4", "w3"]), atol=1e-5
    )
    mine, ref = ours.distances("w3"), gensim_quiet(theirs.distances, "w3")
    keep = ~np.isnan(ref)
    np.testing.assert_allclose(mine[keep], ref[keep], atol=1e-5)
    assert mine[ZERO_ROW] == 1.0
    mine, ref = ours.distances(vecs[8] + 1), gensim_quiet(theirs.distances, vecs[8] + 1)
    np.testing.assert_allclose(mine[keep], ref[keep], atol=1e-5)
    ref = gensim_quiet(theirs.distances, vecs[8] + 1, ["w1", "w2"])
    np.testing.assert_allclose(ours.distances(vecs[8] + 1, ["w1", "w2"]), ref, atol=1e-5)


def test_closer_than_with_zero_vector_is_empty_like_gensim(ours, theirs):
    zero = f"w{ZERO_ROW}"
    assert ours.words_closer_than("w1", zero) == gensim_quiet(theirs.closer_than, "w1", zero) == []
    assert ours.words_closer_than(zero, "w1") == gensim_quiet(theirs.closer_than, zero, "w1") == []


def test_doesnt_match_matches_gensim(ours, theirs):
    for group in (["w10", "w11", "w12", "w3"], ["w1", "w2", "w3", "w4", "w5"], ["w30", "w40", "w99"]):
        assert ours.doesnt_match(group) == theirs.doesnt_match(group)
    with pytest.warns(UserWarning, match="xyzzy"):
        assert ours.doesnt_match(["w10", "w11", "xyzzy", "w3"]) == theirs.doesnt_match(
            ["w10", "w11", "xyzzy", "w3"]
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(HFEmbeddingsError, match="none of the words"):
            ours.doesnt_match(["xyzzy", "plugh"])


def test_vectors_and_normed_vectors_match_gensim(ours, theirs, table):
    _, vecs = table
    np.testing.assert_array_equal(ours.vectors, vecs)
    np.testing.assert_array_equal(ours["w3"], theirs["w3"])
    np.testing.assert_array_equal(ours[["w3", "w4"]], theirs[["w3", "w4"]])
    np.testing.assert_allclose(
        ours.get_vector("w3", norm=True), theirs.get_vector("w3", norm=True), atol=1e-6
    )
    ref = gensim_quiet(theirs.get_normed_vectors)
    mine = ours.get_normed_vectors()
    keep = np.arange(N_WORDS) != ZERO_ROW
    np.testing.assert_allclose(mine[keep], ref[keep], atol=1e-6)
    assert not np.isnan(mine).any() and (mine[ZERO_ROW] == 0).all()
    assert ours.vector_size == DIM and len(ours) == N_WORDS and "w3" in ours and "xyzzy" not in ours


def test_to_gensim_round_trip(table):
    pytest.importorskip("gensim")
    words, vecs = table
    kv = KeyedVectors.from_arrays(words[:50], vecs[:50], counts=np.arange(50, 0, -1))
    gkv = kv.to_gensim()
    assert gkv.index_to_key == words[:50]
    np.testing.assert_array_equal(gkv.vectors, vecs[:50])
    assert gkv.get_vecattr("w0", "count") == 50
    assert_same_ranking(kv.most_similar("w1", topn=5), gensim_quiet(gkv.most_similar, "w1", topn=5))


# --------------------------------------------------------------------------- batch
def test_batch_equals_single_queries(ours):
    pos = [["w1", "w2"], ["w10"], "w30", ["w5", "w6", "w7"]]
    neg = [["w3"], [], ["w40"], ["w8"]]
    for cosmul in (False, True):
        single = ours.most_similar_cosmul if cosmul else ours.most_similar
        for restrict in (None, 80):
            batch = ours.most_similar_batch(pos, neg, topn=6, restrict_vocab=restrict, cosmul=cosmul)
            for p, n, got in zip(pos, neg, batch):
                assert_same_ranking(
                    got, single(positive=p, negative=n, topn=6, restrict_vocab=restrict), atol=1e-6
                )
    arr = ours.most_similar_batch(pos, neg, topn=None)
    assert arr.shape == (4, N_WORDS)
    np.testing.assert_allclose(arr[0], ours.most_similar(["w1", "w2"], ["w3"], topn=None), atol=1e-6)


def test_batch_chunks_agree(ours, monkeypatch):
    import hf_embeddings.vectors.keyed_vectors as kvmod

    pos = [[f"w{i}", f"w{i + 1}"] for i in range(20)]
    neg = [[f"w{i + 2}"] for i in range(20)]
    expected = ours.most_similar_batch(pos, neg, topn=3)
    monkeypatch.setattr(kvmod, "_SCORE_BUDGET", 3 * N_WORDS)
    chunked = ours.most_similar_batch(pos, neg, topn=3)
    # another matrix shape takes another BLAS kernel: same ranking, scores equal to rounding only
    assert len(chunked) == len(expected)
    for mine, ref in zip(chunked, expected):
        assert_same_ranking(mine, ref, atol=1e-6)


def test_ties_are_broken_by_index():
    vecs = np.array([[1, 0], [1, 0], [0, 1], [2, 0], [1, 0]], dtype=np.float32)
    kv = KeyedVectors.from_arrays(list("abcde"), vecs)
    assert [w for w, _ in kv.most_similar("a", topn=2)] == ["b", "d"]
    assert [w for w, _ in kv.most_similar("e", topn=4)] == ["a", "b", "d", "c"]


# --------------------------------------------------------------------------- errors
def test_oov_key_error_names_the_word(ours):
    calls = [
        lambda: ours.get_word_vector("xyzzy"),
        lambda: ours["xyzzy"],
        lambda: ours.most_similar(["w1", "xyzzy"]),
        lambda: ours.most_similar_cosmul("xyzzy"),
        lambda: ours.similarity("w1", "xyzzy"),
        lambda: ours.n_similarity(["w1"], ["xyzzy"]),
        lambda: ours.distances("xyzzy"),
        lambda: ours.words_closer_than("xyzzy", "w1"),
        lambda: ours.rank("w1", "xyzzy"),
        lambda: ours.most_similar_batch([["w1"], ["xyzzy"]]),
    ]
    for call in calls:
        with pytest.raises(KeyError, match="word 'xyzzy' not in vocabulary"):
            call()


def test_edge_cases(ours):
    assert ours.most_similar("w1", topn=0) == []
    with pytest.raises(HFEmbeddingsError):
        ours.most_similar()
    with pytest.raises(HFEmbeddingsError):
        ours.most_similar_cosmul(negative=["w1"])
    with pytest.raises(TypeError):
        ours.most_similar_cosmul(positive=[("w1", 2.0)])
    with pytest.raises(HFEmbeddingsError, match="shape"):
        KeyedVectors(np.zeros((3, 2)), ["a", "b"]).most_similar("a")


# --------------------------------------------------------------------------- cache
def test_normalised_matrix_is_cached_and_refreshed():
    weight = torch.randn(30, 6, generator=torch.Generator().manual_seed(0))
    kv = KeyedVectors(weight, [f"w{i}" for i in range(30)])
    first = kv.most_similar("w1", topn=None)
    kv.most_similar("w2")
    kv.similarity("w1", "w3")
    kv.most_similar_batch([["w1"]] * 3)
    assert kv._normalize_count == 1
    weight[5] += 1.0
    assert not np.allclose(kv.most_similar("w1", topn=None), first)
    kv.most_similar("w1")
    assert kv._normalize_count == 2


def test_version_callable_controls_the_cache():
    state = {"v": 0, "calls": 0}
    weight = torch.randn(10, 4, generator=torch.Generator().manual_seed(1))

    def source():
        state["calls"] += 1
        return weight * 2  # a fresh tensor each call

    kv = KeyedVectors(source, [f"w{i}" for i in range(10)], version=lambda: state["v"])
    kv.most_similar("w1")
    kv.most_similar("w2")
    assert kv._normalize_count == 1
    state["v"] = 1
    kv.most_similar("w1")
    assert kv._normalize_count == 2


# --------------------------------------------------------------------------- model mixin
SPECIALS = ["<unk>", "<pad>", "<s>", "</s>"]


class FakeTokenizer:
    """Duck-typed stand-in for WordTokenizer: specials are ids 0..3, then words by frequency."""

    def __init__(self, words: list[str], counts: list[int] | None = None) -> None:
        self.tokens = SPECIALS + words
        self.all_special_ids = [0, 1, 2, 3]
        self.word_counts = None if counts is None else np.array([0] * 4 + counts, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.tokens)

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        return [self.tokens[i] for i in ids]

    def pre_tokenize(self, text: str) -> list[str]:
        return text.lower().split()


class TinyStaticConfig(PretrainedConfig):
    model_type = "hfe_test_static"

    def __init__(self, vocab_size: int = 24, hidden_size: int = 8, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        super().__init__(**kwargs)


class TinyStaticModel(StaticEmbeddingMixin, PreTrainedModel):
    config_class = TinyStaticConfig
    base_model_prefix = "tiny"

    def __init__(self, config):
        super().__init__(config)
        self.emb = nn.Embedding(config.vocab_size, config.hidden_size)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight)

    def get_input_embeddings(self):
        return self.emb

    def forward(self, input_ids):
        return self.emb(input_ids)


@pytest.fixture(scope="module")
def tiny_model_cls():
    return TinyStaticConfig, TinyStaticModel


@pytest.fixture()
def model(tiny_model_cls):
    config_cls, model_cls = tiny_model_cls
    torch.manual_seed(0)
    m = model_cls(config_cls())
    words = [f"v{i}" for i in range(20)]
    return m.attach_tokenizer(FakeTokenizer(words, counts=list(range(200, 0, -10))))


def test_model_wv_excludes_special_tokens(model):
    wv = model.wv
    assert len(wv) == 20 and wv.index_to_key[0] == "v0"
    assert "<unk>" not in model and "v3" in model
    np.testing.assert_array_equal(model.get_word_vector("v0"), model.emb.weight[4].detach().numpy())
    results = model.most_similar("v0", topn=None)
    assert results.shape == (20,)
    for word in ("v0", "v5", "v19"):
        names = [w for w, _ in model.most_similar(word, topn=30)]
        assert len(names) == 19 and not set(names) & set(SPECIALS)
    assert [w for w, _ in model.most_similar("v0", topn=30, restrict_vocab=5)] == [
        w for w, _ in model.most_similar("v0", topn=30) if int(w[1:]) < 5
    ]
    assert not any(k.startswith("_hfe") for k in model.state_dict())
    assert "_hfe_tokenizer" not in dict(model.named_modules())
    assert model.wv is wv


def test_model_results_follow_in_place_updates(model):
    before = model.most_similar("v0", topn=None)
    calls = model.wv._normalize_count
    model.most_similar("v1")
    model.similarity("v1", "v2")
    assert model.wv._normalize_count == calls
    with torch.no_grad():
        model.emb.weight[5] += 1  # row 5 is word v1
    assert not np.allclose(model.most_similar("v0", topn=None), before)
    assert model.wv._normalize_count == calls + 1
    with torch.no_grad():
        model.emb.weight[6] = -4.0 * model.emb.weight[13]  # v2 := -4 * v9
    assert model.most_similar("v9", topn=None)[2] == pytest.approx(-1.0, abs=1e-6)
    assert model.most_similar_cosmul("v9", topn=30)[-1][0] == "v2"


def test_model_results_follow_optimizer_steps(model):
    target = 10.0 * model.emb.weight[13].detach().clone()
    assert model.most_similar("v9", topn=1)[0][0] != "v1"
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    loss = ((model.emb.weight[5] - target) ** 2).sum()  # one step lands exactly on target
    loss.backward()
    optimizer.step()
    top = model.most_similar("v9", topn=1)[0]
    assert top[0] == "v1" and top[1] == pytest.approx(1.0, abs=1e-6)
    assert model.words_closer_than("v9", "v1") == []
    assert model.doesnt_match(["v9", "v1", "v0"]) == "v0"


def test_model_attach_other_tokenizer_rebuilds_wv(model):
    old = model.wv
    model.attach_tokenizer(FakeTokenizer([f"u{i}" for i in range(20)]))
    assert model.wv is not old and "u0" in model and "v0" not in model


def test_model_without_tokenizer_explains(tiny_model_cls):
    config_cls, model_cls = tiny_model_cls
    m = model_cls(config_cls())
    with pytest.raises(TokenizerNotAvailableError, match="attach_tokenizer"):
        m.most_similar("v0")


def test_model_sentence_pooling_uses_tokenizer(model):
    pv = model.sentence_vector("V0 V1 xyzzy", pooling="sif")
    assert pv.known == ["v0", "v1"] and pv.oov == ["xyzzy"]
    counts = np.arange(200, 0, -10, dtype=np.float64)
    p = counts[:2] / counts.sum()
    w = 1e-3 / (1e-3 + p)
    rows = model.emb.weight[4:6].detach().numpy()
    np.testing.assert_allclose(pv.vector, (w[:, None] * rows).sum(0) / 2, rtol=1e-5)
    assert model.sentence_vectors(["v0", "nothing here"]).shape == (2, 8)


# --------------------------------------------------------------------------- pooling
@pytest.fixture()
def small() -> KeyedVectors:
    vecs = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]], dtype=np.float32)
    return KeyedVectors.from_arrays(["a", "b", "c"], vecs, counts=[6, 3, 1])


def test_pooling_by_hand(small):
    a, b = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    pv = small.sentence_vector("a b zz a")
    assert isinstance(pv, PooledVector) and pv.known == ["a", "b", "a"] and pv.oov == ["zz"]
    assert not pv.is_empty
    np.testing.assert_allclose(pv.vector, (2 * a + b) / 3, rtol=1e-6)
    np.testing.assert_allclose(
        small.sentence_vector(["a", "b", "a"], pooling="sqrtn").vector, (2 * a + b) / math.sqrt(3), rtol=1e-6
    )
    wa, wb = 0.1 / (0.1 + 0.6), 0.1 / (0.1 + 0.3)
    sif = small.sentence_vector("a b a", pooling="sif", sif_a=0.1).vector
    np.testing.assert_allclose(sif, (2 * wa * a + wb * b) / 3, rtol=1e-6)


def test_pooling_all_oov_is_empty(small):
    for pooling in ("mean", "sqrtn", "sif"):
        pv = small.sentence_vector("zz yy", pooling=pooling)
        assert pv.is_empty and pv.known == [] and pv.oov == ["zz", "yy"]
        assert pv.vector.shape == (2,) and not pv.vector.any()
    assert small.sentence_vector("").is_empty


def test_pooling_errors(small):
    with pytest.raises(HFEmbeddingsError, match="pooling"):
        small.sentence_vector("a", pooling="max")
    no_counts = KeyedVectors.from_arrays(["a"], np.ones((1, 2), dtype=np.float32))
    with pytest.raises(HFEmbeddingsError, match="counts"):
        no_counts.sentence_vector("a", pooling="sif")


def test_sentence_vectors_and_first_pc_removal():
    rng = np.random.default_rng(7)
    words = [f"t{i}" for i in range(40)]
    vecs = (rng.standard_normal((40, 6)) + np.array([3.0, 0, 0, 0, 0, 1.0])).astype(np.float32)
    kv = KeyedVectors.from_arrays(words, vecs, counts=rng.integers(1, 100, 40))
    texts = [" ".join(rng.choice(words, size=5)) for _ in range(30)] + ["unknown words"]
    plain = kv.sentence_vectors(texts, pooling="sif")
    assert plain.shape == (31, 6)
    for i in (0, 5, 30):
        np.testing.assert_allclose(plain[i], kv.sentence_vector(texts[i], pooling="sif").vector, rtol=1e-5)
    assert not plain[30].any()
    x = plain.astype(np.float64)
    u = np.linalg.svd(x, full_matrices=False)[2][0]
    assert np.abs(x @ u).max() > 0.1
    cleaned = kv.sentence_vectors(texts, pooling="sif", remove_first_pc=True)
    assert np.abs(cleaned @ u).max() < 1e-5
    np.testing.assert_allclose(cleaned, x - np.outer(x @ u, u), atol=1e-5)
    assert kv.sentence_vectors([], pooling="mean").shape == (0, 6)


def test_model_copy_and_pickle_do_not_share_the_cached_wv(model):
    import copy
    import pickle

    model.most_similar("v0")
    clone = copy.deepcopy(model)
    with torch.no_grad():
        clone.emb.weight[5] = 7.0 * clone.emb.weight[13]
    assert clone.most_similar("v9", topn=1)[0][0] == "v1"
    assert model.most_similar("v9", topn=1)[0][0] != "v1"
    restored = pickle.loads(pickle.dumps(model))
    assert restored.most_similar("v0") == model.most_similar("v0")
