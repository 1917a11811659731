"""Intrinsic evaluation: identical to gensim's evaluate_word_pairs / evaluate_word_analogies, metric modules."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from scipy import stats

from hf_embeddings.errors import FormatError, HFEmbeddingsError
from hf_embeddings.evaluation import (
    builtin_benchmark_path,
    evaluate_static_embeddings,
    evaluate_word_analogies,
    evaluate_word_pairs,
    load_metric,
    metric_path,
)

gensim_models = pytest.importorskip("gensim.models")
GensimKV = gensim_models.KeyedVectors

DIM = 50
N_FILLER = 700


def _analogy_lines() -> list[str]:
    return builtin_benchmark_path("google_analogy").read_text(encoding="utf8").splitlines()


def _pair_words(name: str) -> list[str]:
    out = []
    for line in builtin_benchmark_path(name).read_text(encoding="utf8").splitlines():
        if line and not line.startswith("#"):
            out += line.split("\t")[:2]
    return out


@pytest.fixture(scope="module")
def gkv() -> GensimKV:
    """Words of the real benchmark files (minus some, for OOV), structured analogy offsets, case variants,
    duplicated vectors (exact ties) and filler words, in shuffled 'frequency' order."""
    rng = np.random.default_rng(1234)
    vec: dict[str, np.ndarray] = {}
    offset = None
    for line in _analogy_lines():
        if line.startswith(":"):
            offset = rng.standard_normal(DIM)
            continue
        a, b, c, e = line.split()
        for x, y in ((a, b), (c, e)):
            vec.setdefault(x, rng.standard_normal(DIM))
            vec.setdefault(y, vec[x] + offset + 0.7 * rng.standard_normal(DIM))
    for w in _pair_words("wordsim353") + _pair_words("simlex999"):
        vec.setdefault(w, rng.standard_normal(DIM))
    words = list(vec)
    rng.shuffle(words)
    keep = words[: int(0.95 * len(words))]  # 5% of the benchmark words are out of vocabulary
    entries = [(w, vec[w]) for w in keep]
    capitalised = [w for w in keep if w[:1].isupper()][:150]
    entries += [(w.lower(), vec[w] + 0.3 * rng.standard_normal(DIM)) for w in capitalised]  # case variants
    entries += [(w + "_twin", vec[w]) for w in keep[:120]]  # identical vectors: exact score ties
    entries += [(w.upper(), vec[w]) for w in keep[120:160] if w.upper() != w]
    entries += [(f"filler{i}", rng.standard_normal(DIM)) for i in range(N_FILLER)]
    seen: dict[str, np.ndarray] = {}
    for w, v in entries:
        seen.setdefault(w, v)
    vocab = list(seen)
    rng.shuffle(vocab)
    kv = GensimKV(DIM, count=0, dtype=np.float32)
    kv.add_vectors(vocab, np.stack([seen[w] for w in vocab]).astype(np.float32))
    return kv


@pytest.fixture(scope="module")
def restrict(gkv) -> int:
    return int(len(gkv) * 0.85)  # smaller than the vocabulary: restriction matters


@pytest.fixture(scope="module")
def questions_file(tmp_path_factory) -> str:
    """A subset of questions-words.txt (every 16th question of each section), plus lines gensim skips."""
    out, i = [], 0
    for line in _analogy_lines():
        if line.startswith(":"):
            out.append(line)
            i = 0
            continue
        if i % 16 == 0:
            out.append(line)
        i += 1
    out.insert(3, "only three words")
    out.insert(5, "")
    path = tmp_path_factory.mktemp("analogy") / "questions-subset.txt"
    path.write_text("\n".join(out) + "\n", encoding="utf8")
    return str(path)


# ------------------------------------------------------------------------------------------- word pairs
@pytest.mark.parametrize("name", ["wordsim353", "simlex999"])
@pytest.mark.parametrize("case_insensitive", [True, False])
@pytest.mark.parametrize("dummy4unknown", [False, True])
def test_word_pairs_identical_to_gensim(gkv, restrict, name, case_insensitive, dummy4unknown):
    path = builtin_benchmark_path(name)
    kwargs = dict(restrict_vocab=restrict, case_insensitive=case_insensitive, dummy4unknown=dummy4unknown)
    pearson, spearman, oov_ratio = gkv.evaluate_word_pairs(str(path), **kwargs)
    ours = evaluate_word_pairs(gkv, path, **kwargs)
    assert ours["pearson"] == pytest.approx(pearson[0], abs=1e-9)
    assert ours["pearson_pvalue"] == pytest.approx(pearson[1], abs=1e-9)
    assert ours["spearman"] == pytest.approx(spearman[0], abs=1e-9)
    assert ours["spearman_pvalue"] == pytest.approx(spearman[1], abs=1e-9)
    assert ours["oov_ratio"] == pytest.approx(oov_ratio, abs=1e-12)
    assert ours["n_oov"] == len(ours["oov_pairs"]) > 0
    assert ours["n_pairs"] == len(ours["similarities"]) == len(ours["human_scores"])
    assert sum(s is None for s in ours["similarities"]) == (0 if dummy4unknown else ours["n_oov"])


def test_oov_pairs_are_reported(gkv, restrict):
    res = evaluate_word_pairs(gkv, "wordsim353", restrict_vocab=restrict)
    vocab = {w.upper() for w in gkv.index_to_key[:restrict]}
    for w1, w2, score in res["oov_pairs"]:
        assert w1.upper() not in vocab or w2.upper() not in vocab
        assert isinstance(score, float)
    assert res["invalid_lines"] == []  # the two '#' lines are comments, not errors


def test_word_pairs_errors(tmp_path, gkv):
    bad = tmp_path / "pairs.tsv"
    bad.write_text("# header\nzzz\tyyy\t1.0\nnot a pair\n", encoding="utf8")
    res = evaluate_word_pairs(gkv, bad)  # nothing scorable: NaN correlations, counts kept, no exception
    assert np.isnan(res["spearman"]) and np.isnan(res["pearson"])
    assert (res["n_pairs"], res["n_oov"], res["invalid_lines"]) == (1, 1, [3])
    one = tmp_path / "one.tsv"
    w1, w2 = gkv.index_to_key[:2]
    one.write_text(f"{w1}\t{w2}\t5.0\nzzz\tyyy\t1.0\n", encoding="utf8")
    res = evaluate_word_pairs(gkv, one)  # a single scorable pair has no correlation either
    assert np.isnan(res["spearman"]) and res["n_oov"] == 1
    with pytest.raises(HFEmbeddingsError, match="no such file"):
        evaluate_word_pairs(gkv, tmp_path / "missing.tsv")


# ------------------------------------------------------------------------------------------- analogies
def _assert_same_sections(ours, gensim_score, gensim_sections):
    *sections, total = gensim_sections
    assert total["section"] == "Total accuracy"
    assert [s["section"] for s in ours["sections"]] == [s["section"] for s in sections]
    for mine, theirs in zip(ours["sections"], sections):
        assert mine["correct"] == theirs["correct"], mine["section"]
        assert mine["incorrect"] == theirs["incorrect"], mine["section"]
    assert ours["n_correct"] == len(total["correct"])
    assert ours["n_incorrect"] == len(total["incorrect"])
    assert ours["accuracy"] == gensim_score


@pytest.mark.parametrize(("case_insensitive", "dummy4unknown"), [(True, False), (False, False), (True, True)])
def test_word_analogies_identical_to_gensim(gkv, restrict, questions_file, case_insensitive, dummy4unknown):
    kwargs = dict(restrict_vocab=restrict, case_insensitive=case_insensitive, dummy4unknown=dummy4unknown)
    score, sections = gkv.evaluate_word_analogies(questions_file, **kwargs)
    ours = evaluate_word_analogies(gkv, questions_file, **kwargs)
    _assert_same_sections(ours, score, sections)
    assert 0.2 < ours["accuracy"] < 1.0  # structured vectors: a real mix of right and wrong answers
    assert ours["n_oov"] == len(ours["oov_questions"]) > 0
    assert ours["n_questions"] == len(ours["predictions"]) == len(ours["expected"])
    assert ours["invalid_lines"] == [4]  # "only three words" (the blank line is ignored)
    assert ours["semantic_n_correct"] + ours["syntactic_n_correct"] == ours["n_correct"]
    answered = [(p, e) for p, e in zip(ours["predictions"], ours["expected"]) if p is not None]
    assert sum(p == e for p, e in answered) == ours["n_correct"]


def test_exact_ties_are_rescored(gkv, restrict, questions_file, caplog):
    with caplog.at_level(logging.DEBUG, logger="hf_embeddings.evaluation.intrinsic"):
        evaluate_word_analogies(gkv, questions_file, restrict_vocab=restrict)
    line = next(r.getMessage() for r in caplog.records if "re-scored exactly" in r.getMessage())
    assert int(line.split()[0]) > 0  # the "_twin" words tie with the answers and go through the exact path


def _reference_cosmul(gkv, path, restrict, case_insensitive):
    """gensim's analogy loop with most_similar_cosmul over the first `restrict` words."""
    words = gkv.index_to_key[:restrict]
    small = GensimKV(DIM, count=0, dtype=np.float32)
    small.add_vectors(words, gkv.vectors[:restrict].copy())
    norm = str.upper if case_insensitive else str
    ok_vocab: dict[str, int] = {}
    for i, w in enumerate(words):
        ok_vocab.setdefault(norm(w), i)
    small.key_to_index = ok_vocab
    predictions = []
    for line in open(path, encoding="utf8"):
        parts = [norm(w) for w in line.split()]
        if line.startswith(": ") or len(parts) != 4:
            continue
        a, b, c, _ = parts
        if not all(w in ok_vocab for w in parts):
            predictions.append(None)
            continue
        predicted = None
        for key, _score in small.most_similar_cosmul(positive=[b, c], negative=[a], topn=5):
            predicted = norm(key)
            if predicted not in {a, b, c}:
                break
        predictions.append(predicted)
    return predictions


