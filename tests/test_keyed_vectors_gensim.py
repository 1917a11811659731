"""KeyedVectors: the gensim 4 methods added for issue 24, side by side with gensim on the same vectors."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from hf_embeddings.errors import HFEmbeddingsError
from hf_embeddings.vectors.keyed_vectors import KeyedVectors

gensim_models = pytest.importorskip("gensim.models")

N_WORDS, DIM, ZERO_ROW = 500, 20, 7
ATOL = 1e-5


def make_table() -> tuple[list[str], np.ndarray]:
    """The table of tests/test_keyed_vectors.py (same seed and near-duplicates)."""
    rng = np.random.default_rng(1234)
    vecs = rng.standard_normal((N_WORDS, DIM)).astype(np.float32)
    vecs[ZERO_ROW] = 0.0
    vecs[11] = vecs[10] + 0.01 * rng.standard_normal(DIM)
    vecs[12] = vecs[10] + 0.05 * rng.standard_normal(DIM)
    vecs[40] = 3.0 * vecs[30] + 0.02 * rng.standard_normal(DIM)
    vecs[300] = vecs[20] + 0.03 * rng.standard_normal(DIM)
    return [f"w{i}" for i in range(N_WORDS)], vecs


def make_pair(counts: np.ndarray | None = None):
    """Fresh (ours, theirs) over private copies of the table: mutation tests cannot leak."""
    words, vecs = make_table()
    ours = KeyedVectors.from_arrays(words, vecs.copy(), counts=counts)
    theirs = gensim_models.KeyedVectors(DIM)
    theirs.add_vectors(words, vecs.copy())
    if counts is not None:
        theirs.allocate_vecattrs(["count"], [np.int64])
        theirs.expandos["count"][:] = counts
    return ours, theirs


@pytest.fixture(scope="module")
def pair():
    return make_pair()


def quiet(fn, *args, **kwargs):
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def same_ranking(mine, ref, atol=ATOL):
    assert [w for w, _ in mine] == [w for w, _ in ref]
    np.testing.assert_allclose([s for _, s in mine], [s for _, s in ref], atol=atol)


def same_state(ours, theirs, queries=("w10", "w1", "w30")):
    """Vocabulary, vectors, and queries (through the normalised cache) agree."""
    theirs.fill_norms(force=True)  # gensim keeps stale norms after a mutation; ours refreshes itself
    assert ours.index_to_key == theirs.index_to_key
    assert ours.key_to_index == theirs.key_to_index
    np.testing.assert_array_equal(ours.vectors, theirs.vectors)
    for q in queries:
        same_ranking(ours.most_similar(q, topn=15), quiet(theirs.most_similar, q, topn=15))
    np.testing.assert_allclose(
        ours.norms, quiet(lambda: (theirs.fill_norms(force=True), theirs.norms)[1]), atol=ATOL
    )


# --------------------------------------------------------------------------- queries
def test_most_similar_to_given(pair):
    ours, theirs = pair
    for key, given in [("w10", ["w3", "w11", "w12", "w40"]), ("w30", ["w40", "w1", "w2"]), ("w5", ["w6"])]:
        assert ours.most_similar_to_given(key, given) == theirs.most_similar_to_given(key, given)


def test_cosine_similarities(pair):
    ours, theirs = pair
    v, m = theirs["w3"], theirs.vectors[:50]
    mine = KeyedVectors.cosine_similarities(v, m)
    ref = quiet(theirs.cosine_similarities, v, m)
    ok = ~np.isnan(ref)
    assert mine.dtype == ref.dtype and mine.shape == ref.shape
    np.testing.assert_allclose(mine[ok], ref[ok], atol=ATOL)
    assert mine[ZERO_ROW] == 0.0 and np.isnan(ref[ZERO_ROW])  # documented difference
    assert ours.cosine_similarities(v, m).shape == (50,)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(keys=["w1", "w2", "w3"]),
        dict(keys=["w1", "w2", "nope"]),
        dict(keys=["w1", "w2"], weights=[2.0, -0.5]),
        dict(keys=["w1", 5, "w40"], pre_normalize=False),
        dict(keys=["w1", "w2"], post_normalize=True),
        dict(keys=["w1", "w2"], weights=np.array([1.0, 3.0]), pre_normalize=False, post_normalize=True),
    ],
)
def test_get_mean_vector(pair, kwargs):
    ours, theirs = pair
    np.testing.assert_allclose(ours.get_mean_vector(**kwargs), theirs.get_mean_vector(**kwargs), atol=ATOL)


def test_get_mean_vector_with_raw_vectors_and_errors(pair):
    ours, theirs = pair
    keys = [theirs["w4"], "w1"]
    np.testing.assert_allclose(ours.get_mean_vector(keys), theirs.get_mean_vector(keys), atol=ATOL)
    with pytest.raises(KeyError):
        ours.get_mean_vector(["w1", "nope"], ignore_missing=False)
    with pytest.raises(ValueError):
        ours.get_mean_vector([])
    with pytest.raises(ValueError):
        ours.get_mean_vector(["w1", "w2"], weights=[1.0])


@pytest.mark.parametrize(
    "kwargs", [dict(key="w10"), dict(key="w30", topn=3), dict(key="w1", restrict_vocab=50)]
)
def test_similar_by_key(pair, kwargs):
    ours, theirs = pair
    same_ranking(ours.similar_by_key(**kwargs), quiet(theirs.similar_by_key, **kwargs))


def test_similar_by_key_topn_none(pair):
    ours, theirs = pair
    mine, ref = ours.similar_by_key("w2", topn=None), quiet(theirs.similar_by_key, "w2", topn=None)
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(mine[ok], ref[ok], atol=ATOL)


@pytest.mark.parametrize("wa,wb,topn", [("w10", "w11", 10), ("w30", "w40", 3), ("w1", "w2", 1)])
def test_relative_cosine_similarity(pair, wa, wb, topn):
    ours, theirs = pair
    ref = quiet(theirs.relative_cosine_similarity, wa, wb, topn)
    assert ours.relative_cosine_similarity(wa, wb, topn) == pytest.approx(float(ref), abs=1e-4)


@pytest.mark.parametrize("use_norm", [True, False])
def test_rank_by_centrality(pair, use_norm):
    ours, theirs = pair
    words = ["w10", "w11", "w12", "w3", "w40", "w30"]
    same_ranking(
        [(w, s) for s, w in ours.rank_by_centrality(words, use_norm=use_norm)],
        [(w, float(s)) for s, w in theirs.rank_by_centrality(words, use_norm=use_norm)],
    )


def test_rank_by_centrality_unknown_words(pair):
    ours, _ = pair
    with pytest.warns(UserWarning, match="nope"):
        assert len(ours.rank_by_centrality(["w1", "nope", "w2"])) == 2
    with pytest.raises(ValueError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.rank_by_centrality(["nope"])


def test_norms_and_fill_norms(pair):
    ours, theirs = pair
    theirs.fill_norms()
    ours.fill_norms()
    np.testing.assert_allclose(ours.norms, theirs.norms, atol=ATOL)
    assert not ours.norms.flags.writeable
    ours.fill_norms(force=True)
    np.testing.assert_allclose(ours.norms, theirs.norms, atol=ATOL)


def test_n_similarity_unknown_word_documented_difference(pair):
    ours, theirs = pair
    assert np.isfinite(theirs.n_similarity(["w1", "nope"], ["w2"]))  # gensim drops the unknown word
    with pytest.raises(KeyError):
        ours.n_similarity(["w1", "nope"], ["w2"])


@pytest.mark.parametrize("norm", [True, False])
def test_wmdistance(pair, norm):
    pytest.importorskip("ot")
    ours, theirs = pair
    docs = [
        (["w1", "w2", "w3", "w1"], ["w10", "w11", "w4"]),
        (["w1", "nope"], ["w2", "w5", "w5", "w6"]),
        (["w3"], ["w3", "w3"]),
        (["nope"], ["w1"]),
    ]
    for d1, d2 in docs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mine = ours.wmdistance(d1, d2, norm=norm)
        assert mine == pytest.approx(quiet(theirs.wmdistance, d1, d2, norm=norm), rel=1e-5, abs=1e-6)


def test_wmdistance_without_pot_names_the_package(pair, monkeypatch):
    ours, _ = pair
    monkeypatch.setitem(sys.modules, "ot", None)
    with pytest.raises(ImportError, match="pip install pot"):
        ours.wmdistance(["w1"], ["w2"])


# --------------------------------------------------------------------------- attributes
def test_get_set_vecattr():
    counts = np.arange(N_WORDS, 0, -1).astype(np.int64)
    ours, theirs = make_pair(counts)
    assert ours.get_vecattr("w3", "count") == theirs.get_vecattr("w3", "count")
    for kv in (ours, theirs):
        kv.set_vecattr("w3", "count", 10_000)
        kv.set_vecattr("w4", "tag", 2.5)
    assert ours.get_vecattr("w3", "count") == theirs.get_vecattr("w3", "count") == 10_000
    assert ours.counts[3] == 10_000
    assert ours.get_vecattr("w4", "tag") == theirs.get_vecattr("w4", "tag") == 2.5
    assert ours.get_vecattr("w5", "tag") == theirs.get_vecattr("w5", "tag") == 0.0
    with pytest.raises(KeyError):
        ours.get_vecattr("w1", "missing")


# --------------------------------------------------------------------------- mutations
def test_add_vector_and_add_vectors_invalidate_cache():
    ours, theirs = make_pair()
    ours.most_similar("w10")  # fill the cache
    rng = np.random.default_rng(5)
    v = (theirs["w10"] + 0.001 * rng.standard_normal(DIM)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ours.add_vector("new", v) == theirs.add_vector("new", v) == N_WORDS
    same_state(ours, theirs)
    assert ours.most_similar("w10", topn=1)[0][0] == "new"
    block = rng.standard_normal((3, DIM)).astype(np.float32)
    ours.add_vectors(["x1", "w1", "x2"], block)
    theirs.add_vectors(["x1", "w1", "x2"], block)
    same_state(ours, theirs, queries=("w10", "w1", "x1"))
    ours.add_vectors(["x3", "w2"], block[:2], replace=True)
    theirs.add_vectors(["x3", "w2"], block[:2], replace=True)
    same_state(ours, theirs, queries=("w2", "x3"))


def test_setitem_invalidates_cache():
    ours, theirs = make_pair()
    ours.most_similar("w1")
    v = np.asarray(theirs["w30"] * 2, dtype=np.float32)
    ours["w1"] = v
    theirs["w1"] = v
    same_state(ours, theirs, queries=("w1", "w30"))
    assert ours.most_similar("w1", topn=1)[0][0] == "w30"
    block = np.stack([theirs["w5"], -theirs["w6"]])
    ours[["w2", "brand_new"]] = block
    theirs[["w2", "brand_new"]] = block
    same_state(ours, theirs, queries=("w2", "brand_new", "w5"))


def test_mutation_copies_the_callers_array():
    words, vecs = make_table()
    kv = KeyedVectors.from_arrays(words, vecs)
    kv["w1"] = np.ones(DIM, dtype=np.float32)
    assert not np.array_equal(vecs[1], np.ones(DIM))
    np.testing.assert_array_equal(kv["w1"], np.ones(DIM))


def test_add_vectors_counts_grow_and_errors():
    counts = np.arange(N_WORDS, 0, -1)
    ours, _ = make_pair(counts)
    ours.add_vectors(["a", "b"], np.ones((2, DIM)), extras={"count": np.array([7, 9])})
    assert ours.counts.shape == (N_WORDS + 2,) and ours.get_vecattr("b", "count") == 9
    with pytest.raises(HFEmbeddingsError):
        ours.add_vectors(["c", "c"], np.ones((2, DIM)))
    with pytest.raises(HFEmbeddingsError):
        ours.add_vectors(["c"], np.ones((1, DIM + 1)))
    assert "c" not in ours


def test_set_vecattr_then_sort_by_descending_frequency():
    rng = np.random.default_rng(9)
    counts = rng.integers(1, 20, N_WORDS)  # many ties: checks the tie order too
    ours, theirs = make_pair(counts)
    ours.most_similar("w10")
    for kv in (ours, theirs):
        kv.set_vecattr("w499", "count", 1000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kv.sort_by_descending_frequency()
    assert ours.index_to_key[0] == "w499"
    same_state(ours, theirs)
    np.testing.assert_array_equal(ours.counts, theirs.expandos["count"])
    same_ranking(
        ours.most_similar("w10", restrict_vocab=100), quiet(theirs.most_similar, "w10", restrict_vocab=100)
    )
    with pytest.raises(HFEmbeddingsError):
        make_pair()[0].sort_by_descending_frequency()


def test_vectors_for_all(pair):
    ours, theirs = pair
    keys = ["w3", "nope", "w1", "w3", "w40"]
    mine, ref = ours.vectors_for_all(keys), theirs.vectors_for_all(keys)
    assert mine.index_to_key == ref.index_to_key == ["w3", "w1", "w40"]
    np.testing.assert_array_equal(mine.vectors, ref.vectors)
    assert mine.counts is None
    counts = np.arange(N_WORDS, 0, -1)
    ours_c, theirs_c = make_pair(counts)
    mine = ours_c.vectors_for_all(keys, copy_vecattrs=True)
    ref = theirs_c.vectors_for_all(keys, copy_vecattrs=True)
    np.testing.assert_array_equal(mine.counts, ref.expandos["count"])


# --------------------------------------------------------------------------- files
@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_format_round_trip(tmp_path, binary):
    counts = np.random.default_rng(3).integers(1, 1000, N_WORDS)
    ours, theirs = make_pair(counts)
    mine_path, ref_path = tmp_path / "ours.w2v", tmp_path / "theirs.w2v"
    ours.save_word2vec_format(mine_path, fvocab=tmp_path / "ours.vocab", binary=binary, prefix="p_")
    theirs.save_word2vec_format(ref_path, fvocab=tmp_path / "theirs.vocab", binary=binary, prefix="p_")
    assert (tmp_path / "ours.vocab").read_text() == (tmp_path / "theirs.vocab").read_text()
    for path in (mine_path, ref_path):  # each library reads both files the same way
        mine = KeyedVectors.load_word2vec_format(path, fvocab=tmp_path / "ours.vocab", binary=binary)
        ref = gensim_models.KeyedVectors.load_word2vec_format(
            path, fvocab=tmp_path / "ours.vocab", binary=binary
        )
        assert mine.index_to_key == ref.index_to_key
        np.testing.assert_array_equal(mine.vectors, ref.vectors)
        np.testing.assert_array_equal(mine.counts, ref.expandos["count"])
        same_ranking(mine.most_similar("p_w10"), quiet(ref.most_similar, "p_w10"))


def test_load_word2vec_format_limit_and_no_header(tmp_path):
    ours, theirs = make_pair()
    path = tmp_path / "glove.txt"
    theirs.save_word2vec_format(path, write_header=False)
    mine = KeyedVectors.load_word2vec_format(path, no_header=True, limit=50)
    ref = gensim_models.KeyedVectors.load_word2vec_format(path, no_header=True, limit=50)
    assert mine.index_to_key == ref.index_to_key and len(mine) == 50
    np.testing.assert_array_equal(mine.vectors, ref.vectors)
    ours.save_word2vec_format(tmp_path / "o.txt")  # no counts: row order
    assert KeyedVectors.load_word2vec_format(tmp_path / "o.txt").index_to_key == ours.index_to_key
    with pytest.raises(HFEmbeddingsError):
        ours.save_word2vec_format(tmp_path / "x.txt", fvocab=tmp_path / "x.vocab")


def test_intersect_word2vec_format(tmp_path):
    rng = np.random.default_rng(11)
    other = gensim_models.KeyedVectors(DIM)
    other.add_vectors(["w1", "zz", "w30", "w499"], rng.standard_normal((4, DIM)).astype(np.float32))
    path = tmp_path / "other.txt"
    other.save_word2vec_format(path)
    ours, theirs = make_pair()
    ours.most_similar("w1")
    theirs.vectors_lockf = np.ones(len(theirs), dtype=np.float32)  # a plain gensim KeyedVectors lacks it
    ours.intersect_word2vec_format(path)
    theirs.intersect_word2vec_format(path)
    assert "zz" not in ours
    same_state(ours, theirs, queries=("w1", "w30", "w499"))
    bad = gensim_models.KeyedVectors(3)
    bad.add_vectors(["w1"], np.ones((1, 3), dtype=np.float32))
    bad.save_word2vec_format(tmp_path / "bad.txt")
    with pytest.raises(ValueError, match="vector size"):
        ours.intersect_word2vec_format(tmp_path / "bad.txt")


# --------------------------------------------------------------------------- save / load (no pickle)
def _mapped(path) -> bool:
    """Whether file `path` is memory-mapped into this process."""
    return str(Path(path).resolve()) in Path("/proc/self/maps").read_text()


@pytest.mark.parametrize("mmap", [None, "r"])
def test_save_load_round_trip_side_by_side(tmp_path, mmap):
    counts = np.random.default_rng(3).integers(1, 1000, N_WORDS)
    ours, theirs = make_pair(counts)
    ours.save(tmp_path / "ours.kv")
    theirs.save(str(tmp_path / "theirs.kv"), separately=["vectors"])  # gensim maps only what it stored apart
    mine = KeyedVectors.load(tmp_path / "ours.kv", mmap=mmap)
    ref = gensim_models.KeyedVectors.load(str(tmp_path / "theirs.kv"), mmap=mmap)
    assert mine.index_to_key == ref.index_to_key == ours.index_to_key
    assert mine.vectors.dtype == ref.vectors.dtype == np.float32
    np.testing.assert_array_equal(mine.vectors, ref.vectors)
    np.testing.assert_array_equal(mine.counts, ref.expandos["count"])
    for word in ("w10", "w1", "w30"):
        same_ranking(mine.most_similar(word), quiet(ref.most_similar, word))
    same_ranking(
        mine.most_similar_cosmul(["w1", "w2"], ["w3"]), quiet(ref.most_similar_cosmul, ["w1", "w2"], ["w3"])
    )
    assert isinstance(ref.vectors, np.memmap) == (mmap == "r")
    if sys.platform.startswith("linux"):
        assert _mapped(tmp_path / "ours.kv") == (mmap == "r")


def test_load_mmap_never_writes_the_file(tmp_path):
    """gensim's mmap="r" table is read-only; ours maps the file copy-on-write, so edits (which take a private
    copy of the table anyway) leave the file as it was, for every mode gensim accepts."""
    ours, _ = make_pair(np.arange(N_WORDS))
    path = tmp_path / "vectors.kv"
    ours.save(path)
    before = path.read_bytes()
    for mode in ("r", "c", "r+"):
        kv = KeyedVectors.load(path, mmap=mode)
        assert not kv.vectors.flags.writeable
        kv["w1"] = np.ones(DIM, dtype=np.float32)
        kv.add_vector("new", np.full(DIM, 2.0, dtype=np.float32))
        kv.set_vecattr("w2", "count", 10**6)
        kv.sort_by_descending_frequency()
        assert kv.index_to_key[0] == "w2" and kv["w1"].tolist() == [1.0] * DIM
        assert path.read_bytes() == before
    np.testing.assert_array_equal(KeyedVectors.load(path).vectors, ours.vectors)


def test_save_load_any_key_float64_and_attributes(tmp_path):
    words = ["a b", "new\nline", "tab\tkey", "ünïcødé", "", "\ud800", "日本"]
    vecs = np.random.default_rng(5).standard_normal((len(words), 3))  # float64
    ours = KeyedVectors.from_arrays(words, vecs, counts=np.arange(len(words)) * 7)
    ours.allocate_vecattrs(["weight"], [np.float32])
    ours.set_vecattr("日本", "weight", 0.5)
    with open(tmp_path / "handle.kv", "wb") as f:  # gensim's save also takes an open file
        ours.save(f, separately=None, sep_limit=1, ignore=frozenset(), pickle_protocol=4)
    for mmap in (None, "r"):
        again = KeyedVectors.load(tmp_path / "handle.kv", mmap=mmap)
        assert again.index_to_key == words and again.vectors.dtype == np.float64
        np.testing.assert_array_equal(again.vectors, vecs)
        np.testing.assert_array_equal(again.counts, ours.counts)
        assert again.get_vecattr("日本", "weight") == np.float32(0.5)
        assert again.expandos["weight"].dtype == np.float32
    empty = KeyedVectors.from_arrays([], np.zeros((0, 4), dtype=np.float32))
    empty.save(tmp_path / "empty.kv")
    assert len(KeyedVectors.load(tmp_path / "empty.kv", mmap="r")) == 0


def test_save_load_signatures_match_gensim():
    import inspect

    def names(fn):
        return [p for p in inspect.signature(fn).parameters if p not in ("self", "cls")]

    assert names(KeyedVectors.load) == names(gensim_models.KeyedVectors.load) == ["fname", "mmap"]
    gensim_save = inspect.signature(sys.modules["gensim.utils"].SaveLoad.save).parameters
    assert names(KeyedVectors.save) == [p for p in gensim_save if p != "self"]


def test_load_refuses_pickles_and_damaged_files(tmp_path):
    _, theirs = make_pair()
    theirs.save(str(tmp_path / "gensim.kv"))  # a pickle: never unpickled
    with pytest.raises(HFEmbeddingsError, match="not a KeyedVectors file saved by hf_embeddings.*pickles"):
        KeyedVectors.load(tmp_path / "gensim.kv")
    ours, _ = make_pair()
    ours.save(tmp_path / "ok.kv")
    data = (tmp_path / "ok.kv").read_bytes()
    (tmp_path / "cut.kv").write_bytes(data[: len(data) // 2])
    with pytest.raises(HFEmbeddingsError, match="cut.kv: not a KeyedVectors file"):
        KeyedVectors.load(tmp_path / "cut.kv", mmap="r")
    from safetensors.numpy import save_file

    save_file({"vectors": np.zeros((2, 2), dtype=np.float32)}, tmp_path / "other.safetensors")
    with pytest.raises(HFEmbeddingsError, match="metadata format None"):
        KeyedVectors.load(tmp_path / "other.safetensors")
    with pytest.raises(HFEmbeddingsError, match="not found"):
        KeyedVectors.load(tmp_path / "missing.kv")
    with pytest.raises(HFEmbeddingsError, match="mmap must be None or one of"):
        KeyedVectors.load(tmp_path / "ok.kv", mmap="w+")
    ours.allocate_vecattrs(["label"], [object])
    with pytest.raises(HFEmbeddingsError, match="only numeric attributes"):
        ours.save(tmp_path / "object.kv")
    assert not (tmp_path / "object.kv").exists()


# --------------------------------------------------------------------------- evaluation methods
def test_evaluate_word_pairs_method(pair, tmp_path):
    ours, theirs = pair
    rng = np.random.default_rng(2)
    lines = ["# comment"] + [
        f"w{a}\tw{b}\t{s:.2f}"
        for a, b, s in zip(rng.integers(0, 600, 80), rng.integers(0, 600, 80), rng.uniform(0, 10, 80))
    ]
    path = tmp_path / "pairs.tsv"
    path.write_text("\n".join(lines) + "\n")
    for kwargs in (dict(), dict(dummy4unknown=True), dict(restrict_vocab=200)):
        (p, pp), (s, sp), oov = ours.evaluate_word_pairs(path, **kwargs)
        rp, rs, roov = quiet(theirs.evaluate_word_pairs, path, **kwargs)
        np.testing.assert_allclose([p, pp, s, sp], [rp[0], rp[1], rs[0], rs[1]], atol=1e-4)
        assert oov == pytest.approx(roov)


@pytest.mark.parametrize("fn", ["most_similar", "most_similar_cosmul"])
def test_evaluate_word_analogies_method(pair, tmp_path, fn):
    ours, theirs = pair
    rng = np.random.default_rng(4)
    lines = []
    for section in ("capital-common", "gram1-adjective"):
        lines.append(f": {section}")
        for a, b, c in rng.integers(0, 60, (25, 3)):
            d = ours.most_similar([f"w{b}", f"w{c}"], [f"w{a}"], topn=1)[0][0] if rng.random() < 0.5 else "w3"
            lines.append(f"w{a} w{b} w{c} {d}")
    lines.append("w1 w2 w3 nope")
    path = tmp_path / "q.txt"
    path.write_text("\n".join(lines) + "\n")
    score, sections = ours.evaluate_word_analogies(path, similarity_function=fn)
    if fn == "most_similar":
        ref_score, ref_sections = quiet(theirs.evaluate_word_analogies, path, similarity_function=fn)
    else:  # gensim 4.4 ignores similarity_function (always 3CosAdd): compare with the module function
        from hf_embeddings.evaluation.intrinsic import evaluate_word_analogies

        r = evaluate_word_analogies(ours, path, method="3cosmul")
        ref_score = r["accuracy"]
        ref_sections = r["sections"] + [
            {
                "section": "Total accuracy",
                "correct": [q for s in r["sections"] for q in s["correct"]],
                "incorrect": [q for s in r["sections"] for q in s["incorrect"]],
            }
        ]
    assert score == pytest.approx(ref_score)
    assert [s["section"] for s in sections] == [s["section"] for s in ref_sections]
    for mine, ref in zip(sections, ref_sections):
        assert [tuple(q) for q in mine["correct"]] == [tuple(q) for q in ref["correct"]]
        assert [tuple(q) for q in mine["incorrect"]] == [tuple(q) for q in ref["incorrect"]]


def test_mutating_a_live_table_takes_a_private_copy():
    import torch

    words, vecs = make_table()
    weight = torch.nn.Parameter(torch.from_numpy(vecs.copy()))
    kv = KeyedVectors(lambda: weight, words)
    before = kv.most_similar("w10", topn=3)
    kv["w10"] = -vecs[10]
    assert torch.equal(weight.detach()[10], torch.from_numpy(vecs[10]))  # the parameter is untouched
    assert kv.most_similar("w10", topn=3) != before
    kv.add_vector("extra", vecs[3])
    assert kv.vectors.shape == (N_WORDS + 1, DIM) and kv.similarity("extra", "w3") == pytest.approx(1.0)
