"""The `next-word` pipeline: the top-k next words of an NNLM, with their probabilities.

Registered with transformers when `hf_embeddings` is imported (deferred until transformers' pipelines
are: see `hf_embeddings.pipelines.registry`). With a trained NNLM folder:

    from transformers import pipeline
    nxt = pipeline("next-word", model="out/nnlm")
    nxt("a small domesticated", top_k=3)  # [{'word': ..., 'probability': ..., 'token_id': ...}, ...]

The model sees only the last `context_size` words of the prompt (older ones cannot change the answer).
Words outside the vocabulary become `<unk>`, as in training; they are reported with a warning. An empty
prompt is an error: to ask for the first word of a sentence, use the prompt `<s>`. Special tokens
(`<pad>`, `<s>`) are never proposed; `</s>` (end of sentence) is, unless `skip_special_tokens=True`.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from transformers import Pipeline

TASK = "next-word"


class NextWordPipeline(Pipeline):
    """Top-k next words and their probabilities (which sum to at most 1) from an `NNLMForCausalLM`."""

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
        if skip_special_tokens is not None:
            post["skip_special_tokens"] = bool(skip_special_tokens)
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

    def postprocess(self, outputs: dict, top_k: int = 5, skip_special_tokens: bool = False) -> list[dict]:
        log_probs = outputs["log_probs"].clone()
        banned = [self.model.config.pad_token_id, self.model.config.bos_token_id]
        if skip_special_tokens:
            banned += [self.model.config.eos_token_id, self.model.config.unk_token_id]
        log_probs[[b for b in banned if b is not None]] = -torch.inf
        k = min(top_k, int(torch.isfinite(log_probs).sum()))
        values, ids = log_probs.topk(k)
        words = self.tokenizer.convert_ids_to_tokens(ids.tolist())
        return [
            {"word": w, "probability": float(v.exp()), "token_id": int(i)}
            for w, v, i in zip(words, values, ids)
        ]