@pytest.mark.parametrize("case_insensitive", [True, False])
def test_3cosmul_matches_reference_loop(gkv, restrict, questions_file, case_insensitive):
    ours = evaluate_word_analogies(
        gkv, questions_file, restrict_vocab=restrict, case_insensitive=case_insensitive, method="3cosmul"
    )
    assert ours["predictions"] == _reference_cosmul(gkv, questions_file, restrict, case_insensitive)
    add = evaluate_word_analogies(
        gkv, questions_file, restrict_vocab=restrict, case_insensitive=case_insensitive
    )
    assert ours["predictions"] != add["predictions"]  # a different objective, not an alias


def test_analogy_errors(tmp_path, gkv):
    path = tmp_path / "q.txt"
    path.write_text("a b c d\n: sec\n", encoding="utf8")
    with pytest.raises(FormatError, match="line 1"):
        evaluate_word_analogies(gkv, path)
    with pytest.raises(HFEmbeddingsError, match="3cosadd"):
        evaluate_word_analogies(gkv, path, method="3cosfoo")


# ------------------------------------------------------------------------------------------- inputs
def test_duck_typed_inputs(gkv, restrict, questions_file):
    from hf_embeddings.vectors.keyed_vectors import KeyedVectors

    ref_pairs = evaluate_word_pairs(gkv, "simlex999", restrict_vocab=restrict)
    ref_ana = evaluate_word_analogies(gkv, questions_file, restrict_vocab=restrict)
    words, vectors = list(gkv.index_to_key), gkv.vectors.copy()
    for kv in ((words, vectors), KeyedVectors.from_arrays(words, vectors)):
        assert (
            evaluate_word_pairs(kv, "simlex999", restrict_vocab=restrict)["spearman"] == ref_pairs["spearman"]
        )
        assert (
            evaluate_word_analogies(kv, questions_file, restrict_vocab=restrict)["sections"]
            == ref_ana["sections"]
        )

    class NormedOnly:  # only the documented minimum: index_to_key + get_normed_vectors()
        index_to_key = words

        def get_normed_vectors(self):
            return gkv.get_normed_vectors()

    res = evaluate_word_analogies(NormedOnly(), questions_file, restrict_vocab=restrict)
    assert res["accuracy"] == pytest.approx(ref_ana["accuracy"], abs=0.01)  # same cosines up to float bits
    normed = evaluate_word_pairs(NormedOnly(), "simlex999", restrict_vocab=restrict)
    assert normed["spearman"] == pytest.approx(ref_pairs["spearman"], abs=1e-5)


