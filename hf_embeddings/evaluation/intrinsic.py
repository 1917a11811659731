"""Intrinsic evaluation of word vectors: word-pair similarity and word analogies.

The semantics are those of gensim's ``KeyedVectors.evaluate_word_pairs`` and
``KeyedVectors.evaluate_word_analogies`` (file formats, ``restrict_vocab``, ``case_insensitive``,
``dummy4unknown``, OOV accounting, the overall score), and the numbers are identical to gensim's:

* word pairs: each similarity is computed with the same float arithmetic gensim uses
  (``dot(unitvec(v1), unitvec(v2))``), so Pearson/Spearman are bit-for-bit the same;
* analogies: the questions are answered in large batched matrix products instead of one
  ``most_similar`` call per question. The query vector of each question is built with gensim's exact
  float32 arithmetic; the only difference left is the summation order inside the matrix product, whose
  error is bounded. Whenever that bound says the ranking of the candidates that decide the answer could
  differ from gensim's (near or exact ties), the question is re-scored exactly as gensim does it, with the
  same ``numpy.dot`` / ``argpartition`` / ``argsort`` calls. The predictions are therefore identical.

Any object with ``index_to_key`` (row order = frequency order) and ``get_normed_vectors()`` works
(gensim's ``KeyedVectors``, :class:`hf_embeddings.vectors.keyed_vectors.KeyedVectors`), as does a
``(words, vectors)`` tuple. When the object also exposes its raw ``vectors`` they are used, since gensim
computes on the raw table (cosines do not depend on the scale, only the last float bits do).
"""

from __future__ import annotations

import importlib.util
import io
import logging
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from scipy import stats
from scipy.linalg import blas as _blas

from ..errors import FormatError, HFEmbeddingsError
from ..text.sources import open_compressed

#: not bundled as remote code: a model loaded with trust_remote_code needs the package for this
__package_only__ = True

logger = logging.getLogger(__name__)

__all__ = [
    "BUILTIN_BENCHMARKS",
    "builtin_benchmark_path",
    "evaluate_static_embeddings",
    "evaluate_word_analogies",
    "evaluate_word_pairs",
]

#: Benchmarks shipped with gensim (``gensim/test/test_data``): name -> file name.
BUILTIN_BENCHMARKS: dict[str, str] = {
    "wordsim353": "wordsim353.tsv",
    "simlex999": "simlex999.txt",
    "google_analogy": "questions-words.txt",
}

_TOPN = 5  # gensim asks most_similar for the top 5 and walks them to skip the question words
_CHUNK_ELEMENTS = 1 << 24  # score-matrix elements per batch (64 MiB of float32)


class SupportsWordVectors(Protocol):
    """What the evaluation functions need from a word-vector object."""

    index_to_key: list[str]

    def get_normed_vectors(self) -> np.ndarray: ...


WordVectors = SupportsWordVectors | tuple[Sequence[str], Any]


# ---------------------------------------------------------------------------------------------- inputs
@dataclass
class _Table:
    words: list[str]
    vectors: np.ndarray  # (n, d), the raw table gensim computes on
    norms: np.ndarray  # (n,), as gensim's ``fill_norms``


