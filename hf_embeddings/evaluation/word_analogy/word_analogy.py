"""Word-analogy metric: accuracy of predicted answers to ``a : b :: c : ?`` questions (Google analogies...)."""

from __future__ import annotations

import datasets
import evaluate

_DESCRIPTION = """\
Intrinsic word-analogy evaluation of word vectors (Mikolov et al., 2013). Each example is one question
`a : b :: c : ?`; the prediction is the word the model answered (e.g. by 3CosAdd or 3CosMul), the reference
the expected word. Matching is exact (or case-insensitive with `ignore_case=True`).

A prediction of None marks a question the model could not answer because one of its words is out of
vocabulary. These are never dropped silently: they are counted in `n_oov`, and `accuracy` follows gensim's
default (`dummy4unknown=False`): correct / answered questions. `accuracy_with_oov` counts them as wrong
(gensim's `dummy4unknown=True`).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str` or None): the predicted word of each question; None = out of vocabulary.
    references (`list` of `str`): the expected word of each question.
    ignore_case (`bool`, default False): compare upper-cased words.
Returns:
    accuracy (`float`, correct / answered, 0.0 when nothing was answered), accuracy_with_oov (`float`,
    correct / all questions), n_correct, n_incorrect (answered but wrong), n_oov, n_questions (`int`).
Examples:
    >>> from hf_embeddings.evaluation import load_metric  # evaluate.load of this folder, offline
    >>> metric = load_metric("word_analogy")
    >>> metric.compute(predictions=["queen", "paris", None], references=["queen", "rome", "berlin"])
    {'accuracy': 0.5, 'accuracy_with_oov': 0.333, 'n_correct': 1, 'n_incorrect': 1, 'n_oov': 1, 'n_questions': 3}
"""

_CITATION = """\
@inproceedings{mikolov2013efficient,
  title={Efficient Estimation of Word Representations in Vector Space},
  author={Mikolov, Tomas and Chen, Kai and Corrado, Greg and Dean, Jeffrey},
  booktitle={1st International Conference on Learning Representations, Workshop Track},
  year={2013}
}
@inproceedings{levy2014linguistic,
  title={Linguistic Regularities in Sparse and Explicit Word Representations},
  author={Levy, Omer and Goldberg, Yoav},
  booktitle={Proceedings of the Eighteenth Conference on Computational Natural Language Learning},
  pages={171--180},
  year={2014}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class WordAnalogy(evaluate.Metric):
    """Analogy accuracy from predicted vs expected words, with out-of-vocabulary questions counted."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
            reference_urls=[
                "https://aclweb.org/aclwiki/Analogy_(State_of_the_art)",
                "https://radimrehurek.com/gensim/models/keyedvectors.html",
            ],
        )

    def _enforce_nested_string_type(self, schema, obj):
        # None (an out-of-vocabulary question) is a valid prediction, also as the first of a batch.
        if obj is None:
            return None
        return super()._enforce_nested_string_type(schema, obj)

    def _compute(self, predictions, references, ignore_case: bool = False) -> dict:
        correct = incorrect = oov = 0
        for pred, ref in zip(predictions, references):
            if pred is None:
                oov += 1
            elif (pred.upper() == ref.upper()) if ignore_case else (pred == ref):
                correct += 1
            else:
                incorrect += 1
        answered = correct + incorrect
        total = answered + oov
        return {
            "accuracy": correct / answered if answered else 0.0,
            "accuracy_with_oov": correct / total if total else 0.0,
            "n_correct": correct,
            "n_incorrect": incorrect,
            "n_oov": oov,
            "n_questions": total,
        }
