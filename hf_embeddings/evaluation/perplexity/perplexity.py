"""Perplexity from negative log-likelihoods: ``exp(total NLL / number of tokens)``, accumulated in float64."""

from __future__ import annotations

import math

import datasets
import evaluate

_DESCRIPTION = """\
Perplexity of a language model computed from negative log-likelihoods the model already produced (no model
is run here): perplexity = exp(sum of NLL / number of tokens), with the sum accumulated in float64 (exactly
rounded, `math.fsum`), so large corpora streamed with `add_batch` lose no precision.

Each example is either one token (`nll` = that token's negative log-likelihood, `n_tokens` omitted or 1),
or a block of tokens (`nll` = the summed NLL of the block, `n_tokens` = its token count), e.g. one row per
batch of a training loop. NLLs are natural-log (nats) by default; pass `log_base=2` for bits.
"""

_KWARGS_DESCRIPTION = """
Args:
    nll (`list` of `float`): per-token negative log-likelihoods, or per-block sums (with `n_tokens`).
        May also be passed as `predictions`.
    n_tokens (`list` of `int`, optional): tokens behind each `nll` value; default 1 each.
        May also be passed as `references`.
    log_base (`float`, optional): base of the logarithm the NLLs are in (default e).
Returns:
    perplexity (`float`), mean_nll (`float`, per token, in the input's log base), total_nll (`float`),
    n_tokens (`int`).
Examples:
    >>> from hf_embeddings.evaluation import load_metric  # evaluate.load of this folder, offline
    >>> metric = load_metric("perplexity")
    >>> metric.compute(nll=[math.log(2), math.log(8)])["perplexity"]  # exp(mean) = 4
    4.0
    >>> metric.compute(nll=[10.0, 2.0], n_tokens=[5, 1])["mean_nll"]
    2.0
"""

_CITATION = """\
@article{jelinek1977perplexity,
  title={Perplexity -- a measure of the difficulty of speech recognition tasks},
  author={Jelinek, Fred and Mercer, Robert L. and Bahl, Lalit R. and Baker, James K.},
  journal={The Journal of the Acoustical Society of America},
  volume={62},
  number={S1},
  pages={S63--S63},
  year={1977}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Perplexity(evaluate.Metric):
    """exp(mean negative log-likelihood) from per-token NLLs or (summed NLL, token count) blocks."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"nll": datasets.Value("float64"), "n_tokens": datasets.Value("int64")}
            ),
            reference_urls=["https://huggingface.co/docs/transformers/perplexity"],
        )

    @staticmethod
    def _fill(kwargs: dict, predictions, references) -> dict:
        if predictions is not None:
            kwargs.setdefault("nll", predictions)
        if references is not None:
            kwargs.setdefault("n_tokens", references)
        return kwargs

    def compute(self, *, predictions=None, references=None, **kwargs):
        """Perplexity of everything added so far plus these inputs (``n_tokens`` defaults to 1 per NLL)."""
        kwargs = self._fill(kwargs, predictions, references)
        if kwargs.get("nll") is not None and kwargs.get("n_tokens") is None:
            kwargs["n_tokens"] = [1] * len(kwargs["nll"])
        return super().compute(**kwargs)

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch of NLLs (``n_tokens`` defaults to 1 per NLL)."""
        kwargs = self._fill(kwargs, predictions, references)
        if kwargs.get("nll") is not None and kwargs.get("n_tokens") is None:
            kwargs["n_tokens"] = [1] * len(kwargs["nll"])
        return super().add_batch(**kwargs)

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Add one NLL (``n_tokens`` defaults to 1)."""
        if prediction is not None:
            kwargs.setdefault("nll", prediction)
        if reference is not None:
            kwargs.setdefault("n_tokens", reference)
        if kwargs.get("nll") is not None and kwargs.get("n_tokens") is None:
            kwargs["n_tokens"] = 1
        return super().add(**kwargs)

    def _compute(self, nll, n_tokens, log_base: float | None = None) -> dict:
        if len(nll) != len(n_tokens):
            raise ValueError(f"nll has {len(nll)} values but n_tokens has {len(n_tokens)}")
        if any(x is None for x in nll) or any(c is None for c in n_tokens):
            raise ValueError("nll and n_tokens must not contain missing values")
        if any(c < 0 for c in n_tokens):
            raise ValueError("n_tokens must be non-negative")
        total_tokens = int(sum(int(c) for c in n_tokens))
        if total_tokens == 0:
            raise ValueError("perplexity needs at least one token (n_tokens sums to 0)")
        total = math.fsum(float(x) for x in nll)
        mean = total / total_tokens
        scale = 1.0 if log_base is None else math.log(log_base)
        try:
            ppl = math.exp(mean * scale)
        except OverflowError:
            ppl = math.inf
        return {"perplexity": ppl, "mean_nll": mean, "total_nll": total, "n_tokens": total_tokens}
