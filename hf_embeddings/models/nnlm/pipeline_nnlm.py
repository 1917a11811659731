"""The `next-word` pipeline: the top-k next words of an NNLM, with their probabilities.

Registered with transformers when `hf_embeddings` is imported (deferred until transformers' pipelines
are: see `hf_embeddings.pipelines.registry`). With a trained NNLM folder:

    from transformers import pipeline
    nxt = pipeline("next-word", model="out/nnlm")
    ranked = nxt("a small domesticated", top_k=3)  # [{'word': ..., 'probability': ..., 'token_id': ...}, ...]
    ranked.unknown_probability          # the mass of words outside the vocabulary (<unk>)
    ranked.end_of_sentence_probability  # the mass of "the sentence ends here" (</s>)

The result is a list of the top-k words (a `NextWords`, a list with those two attributes): only words,
never `<unk>`, `</s>`, `<pad>` or `<s>`. The probabilities are the model's, not renormalised: with the
unknown and end-of-sentence masses they sum to at most 1.

The model sees only the last `context_size` words of the prompt (older ones cannot change the answer).
Words outside the vocabulary become `<unk>`, as in training; they are reported with a warning. An empty
prompt is an error: to ask for the first word of a sentence, use the prompt `<s>`.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from transformers import Pipeline

from ...pipelines.registry import register_pending

TASK = "next-word"


class NextWords(list):
    """The ranked next words (a list of `{"word", "probability", "token_id"}` dicts) and the probability
    mass the list leaves out: `unknown_probability` (`<unk>`, words outside the vocabulary) and
    `end_of_sentence_probability` (`</s>`)."""

    def __init__(
        self, words=(), *, unknown_probability: float = 0.0, end_of_sentence_probability: float = 0.0
    ):
        super().__init__(words)
        self.unknown_probability = unknown_probability
        self.end_of_sentence_probability = end_of_sentence_probability

    def __repr__(self) -> str:
        return (
            f"NextWords({list.__repr__(self)}, unknown_probability={self.unknown_probability!r}, "
            f"end_of_sentence_probability={self.end_of_sentence_probability!r})"
        )


class NextWordPipeline(Pipeline):
    """Top-k next words and their probabilities from an `NNLMForCausalLM`, as a `NextWords` list that also
    gives the probability of an unknown word and of the end of the sentence."""

    _load_tokenizer = True
    _load_image_processor = False
    _load_feature_extractor = False
    _load_processor = False
    _load_video_processor = False

    def _sanitize_parameters(
        self, top_k: int | None = None, skip_special_tokens: bool | None = None, **kwargs
    ):
        post: dict[str, Any] = {}
        if top_k is not None:
            if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
                raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
            post["top_k"] = top_k
        # `skip_special_tokens` is accepted for compatibility: special tokens are never listed now
        return {}, {}, post

    def preprocess(self, inputs: Any) -> dict:
        if not isinstance(inputs, str):
            raise ValueError(f"next-word expects a prompt string, got {type(inputs).__name__}")
        enc = self.tokenizer(inputs, add_special_tokens=False, return_offsets_mapping=True)
        if not enc["input_ids"]:
            raise ValueError(
                "empty prompt: give at least one word (use '<s>' for the first word of a sentence)"
            )
        n = self.model.config.context_size
        ids, spans = enc["input_ids"][-n:], enc["offset_mapping"][-n:]  # what the model can see
        unk, unk_token = self.tokenizer.unk_token_id, self.tokenizer.unk_token
        unknown = [inputs[a:b] for i, (a, b) in zip(ids, spans) if i == unk and inputs[a:b] != unk_token]
        if unknown:
            warnings.warn(f"words not in the vocabulary, read as {unk_token}: {unknown}", stacklevel=4)
        return {"input_ids": torch.tensor([ids], dtype=torch.long)}

    def _forward(self, model_inputs: dict) -> dict:
        logits = self.model(input_ids=model_inputs["input_ids"], logits_to_keep=1).logits[0, -1]
        return {"log_probs": torch.log_softmax(logits.float(), dim=-1)}

    def postprocess(self, outputs: dict, top_k: int = 5) -> NextWords:
        probs = outputs["log_probs"].exp()
        cfg = self.model.config
        unk, eos = getattr(cfg, "unk_token_id", None), cfg.eos_token_id
        special = {unk, eos, cfg.pad_token_id, cfg.bos_token_id, *self.tokenizer.all_special_ids}
        special = [t for t in special if t is not None and 0 <= t < len(probs)]
        unknown = float(probs[unk]) if unk is not None else 0.0
        end = float(probs[eos]) if eos is not None else 0.0
        log_probs = outputs["log_probs"].clone()
        log_probs[special] = -torch.inf
        k = min(top_k, int(torch.isfinite(log_probs).sum()))
        values, ids = log_probs.topk(k)
        words = self.tokenizer.convert_ids_to_tokens(ids.tolist())
        ranked = [
            {"word": w, "probability": float(v.exp()), "token_id": int(i)}
            for w, v, i in zip(words, values, ids)
        ]
        return NextWords(ranked, unknown_probability=unknown, end_of_sentence_probability=end)


register_pending()  # this module's own import may have loaded transformers' pipelines (see there)
