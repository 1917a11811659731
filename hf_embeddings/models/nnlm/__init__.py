"""NNLM family entry: the neural probabilistic language model of Bengio et al. (2003)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from transformers import TrainerCallback

from ...text.tokenization import WordTokenizer
from ..family import (
    LM_TRAINING_ARGS,
    ModelFamily,
    PipelineSpec,
    TrainingData,
    lm_training_overrides,
    unwrap_batch,
)
from .configuration_nnlm import NNLMConfig
from .data_nnlm import NGramBatches, ngram_windows, sentence_stream
from .kneser_ney import KneserNeyLM
from .modeling_nnlm import NNLMForCausalLM, NNLMModel, NNLMPreTrainedModel


def config_from_corpus(corpus, **options) -> NNLMConfig:
    """Return an NNLMConfig sized to the corpus's vocabulary."""
    return NNLMConfig(vocab_size=len(corpus.tokenizer), **options)


class PerplexityCallback(TrainerCallback):
    """Adds `eval_perplexity` = exp(eval_loss) to the evaluation metrics (and to the log history).

    `eval_loss` is the mean next-word NLL over the held-out windows: every batch row has exactly one
    labelled token and the Trainer weighs each batch's mean by its row count, so this is the corpus
    perplexity, not a mean of per-batch perplexities."""

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not metrics:
            return
        for key in [k for k in metrics if k.endswith("_loss")]:
            name = key[: -len("_loss")] + "_perplexity"
            try:
                metrics[name] = math.exp(metrics[key])
            except OverflowError:
                metrics[name] = math.inf
            for entry in reversed(state.log_history):
                if key in entry:
                    entry.setdefault(name, metrics[name])
                    break


def build_training_data(
    corpus,
    config: NNLMConfig,
    *,
    seed: int = 0,
    device="cpu",
    eval_corpus=None,
    eval_batch_size: int | None = None,
) -> TrainingData:
    """Shuffled (context + target) window batches of `corpus`; held-out windows of `eval_corpus` (or of a
    `config.validation_fraction` split of the lines) for the per-epoch held-out perplexity."""
    if eval_corpus is None:
        corpus, eval_corpus = corpus.held_out(config.validation_fraction, seed=seed)
    specials = {"bos_id": config.bos_token_id, "eos_id": config.eos_token_id}
    on_gpu = torch.device(device).type == "cuda"
    train = NGramBatches(
        corpus,
        config.context_size,
        batch_size=config.batch_size,
        shuffle=True,
        seed=seed,
        device=device,
        **specials,
    )
    evals = None
    if eval_corpus is not None:
        evals = NGramBatches(
            eval_corpus,
            config.context_size,
            batch_size=eval_batch_size or (8192 if on_gpu else 2048),
            shuffle=False,
            device=device,
            **specials,
        )
    overrides = lm_training_overrides(config)
    if evals is not None:
        overrides["eval_strategy"] = "epoch"
    return TrainingData(
        train_dataset=train,
        data_collator=unwrap_batch,
        eval_dataset=evals,
        trainer_kwargs={"callbacks": [PerplexityCallback()]},
        training_overrides=overrides,
    )


@torch.no_grad()
def token_log_probs(model: NNLMForCausalLM, corpus, *, batch_size: int = 4096) -> np.ndarray:
    """Natural-log probability the model gives every target of `corpus` (each word and each sentence's
    `</s>`, in corpus order, as `KneserNeyLM.log_probs` enumerates them), float64."""
    cfg = model.config
    windows = ngram_windows(corpus, cfg.context_size, bos_id=cfg.bos_token_id, eos_id=cfg.eos_token_id)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = np.empty(len(windows), np.float64)
    try:
        for lo in range(0, len(windows), batch_size):
            w = torch.as_tensor(windows[lo : lo + batch_size], device=device)
            out[lo : lo + len(w)] = -model.next_token_nll(w[:, :-1], w[:, -1]).double().cpu().numpy()
    finally:
        model.train(was_training)
    return out


def perplexity(model: NNLMForCausalLM, corpus, *, batch_size: int = 4096) -> dict:
    """Held-out perplexity of `corpus` through the package's `perplexity` metric: exp(total NLL / tokens)."""
    from ...evaluation import load_metric

    lp = token_log_probs(model, corpus, batch_size=batch_size)
    return load_metric("perplexity").compute(nll=[-math.fsum(lp)], n_tokens=[len(lp)])


FAMILY = ModelFamily(
    card_template=str(Path(__file__).with_name("card_nnlm.md.j2")),
    name="nnlm",
    config_class=NNLMConfig,
    model_class=NNLMModel,
    training_class=NNLMForCausalLM,
    tokenizer_class=WordTokenizer,
    build_training_data=build_training_data,
    make_config=config_from_corpus,
    training_defaults={
        **LM_TRAINING_ARGS,
        "max_grad_norm": 1.0,
        "logging_steps": 200,
    },
    # quickstart: 2 cores, a few minutes -> adaptive softmax and no direct connections (about 3x faster on
    # a CPU than with them); bench/nnlm_vs_ngram.py trains the paper's configurations
    quickstart={
        "config": {
            "context_size": 4,
            "embedding_dim": 60,
            "hidden_size": 100,
            "direct_connections": False,
            "adaptive_softmax": True,
            "batch_size": 512,
            "learning_rate": 2e-3,
            "epochs": 2,
            "validation_fraction": 0.02,
        },
        "min_count": 5,
    },
    extra_auto_classes={"AutoModelForCausalLM": NNLMForCausalLM},
    capabilities=frozenset({"static", "next_word"}),
    pipelines=(
        PipelineSpec(
            "next-word", "hf_embeddings.models.nnlm.pipeline_nnlm:NextWordPipeline", "AutoModelForCausalLM"
        ),
    ),
    description="NNLM (Bengio et al. 2003): feed-forward neural language model with word vectors",
    pipeline_tag="text-generation",
)


def __getattr__(name: str):
    if name == "NextWordPipeline":  # imported on demand: it pulls in transformers.pipelines
        from .pipeline_nnlm import NextWordPipeline

        return NextWordPipeline
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FAMILY",
    "KneserNeyLM",
    "NGramBatches",
    "NNLMConfig",
    "NNLMForCausalLM",
    "NNLMModel",
    "NNLMPreTrainedModel",
    "NextWordPipeline",
    "PerplexityCallback",
    "build_training_data",
    "ngram_windows",
    "perplexity",
    "sentence_stream",
    "token_log_probs",
]
