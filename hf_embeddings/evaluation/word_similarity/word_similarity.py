"""Word-similarity metric: correlation of model similarities with human judgements (WordSim-353, SimLex-999...)."""

from __future__ import annotations

import math

import datasets
import evaluate
from scipy import stats

_DESCRIPTION = """\
Intrinsic word-similarity evaluation of word vectors. Each example is a word pair: the prediction is the
model's similarity for the pair (usually the cosine of the two word vectors), the reference the human
similarity judgement. The metric reports Spearman's rank correlation (the usual headline number) and
Pearson's linear correlation, with two-sided p-values (scipy).

Out-of-vocabulary pairs are never dropped silently: a prediction of None (or NaN) marks a pair the model
could not score. By default such pairs are left out of the correlations and counted in `n_oov`; with
`dummy4unknown=True` they are scored 0.0 instead, as gensim's `evaluate_word_pairs(dummy4unknown=True)`.
Pairs already removed before calling the metric can be counted with `n_oov`. `oov_ratio` is in percent
of all pairs, as gensim reports it.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `float` or None): model similarity of each pair; None/NaN = out of vocabulary.
    references (`list` of `float`): human similarity score of each pair.
    n_oov (`int`, default 0): extra pairs that were out of vocabulary and are not in the inputs.
    dummy4unknown (`bool`, default False): score OOV pairs as 0.0 instead of leaving them out.
Returns:
    spearman, spearman_pvalue, pearson, pearson_pvalue (`float`), n_pairs (`int`, all pairs, OOV
    included), n_oov (`int`), oov_ratio (`float`, percent of n_pairs).
Examples:
    >>> from hf_embeddings.evaluation import load_metric  # evaluate.load of this folder, offline
    >>> metric = load_metric("word_similarity")
    >>> r = metric.compute(predictions=[0.9, 0.5, 0.1, None], references=[9.0, 6.0, 1.0, 5.0])
    >>> round(r["spearman"], 3), r["n_oov"], r["oov_ratio"]
    (1.0, 1, 25.0)
"""

_CITATION = """\
@inproceedings{finkelstein2001placing,
  title={Placing search in context: the concept revisited},
  author={Finkelstein, Lev and Gabrilovich, Evgeniy and Matias, Yossi and Rivlin, Ehud and Solan, Zach
          and Wolfman, Gadi and Ruppin, Eytan},
  booktitle={Proceedings of the 10th International Conference on World Wide Web},
  pages={406--414},
  year={2001}
}
@article{hill2015simlex,
  title={SimLex-999: Evaluating Semantic Models With (Genuine) Similarity Estimation},
  author={Hill, Felix and Reichart, Roi and Korhonen, Anna},
  journal={Computational Linguistics},
  volume={41},
  number={4},
  pages={665--695},
  year={2015}
}
"""


def _is_missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class WordSimilarity(evaluate.Metric):
    """Spearman and Pearson correlation between model and human word-pair similarities, with OOV counts."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}
            ),
            reference_urls=[
                "https://www.cs.technion.ac.il/~gabr/resources/data/wordsim353/",
                "https://fh295.github.io/simlex.html",
                "https://radimrehurek.com/gensim/models/keyedvectors.html",
            ],
        )

    def _compute(self, predictions, references, n_oov: int = 0, dummy4unknown: bool = False) -> dict:
        model, human = [], []
        missing = 0
        for pred, ref in zip(predictions, references):
            if _is_missing(pred):
                missing += 1
                if not dummy4unknown:
                    continue
                pred = 0.0
            model.append(float(pred))
            human.append(float(ref))
        n_oov_total = missing + int(n_oov)
        n_pairs = len(predictions) + int(n_oov)
        if len(model) < 2:
            raise ValueError(
                f"word_similarity needs at least 2 scored pairs, got {len(model)} "
                f"({n_oov_total} of {n_pairs} out of vocabulary)"
            )
        spearman = stats.spearmanr(human, model)
        pearson = stats.pearsonr(human, model)
        return {
            "spearman": float(spearman[0]),
            "spearman_pvalue": float(spearman[1]),
            "pearson": float(pearson[0]),
            "pearson_pvalue": float(pearson[1]),
            "n_pairs": n_pairs,
            "n_oov": n_oov_total,
            "oov_ratio": 100.0 * n_oov_total / n_pairs if n_pairs else 0.0,
        }