# ------------------------------------------------------------------------------------------- suite, paths
def test_builtin_benchmark_path(monkeypatch):
    for name, fname in [("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")]:
        path = builtin_benchmark_path(name)
        assert path.name == fname and path.is_file()
    assert builtin_benchmark_path("google_analogy").name == "questions-words.txt"
    with pytest.raises(HFEmbeddingsError, match="pass a file path"):
        builtin_benchmark_path("men3000")
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(HFEmbeddingsError, match="pip install"):
        builtin_benchmark_path("wordsim353")


def test_evaluate_static_embeddings(gkv):
    res = evaluate_static_embeddings(gkv, restrict_vocab=30000)
    pearson, spearman, oov = gkv.evaluate_word_pairs(
        str(builtin_benchmark_path("wordsim353")), restrict_vocab=30000
    )
    assert res["wordsim353_spearman"] == pytest.approx(spearman[0], abs=1e-9)
    assert res["wordsim353_pearson"] == pytest.approx(pearson[0], abs=1e-9)
    assert res["wordsim353_oov_ratio"] == pytest.approx(oov)
    for key in ("simlex999_spearman", "simlex999_pearson", "simlex999_n_oov", "google_analogy_n_oov"):
        assert key in res
    assert res["google_analogy_n_questions"] == 19544
    assert 0.0 < res["google_analogy_accuracy"] < 1.0
    assert res["google_analogy_semantic_accuracy"] is not None
    assert res["google_analogy_syntactic_accuracy"] is not None