def _as_table(kv: WordVectors) -> _Table:
    if isinstance(kv, tuple):
        if len(kv) != 2:
            raise HFEmbeddingsError("a word-vector tuple must be (words, vectors)")
        words, vectors = list(kv[0]), kv[1]
    else:
        if not hasattr(kv, "index_to_key"):
            raise HFEmbeddingsError(
                f"{type(kv).__name__} has no index_to_key: pass a KeyedVectors-like object or (words, vectors)"
            )
        words = list(kv.index_to_key)
        vectors = getattr(kv, "vectors", None)
        if vectors is None or getattr(vectors, "shape", None) is None or len(vectors) != len(words):
            vectors = kv.get_normed_vectors()
    if hasattr(vectors, "detach"):  # torch tensor
        vectors = vectors.detach().cpu().numpy()
    vectors = np.asarray(vectors)
    if vectors.dtype not in (np.float32, np.float64):
        vectors = vectors.astype(np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise HFEmbeddingsError(
            f"vectors have shape {vectors.shape}, expected ({len(words)}, dim): one row per word"
        )
    norms = None if isinstance(kv, tuple) else getattr(kv, "norms", None)
    if not (isinstance(norms, np.ndarray) and norms.shape == (len(words),) and norms.dtype == vectors.dtype):
        norms = np.linalg.norm(vectors, axis=1)
    return _Table(words, vectors, norms)


def _ok_vocab(
    words: list[str], restrict_vocab: int | None, case_insensitive: bool
) -> tuple[dict[str, int], int]:
    """Normalised word -> row over the first ``restrict_vocab`` rows; the first occurrence wins."""
    n = len(words) if restrict_vocab is None else max(0, min(int(restrict_vocab), len(words)))
    vocab: dict[str, int] = {}
    for i in range(n):
        vocab.setdefault(words[i].upper() if case_insensitive else words[i], i)
    return vocab, n


def _resolve_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists() and str(path) in BUILTIN_BENCHMARKS:
        return builtin_benchmark_path(str(path))
    if not p.is_file():
        raise HFEmbeddingsError(f"{p}: no such file")
    return p


def builtin_benchmark_path(name: str) -> Path:
    """Path of a benchmark file shipped with gensim: ``wordsim353``, ``simlex999`` or ``google_analogy``.

    Any file in the same format can be passed to the evaluation functions instead.
    """
    if name not in BUILTIN_BENCHMARKS:
        raise HFEmbeddingsError(
            f"unknown benchmark {name!r}: choose one of {sorted(BUILTIN_BENCHMARKS)} or pass a file path"
        )
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise HFEmbeddingsError(
            f"the {name} benchmark file comes with gensim, which is not installed: "
            "pip install 'gensim>=4.3', or pass the path of a file in the same format"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "test" / "test_data" / BUILTIN_BENCHMARKS[name]
    if not path.is_file():
        raise HFEmbeddingsError(
            f"{path} is missing from the installed gensim: pass the path of a file in the same format"
        )
    return path


# ------------------------------------------------------------------------------ gensim's float arithmetic
def _unitvec(vec: np.ndarray) -> np.ndarray:
    """``gensim.matutils.unitvec`` for a dense vector: float64 BLAS nrm2/scal, cast back to the input dtype."""
    length = _blas.dnrm2(vec)
    if length > 0.0:
        return _blas.dscal(1.0 / length, vec.astype(np.float64)).astype(vec.dtype)
    return vec


def _analogy_means(units: np.ndarray, ia: np.ndarray, ib: np.ndarray, ic: np.ndarray) -> np.ndarray:
    """Query vectors of ``b - a + c`` exactly as ``get_mean_vector(pre_normalize=True, post_normalize=True)``.

    gensim accumulates ``mean += weight * unit`` into a table-dtype buffer with float64 weights, divides by
    the float64 total weight (3.0, giving a float64 vector), then ``unitvec(...).astype(float32)``.
    """
    dt = units.dtype
    mean = (units[ib].astype(np.float64) + units[ic].astype(np.float64)).astype(dt)
    mean = (mean.astype(np.float64) - units[ia].astype(np.float64)).astype(dt)
    mean = mean.astype(np.float64) / 3.0
    lengths = np.array([_blas.dnrm2(row) for row in mean], dtype=np.float64)
    ok = lengths > 0.0
    mean[ok] *= (1.0 / lengths[ok])[:, None]
    return mean.astype(np.float32)


def _ranked(dists: np.ndarray, topn: int) -> np.ndarray:
    """Indices of the ``topn`` largest values, ordered (and tie-broken) like ``matutils.argsort(reverse=True)``."""
    neg = -dists
    if topn >= neg.size:
        return np.argsort(neg)[:topn]
    part = np.argpartition(neg, topn)[:topn]
    return part[np.argsort(neg[part])]


def _walk(candidates: Sequence[int], keys: list[str], ignore: set[str]) -> str | None:
    """gensim's choice among the top candidates: the first that is not a question word, else the last one."""
    predicted = None
    for i in candidates:
        predicted = keys[i]
        if predicted not in ignore:
            break
    return predicted


def _exact_cosadd(table: _Table, n: int, mean: np.ndarray, excluded: list[int]) -> list[int]:
    with np.errstate(divide="ignore", invalid="ignore"):
        dists = np.dot(table.vectors[:n], mean) / table.norms[:n]
    return [int(i) for i in _ranked(dists, _TOPN + len(excluded)) if i not in excluded][:_TOPN]


def _exact_cosmul(table: _Table, n: int, units: np.ndarray, ia: int, ib: int, ic: int) -> list[int]:
    vecs, norms = table.vectors[:n], table.norms[:n]

    def shifted(i: int) -> np.ndarray:
        return (1 + np.dot(vecs, units[i].copy()) / norms) / 2

    with np.errstate(divide="ignore", invalid="ignore"):
        dists = (shifted(ib) * shifted(ic)) / (shifted(ia) + 0.000001)
    excluded = {ia, ib, ic}
    return [int(i) for i in _ranked(dists, _TOPN + len(excluded)) if i not in excluded][:_TOPN]


# -------------------------------------------------------------------------------------------- word pairs
def evaluate_word_pairs(
    kv: WordVectors,
    pairs_path: str | os.PathLike,
    *,
    delimiter: str = "\t",
    encoding: str = "utf8",
    restrict_vocab: int | None = 300000,
    case_insensitive: bool = True,
    dummy4unknown: bool = False,
) -> dict[str, Any]:
    """Correlate model cosine similarities with human judgements (gensim's ``evaluate_word_pairs``).

    ``pairs_path``: lines ``word1<delimiter>word2<delimiter>score``; lines starting with ``#`` are comments,
    malformed lines are skipped (reported in ``invalid_lines``). A builtin benchmark name also works.
    Pairs with a word outside the first ``restrict_vocab`` rows are OOV: skipped, or scored 0.0 with
    ``dummy4unknown``; they are listed in ``oov_pairs`` as written in the file.

    Returns ``pearson``, ``pearson_pvalue``, ``spearman``, ``spearman_pvalue``, ``oov_ratio`` (percent of the
    valid pairs, as gensim), ``n_pairs`` (valid pairs, OOV included), ``n_oov``, ``oov_pairs``,
    ``invalid_lines`` (1-based), and the per-pair ``similarities`` (``None`` when OOV and not dummied) and
    ``human_scores``.
    """
    path = _resolve_path(pairs_path)
    table = _as_table(kv)
    vocab, _ = _ok_vocab(table.words, restrict_vocab, case_insensitive)
    units: dict[int, np.ndarray] = {}

    def unit(i: int) -> np.ndarray:
        if i not in units:
            units[i] = _unitvec(table.vectors[i])
        return units[i]

    gold: list[float] = []
    model: list[Any] = []
    similarities: list[float | None] = []
    human: list[float] = []
    oov_pairs: list[tuple[str, str, float]] = []
    invalid: list[int] = []
    with open_compressed(path) as raw, io.TextIOWrapper(raw, encoding=encoding) as fin:
        for line_no, line in enumerate(fin, start=1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split(delimiter)
            try:
                w1, w2, score_text = [f.upper() for f in fields] if case_insensitive else fields
                score = float(score_text)
            except (ValueError, TypeError):
                invalid.append(line_no)
                continue
            human.append(score)
            if w1 not in vocab or w2 not in vocab:
                oov_pairs.append((fields[0], fields[1], score))
                if dummy4unknown:
                    gold.append(score)
                    model.append(0.0)
                    similarities.append(0.0)
                else:
                    similarities.append(None)
                continue
            sim = np.dot(unit(vocab[w1]), unit(vocab[w2]))
            gold.append(score)
            model.append(sim)
            similarities.append(float(sim))
    if invalid:
        logger.info("%s: skipped %d malformed lines", path, len(invalid))
    if len(gold) < 2:
        # a correlation needs two scored pairs; a tiny vocabulary gets NaN figures and the OOV count,
        # not an exception that would abort a whole evaluation suite
        logger.warning(
            "%s: only %d similarity judgement(s) could be scored (%d pairs, %d out of vocabulary, "
            "%d malformed lines); correlations are NaN",
            path,
            len(gold),
            len(human),
            len(oov_pairs),
            len(invalid),
        )
        nan = float("nan")
        pearson, spearman = (nan, nan), (nan, nan)
    else:
        pearson = stats.pearsonr(gold, model)
        spearman = stats.spearmanr(gold, model)
    n_oov = len(oov_pairs)
    oov_ratio = n_oov / len(human) * 100.0
    logger.info("Pearson correlation coefficient against %s: %.4f", path, pearson[0])
    logger.info("Spearman rank-order correlation coefficient against %s: %.4f", path, spearman[0])
    logger.info("Pairs with unknown words ratio: %.1f%%", oov_ratio)
    return {
        "pearson": float(pearson[0]),
        "pearson_pvalue": float(pearson[1]),
        "spearman": float(spearman[0]),
        "spearman_pvalue": float(spearman[1]),
        "oov_ratio": oov_ratio,
        "n_pairs": len(human),
        "n_oov": n_oov,
        "oov_pairs": oov_pairs,
        "invalid_lines": invalid,
        "similarities": similarities,
        "human_scores": human,
    }


# ---------------------------------------------------------------------------------------------- analogies
@dataclass
class _Question:
    section: int
    words: tuple[str, str, str, str]  # normalised (upper-cased when case-insensitive)
    original: tuple[str, str, str, str]
    rows: tuple[int, int, int, int] | None  # None when out of vocabulary


def _read_questions(
    path: Path, vocab: dict[str, int], case_insensitive: bool
) -> tuple[list[str], list[_Question], list[int]]:
    sections: list[str] = []
    questions: list[_Question] = []
    invalid: list[int] = []
    with open_compressed(path) as fin:
        for line_no, raw in enumerate(fin, start=1):
            line = raw.decode("utf8")
            if not line.strip():
                continue
            if line.startswith(": "):
                sections.append(line.lstrip(": ").strip())
                continue
            if not sections:
                raise FormatError(
                    "analogy question before any section header", path=path, line=line_no, expected='": name"'
                )
            original = line.split()
            if len(original) != 4:
                invalid.append(line_no)
                continue
            words = tuple(w.upper() for w in original) if case_insensitive else tuple(original)
            rows = tuple(vocab[w] for w in words) if all(w in vocab for w in words) else None
            questions.append(_Question(len(sections) - 1, words, tuple(original), rows))
    return sections, questions, invalid


def _near_tie(vals: np.ndarray, errs: np.ndarray, last: int) -> bool:
    """Could the order of the top ``last + 2`` scores differ from gensim's, given per-score error bounds?"""
    gaps = vals[: last + 1] - vals[1 : last + 2]
    return not bool(np.all(gaps > errs[: last + 1] + errs[1 : last + 2]))  # NaN bounds count as ties


def _answer_batched(
    table: _Table,
    n: int,
    keys: list[str],
    questions: list[_Question],
    method: str,
) -> list[str | None]:
    """Predicted (normalised) word of every in-vocabulary question, identical to gensim's per-question loop."""
    import torch

    vectors, norms = table.vectors, table.norms
    with np.errstate(divide="ignore", invalid="ignore"):  # zero rows give NaN, as in gensim
        units = vectors[:n] / norms[:n, None]  # gensim's get_vector(key, norm=True)
    rows = np.array([q.rows for q in questions], dtype=np.int64).reshape(-1, 4)
    ia, ib, ic = rows[:, 0], rows[:, 1], rows[:, 2]
    means = _analogy_means(units, ia, ib, ic) if method == "3cosadd" else None

    d = vectors.shape[1]
    u = float(np.finfo(vectors.dtype).eps) / 2
    cos_err = (2 * d + 4) * u  # |difference| of two float dot products of unit-scaled rows, any order
    k = min(_TOPN + 1, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # read-only numpy tables: we never write to them
        cand = torch.from_numpy(vectors[:n])
        cand_norms = torch.from_numpy(norms[:n])
        units_t = torch.from_numpy(units)
    per_row = 1 if method == "3cosadd" else 6
    chunk = max(1, _CHUNK_ELEMENTS // max(1, n * per_row))
    predictions: list[str | None] = [None] * len(questions)
    n_exact = 0
    for start in range(0, len(questions), chunk):
        stop = min(start + chunk, len(questions))
        sel = slice(start, stop)
        b = stop - start
        with torch.no_grad():
            if method == "3cosadd":
                query = torch.from_numpy(means[sel]).to(cand.dtype)
                scores = (query @ cand.T).div_(cand_norms)
            else:
                idx = torch.from_numpy(np.concatenate([ia[sel], ib[sel], ic[sel]]))
                cos = (units_t[idx] @ cand.T).div_(cand_norms)
                shifted = cos.add_(1).div_(2)
                pa, pb, pc = shifted[:b], shifted[b : 2 * b], shifted[2 * b :]
                scores = (pb * pc).div_(pa + 0.000001)
            ar = torch.arange(b)
            for col in (ia, ib, ic):
                scores[ar, torch.from_numpy(col[sel])] = -math.inf
            scores.masked_fill_(scores.isnan(), -math.inf)  # zero rows: gensim's argsort puts NaN last
            vals_t, top_t = torch.topk(scores, k, dim=1)
            if method == "3cosmul":
                tops = [p.gather(1, top_t) for p in (pa, pb, pc)]
                rel = (cos_err / 2 + u) * (1 / tops[1] + 1 / tops[2] + 1 / (tops[0] + 0.000001)) + 8 * u
                errs_t = vals_t.abs() * rel
            else:
                errs_t = torch.full_like(vals_t, cos_err)
        vals, top, errs = vals_t.numpy(), top_t.numpy(), errs_t.numpy()
        for j in range(b):
            qi = start + j
            q = questions[qi]
            excluded = {int(ia[qi]), int(ib[qi]), int(ic[qi])}
            n_list = min(_TOPN, n - len(excluded))
            ignore = set(q.words[:3])
            pos = n_list - 1
            for p in range(n_list):
                if keys[top[j, p]] not in ignore:
                    pos = p
                    break
            stable = (
                n_list > 0
                and k >= n_list + 1
                and bool(np.all(np.isfinite(vals[j, : n_list + 1])))
                and not _near_tie(vals[j], errs[j], min(pos, k - 2))
            )
            if stable:
                predictions[qi] = _walk(top[j, :n_list].tolist(), keys, ignore)
                continue
            n_exact += 1
            if method == "3cosadd":
                ranked = _exact_cosadd(table, n, means[qi].copy(), [int(ib[qi]), int(ic[qi]), int(ia[qi])])
            else:
                ranked = _exact_cosmul(table, n, units, int(ia[qi]), int(ib[qi]), int(ic[qi]))
            predictions[qi] = _walk(ranked, keys, ignore)
    logger.debug("%d of %d analogy questions re-scored exactly (near ties)", n_exact, len(questions))
    return predictions


def _section_accuracy(correct: int, incorrect: int) -> float:
    return correct / (correct + incorrect) if correct + incorrect else 0.0


def evaluate_word_analogies(
    kv: WordVectors,
    questions_path: str | os.PathLike,
    *,
    restrict_vocab: int | None = 300000,
    case_insensitive: bool = True,
    dummy4unknown: bool = False,
    method: Literal["3cosadd", "3cosmul"] = "3cosadd",
) -> dict[str, Any]:
    """Answer ``a : b :: c : ?`` questions (gensim's ``evaluate_word_analogies``), batched.

    ``questions_path``: lines of 4 words split into sections by ``: section name`` lines (like gensim's
    ``questions-words.txt``); a builtin benchmark name also works. Only the first ``restrict_vocab`` rows are
    used, both for the OOV test and as answer candidates; the prediction is the best candidate that is not
    one of the three question words. ``method="3cosadd"`` is gensim's ``most_similar``;
    ``"3cosmul"`` is ``most_similar_cosmul`` (Levy & Goldberg 2014) over the same candidates.

    Returns ``accuracy`` (gensim's overall score: correct / evaluated, OOV questions counted as incorrect
    only with ``dummy4unknown``), ``n_correct``, ``n_incorrect``, ``n_oov``, ``n_questions``, ``oov_ratio``
    (percent), ``oov_questions`` (as written in the file), ``sections`` (one dict per section: ``section``,
    ``correct``/``incorrect`` lists of 4-tuples as gensim, ``n_correct``, ``n_incorrect``, ``n_oov``,
    ``accuracy``), ``semantic_*`` / ``syntactic_*`` totals (sections named ``gram*`` are syntactic; accuracy
    ``None`` when nothing was evaluated), ``invalid_lines`` (1-based), and per question ``predictions``
    (``None`` when OOV) and ``expected``.
    """
    method = method.lower()  # type: ignore[assignment]
    if method not in ("3cosadd", "3cosmul"):
        raise HFEmbeddingsError(f"unknown analogy method {method!r}: use '3cosadd' or '3cosmul'")
    path = _resolve_path(questions_path)
    table = _as_table(kv)
    vocab, n = _ok_vocab(table.words, restrict_vocab, case_insensitive)
    section_names, questions, invalid = _read_questions(path, vocab, case_insensitive)
    if not questions:
        raise HFEmbeddingsError(f"{path}: no analogy questions found ({len(invalid)} malformed lines)")
    keys = [w.upper() for w in table.words[:n]] if case_insensitive else table.words[:n]
    in_vocab = [q for q in questions if q.rows is not None]
    answers = iter(_answer_batched(table, n, keys, in_vocab, method) if in_vocab else [])

    sections = [
        {"section": name, "correct": [], "incorrect": [], "n_correct": 0, "n_incorrect": 0, "n_oov": 0}
        for name in section_names
    ]
    predictions: list[str | None] = []
    oov_questions: list[tuple[str, str, str, str]] = []
    for q in questions:
        sec = sections[q.section]
        if q.rows is None:
            predictions.append(None)
            oov_questions.append(q.original)
            sec["n_oov"] += 1
            if dummy4unknown:
                sec["incorrect"].append(q.words)
            continue
        predicted = next(answers)
        predictions.append(predicted)
        sec["correct" if predicted == q.words[3] else "incorrect"].append(q.words)

    result: dict[str, Any] = {}
    groups = {"semantic": [0, 0, 0], "syntactic": [0, 0, 0]}
    for sec in sections:
        sec["n_correct"], sec["n_incorrect"] = len(sec["correct"]), len(sec["incorrect"])
        sec["accuracy"] = _section_accuracy(sec["n_correct"], sec["n_incorrect"])
        if sec["n_correct"] + sec["n_incorrect"]:
            logger.info(
                "%s: %.1f%% (%i/%i)",
                sec["section"],
                100.0 * sec["accuracy"],
                sec["n_correct"],
                sec["n_correct"] + sec["n_incorrect"],
            )
        group = groups["syntactic" if sec["section"].startswith("gram") else "semantic"]
        group[0] += sec["n_correct"]
        group[1] += sec["n_incorrect"]
        group[2] += sec["n_oov"]
    n_correct = sum(s["n_correct"] for s in sections)
    n_incorrect = sum(s["n_incorrect"] for s in sections)
    accuracy = _section_accuracy(n_correct, n_incorrect)
    oov_ratio = len(oov_questions) / len(questions) * 100.0
    logger.info("Quadruplets with out-of-vocabulary words: %.1f%%", oov_ratio)
    logger.info("Total accuracy: %.1f%% (%i/%i)", 100.0 * accuracy, n_correct, n_correct + n_incorrect)
    result.update(
        accuracy=accuracy,
        n_correct=n_correct,
        n_incorrect=n_incorrect,
        n_oov=len(oov_questions),
        n_questions=len(questions),
        oov_ratio=oov_ratio,
        oov_questions=oov_questions,
        sections=sections,
    )
    for name, (good, bad, oov) in groups.items():
        result[f"{name}_accuracy"] = good / (good + bad) if good + bad else None
        result[f"{name}_n_correct"] = good
        result[f"{name}_n_incorrect"] = bad
        result[f"{name}_n_oov"] = oov
    result.update(
        invalid_lines=invalid,
        predictions=predictions,
        expected=[q.words[3] for q in questions],
    )
    return result


# -------------------------------------------------------------------------------------------- suite
def evaluate_static_embeddings(
    kv: WordVectors,
    *,
    restrict_vocab: int | None = 30000,
    pairs_restrict_vocab: int | None = 300000,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """WordSim-353 and SimLex-999 (Pearson, Spearman, OOV) and Google analogies (3CosAdd), as one flat dict.

    ``restrict_vocab`` (default 30000, the usual setting for the analogy benchmark) applies to the
    analogies; the pair benchmarks use ``pairs_restrict_vocab`` (gensim's default, 300000), which is how
    the reference figures we compare against were measured.
    Needs gensim installed for the benchmark files (see :func:`builtin_benchmark_path`). ``progress`` is
    called with each benchmark's name before it runs (the command line says what it is doing).
    """
    out: dict[str, Any] = {}
    for name in ("wordsim353", "simlex999"):
        if progress is not None:
            progress(name)
        res = evaluate_word_pairs(kv, builtin_benchmark_path(name), restrict_vocab=pairs_restrict_vocab)
        for key in ("spearman", "pearson", "oov_ratio", "n_oov", "n_pairs"):
            out[f"{name}_{key}"] = res[key]
    if progress is not None:
        progress("google_analogy")
    res = evaluate_word_analogies(kv, builtin_benchmark_path("google_analogy"), restrict_vocab=restrict_vocab)
    for key in (
        "accuracy",
        "semantic_accuracy",
        "syntactic_accuracy",
        "n_correct",
        "n_incorrect",
        "n_oov",
        "n_questions",
        "oov_ratio",
    ):
        out[f"google_analogy_{key}"] = res[key]
    return out
