"""ELMo family entry: character CNN + biLSTM language model (Peters et al. 2018), its scalar mixes, task
heads, the original-weights converter and batch inference helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import TrainerCallback

from ..family import LM_TRAINING_ARGS, ModelFamily, TrainingData, lm_training_overrides, unwrap_batch
from .configuration_elmo import PRESETS, ElmoConfig
from .convert_elmo import config_from_options, export_original, from_original, load_original
from .data_elmo import SentenceBatches, bilm_perplexity, sentence_spans, vocabulary_char_table
from .layers_elmo import ElmoScalarMix
from .modeling_elmo import (
    ElmoForLanguageModeling,
    ElmoForSequenceClassification,
    ElmoForTokenClassification,
    ElmoModel,
    ElmoPreTrainedModel,
)
from .tokenization_elmo import ElmoCharacterTokenizer, encode_sentences, pad_char_batch, words_to_char_ids

TRAINING_PRESET = "tiny"
EVAL_MAX_TOKENS = 32768  # padded token slots per held-out batch: long lines come in small batches


def config_from_corpus(corpus, **options) -> ElmoConfig:
    """An ElmoConfig for training on `corpus`: the "tiny" preset unless options say otherwise, softmax over
    the corpus vocabulary (the family's `make_tokenizer` turns the corpus's tokenizer into the
    `ElmoCharacterTokenizer` saved with the model)."""
    return ElmoConfig(**{**PRESETS[TRAINING_PRESET], "vocab_size": len(corpus.tokenizer), **options})


class BiLMEvaluationCallback(TrainerCallback):
    """At the end of every epoch: held-out forward / backward / average perplexity into the log history
    (`eval_forward_perplexity`, `eval_backward_perplexity`, `eval_perplexity`, `eval_loss`)."""

    def __init__(self, batches: SentenceBatches):
        self.batches = batches
        self.history: list[dict] = []

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        result = bilm_perplexity(model, self.batches)
        entry = {f"eval_{k}": v for k, v in result.items() if k != "num_targets"}
        entry.update(epoch=state.epoch, step=state.global_step)
        self.history.append(entry)
        state.log_history.append(entry)


def build_training_data(
    corpus,
    config: ElmoConfig,
    *,
    seed: int = 0,
    device="cpu",
    eval_corpus=None,
    eval_batch_size: int | None = None,
) -> TrainingData:
    """Shuffled sentence batches of `corpus`; held-out batches of `eval_corpus` (or of a
    `config.validation_fraction` split of the lines) for the per-epoch forward/backward perplexity."""
    if eval_corpus is None:
        corpus, eval_corpus = corpus.held_out(config.validation_fraction, seed=seed)
    table = vocabulary_char_table(corpus.tokenizer, config.max_characters_per_token)
    train = SentenceBatches(
        corpus, batch_size=config.batch_size, max_length=config.max_sequence_length, shuffle=True, seed=seed,
        device=device, char_table=table,
    )  # fmt: skip
    evals, callbacks = None, []
    if eval_corpus is not None:
        evals = SentenceBatches(
            eval_corpus, batch_size=eval_batch_size or 4 * config.batch_size, shuffle=False, device=device,
            char_table=table, max_tokens=EVAL_MAX_TOKENS,
        )  # fmt: skip
        callbacks.append(BiLMEvaluationCallback(evals))
    overrides = lm_training_overrides(config)
    return TrainingData(
        train_dataset=train,
        data_collator=unwrap_batch,
        eval_dataset=evals,
        trainer_kwargs={"callbacks": callbacks},
        training_overrides=overrides,
    )


@torch.no_grad()
def embed_sentences(
    model: ElmoPreTrainedModel,
    tokenizer,
    sentences: list[str] | list[list[str]],
    batch_size: int = 32,
) -> list[np.ndarray]:
    """ELMo layers of every sentence: one float32 array (num_layers, num_tokens, 2 * projection_dim) per
    sentence (layer 0 = the token layer duplicated, then each biLSTM layer as [forward, backward]).

    Sentences are strings (split by `tokenizer`) or lists of words (kept as they are). They are processed
    in batches of similar length; the output order is the input order.

    Example:
        >>> model = ElmoModel(ElmoConfig.from_preset("tiny"))  # untrained: the shapes are what matters here
        >>> tokenizer = ElmoCharacterTokenizer.from_vocabulary([])
        >>> layers = embed_sentences(model, tokenizer, ["The cat sat .", "Hello"])
        >>> [layer.shape for layer in layers]  # 3 layers, 4 and 1 tokens, 2 * projection_dim
        [(3, 4, 256), (3, 1, 256)]
    """
    from .tokenization_elmo import split_sentences

    body = getattr(model, "elmo", model)
    words = split_sentences(tokenizer, sentences)
    order = np.argsort([len(w) for w in words], kind="stable")
    out: list[np.ndarray | None] = [None] * len(words)
    was_training = body.training
    body.eval()
    device = next(body.parameters()).device
    try:
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            enc = encode_sentences(
                tokenizer, [words[i] for i in idx], max_chars=body.config.max_characters_per_token
            )
            bilm = body.bilm(enc["char_ids"].to(device), enc["attention_mask"].to(device))
            layers = torch.stack(
                [body.remove_boundaries(t, bilm.token_mask) for t in body.layer_outputs(bilm)], 1
            )
            layers = layers.float().cpu().numpy()
            for k, i in enumerate(idx):
                out[i] = layers[k, :, : len(words[i])]
    finally:
        body.train(was_training)
    return out  # type: ignore[return-value]


FAMILY = ModelFamily(
    card_template=str(Path(__file__).with_name("card_elmo.md.j2")),
    name="elmo",
    config_class=ElmoConfig,
    model_class=ElmoModel,
    training_class=ElmoForLanguageModeling,
    tokenizer_class=ElmoCharacterTokenizer,
    build_training_data=build_training_data,
    make_config=config_from_corpus,
    make_tokenizer=ElmoCharacterTokenizer.from_word_tokenizer,
    capabilities=frozenset({"contextual"}),
    embed_sentences=embed_sentences,
    training_defaults={
        **LM_TRAINING_ARGS,
        "max_grad_norm": 5.0,
        "logging_steps": 50,
    },
    # opt-in (`hf-embeddings quickstart --models elmo`): a tiny biLM, ~2 minutes on 2 CPU cores
    quickstart={
        "config": {
            "char_embedding_dim": 8,
            "filters": [[1, 16], [2, 16], [3, 32], [4, 64]],
            "n_highway": 1,
            "projection_dim": 64,
            "lstm_dim": 128,
            "batch_size": 64,
            "max_sequence_length": 40,
            "learning_rate": 5e-3,
            "epochs": 1,
            "validation_fraction": 0.02,
        },
        "training": {"max_steps": 90},  # about a third of an epoch of the bundled corpus
        "min_count": 5,
        "opt_in": True,
    },
    extra_auto_classes={
        "AutoModelForSequenceClassification": ElmoForSequenceClassification,
        "AutoModelForTokenClassification": ElmoForTokenClassification,
    },
    description="ELMo (Peters et al. 2018): character CNN + biLSTM language model, contextual word vectors",
)

__all__ = [
    "FAMILY",
    "PRESETS",
    "BiLMEvaluationCallback",
    "ElmoCharacterTokenizer",
    "ElmoConfig",
    "ElmoForLanguageModeling",
    "ElmoForSequenceClassification",
    "ElmoForTokenClassification",
    "ElmoModel",
    "ElmoPreTrainedModel",
    "ElmoScalarMix",
    "SentenceBatches",
    "bilm_perplexity",
    "build_training_data",
    "config_from_options",
    "embed_sentences",
    "encode_sentences",
    "export_original",
    "from_original",
    "load_original",
    "pad_char_batch",
    "sentence_spans",
    "vocabulary_char_table",
    "words_to_char_ids",
]