# ------------------------------------------------------------------------------------------- metric modules
@pytest.fixture()
def elsewhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # loading must not depend on the working directory


def test_word_similarity_metric(elsewhere):
    import evaluate

    metric = evaluate.load(str(metric_path("word_similarity")))
    assert "Spearman" in metric.description and "SimLex" in metric.citation
    preds = [0.9, 0.2, 0.5, None, 0.1]
    refs = [9.0, 3.0, 6.0, 5.0, 1.0]
    res = metric.compute(predictions=preds, references=refs)
    assert res["spearman"] == pytest.approx(1.0)
    assert res["pearson"] == pytest.approx(np.corrcoef([9.0, 3.0, 6.0, 1.0], [0.9, 0.2, 0.5, 0.1])[0, 1])
    assert (res["n_pairs"], res["n_oov"], res["oov_ratio"]) == (5, 1, 20.0)
    res = metric.compute(predictions=preds, references=refs, dummy4unknown=True, n_oov=5)
    assert res["spearman"] == pytest.approx(stats.spearmanr(refs, [0.9, 0.2, 0.5, 0.0, 0.1])[0])
    assert (res["n_pairs"], res["n_oov"], res["oov_ratio"]) == (10, 6, 60.0)


def test_word_analogy_metric(elsewhere, gkv, restrict, questions_file):
    metric = load_metric("word_analogy")
    assert "analogy" in metric.description and "mikolov" in metric.citation
    res = metric.compute(
        predictions=["queen", "Paris", None, "rome"], references=["queen", "paris", "x", "oslo"]
    )
    assert res == {
        "accuracy": 1 / 3,
        "accuracy_with_oov": 1 / 4,
        "n_correct": 1,
        "n_incorrect": 2,
        "n_oov": 1,
        "n_questions": 4,
    }
    assert metric.compute(predictions=["Paris"], references=["paris"], ignore_case=True)["accuracy"] == 1.0
    ours = evaluate_word_analogies(gkv, questions_file, restrict_vocab=restrict)
    res = metric.compute(predictions=ours["predictions"], references=ours["expected"])
    assert res["accuracy"] == ours["accuracy"] and res["n_oov"] == ours["n_oov"]


def test_perplexity_metric(elsewhere):
    metric = load_metric("perplexity")
    assert "perplexity" in metric.description.lower()
    nll = [2.5, 0.25, 3.75, 1.0]
    res = metric.compute(nll=nll)
    assert res["perplexity"] == pytest.approx(math.exp(7.5 / 4), rel=1e-15)
    assert res["n_tokens"] == 4
    # summed NLL per block + token counts, streamed
    metric.add_batch(nll=[10.0, 3.0], n_tokens=[4, 2])
    metric.add_batch(nll=[1.5])
    res = metric.compute()
    assert res["n_tokens"] == 7 and res["mean_nll"] == pytest.approx(14.5 / 7)
    assert res["perplexity"] == pytest.approx(math.exp(14.5 / 7), rel=1e-15)
    res = metric.compute(predictions=[1.0, 3.0], references=[1, 1], log_base=2)
    assert res["perplexity"] == pytest.approx(4.0)
    with pytest.raises(ValueError, match="at least one token"):
        metric.compute(nll=[1.0], n_tokens=[0])
