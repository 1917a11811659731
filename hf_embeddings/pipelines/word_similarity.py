"""The `word-similarity` pipeline: nearest words, analogies and pair similarities of a static word model.

Registered with transformers when `hf_embeddings` is imported (deferred until transformers' pipelines
are: see `pipeline_registry`). With a saved model folder:

    words = pipeline("word-similarity", model="out/w2v")

or a model and its tokenizer, here a toy table (3-d vectors: royal, male, female):

    >>> import torch
    >>> from transformers import pipeline
    >>> from hf_embeddings import WordTokenizer
    >>> from hf_embeddings.models.word2vec import Word2VecConfig, Word2VecModel
    >>> tok = WordTokenizer.train(["king king king king queen queen queen man man woman"], min_count=1)
    >>> model = Word2VecModel(Word2VecConfig(vocab_size=len(tok), vector_size=3))
    >>> with torch.no_grad():  # ids 0..3 are the special tokens, then the words by frequency
    ...     model.get_input_embeddings().weight[4:] = torch.tensor([[1.0, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1]])
    >>> words = pipeline("word-similarity", model=model, tokenizer=tok)
    >>> words("king", top_k=2)
    [{'word': 'man', 'score': 0.707}, {'word': 'queen', 'score': 0.5}]
    >>> words({"positive": ["king", "woman"], "negative": ["man"]}, top_k=1)
    [{'word': 'queen', 'score': 0.959}]
    >>> words({"pair": ["king", "queen"]})
    {'words': ['king', 'queen'], 'score': 0.5}

Inputs: a word (its neighbours), a dict with `positive` / `negative` word lists (3CosAdd, or 3CosMul with
`cosmul=True`), or a dict with a `pair` of words (their cosine similarity); a list of those gives a list
of results. Unknown words raise `KeyError` naming the word.
"""

from __future__ import annotations

from typing import Any

from transformers import Pipeline

from ..errors import HFEmbeddingsError

TASK = "word-similarity"


class WordSimilarityPipeline(Pipeline):
    """Word queries against the word table of a static embedding model (Word2Vec, GloVe, NNLM)."""

    _load_tokenizer = True
    _load_image_processor = False
    _load_feature_extractor = False
    _load_processor = False
    _load_video_processor = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not hasattr(type(self.model), "wv"):
            raise HFEmbeddingsError(
                f"the {TASK} pipeline needs a static word model; {type(self.model).__name__} has no word table "
                "(use the feature-extraction pipeline)"
            )
        self.model.attach_tokenizer(self.tokenizer)

    def _sanitize_parameters(
        self,
        top_k: int | None = None,
        cosmul: bool | None = None,
        restrict_vocab: int | None = None,
        **kwargs,
    ):
        forward: dict[str, Any] = {}
        if top_k is not None:
            if not isinstance(top_k, int) or top_k < 1:
                raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
            forward["top_k"] = top_k
        if cosmul is not None:
            forward["cosmul"] = bool(cosmul)
        if restrict_vocab is not None:
            forward["restrict_vocab"] = restrict_vocab
        return {}, forward, {}

    def preprocess(self, inputs: Any) -> dict:
        if isinstance(inputs, str):
            return {"positive": [inputs], "negative": []}
        if isinstance(inputs, dict):
            if "pair" in inputs:
                pair = list(inputs["pair"])
                if len(pair) != 2 or not all(isinstance(w, str) for w in pair):
                    raise ValueError(f"'pair' needs exactly two words, got {inputs['pair']!r}")
                return {"pair": pair}
            positive = _words(inputs.get("positive", inputs.get("word")))
            negative = _words(inputs.get("negative"))
            if not positive and not negative:
                raise ValueError("give a word, or a dict with 'positive' / 'negative' words or a 'pair'")
            return {"positive": positive, "negative": negative}
        raise ValueError(f"expected a word or a dict query, got {type(inputs).__name__}")

    def _forward(
        self, query: dict, top_k: int = 10, cosmul: bool = False, restrict_vocab: int | None = None
    ) -> dict:
        kv = self.model.wv
        if "pair" in query:
            return {"pair": query["pair"], "score": float(kv.similarity(*query["pair"]))}
        fn = kv.most_similar_cosmul if cosmul else kv.most_similar
        kwargs = {"restrict_vocab": restrict_vocab} if restrict_vocab is not None else {}
        results = fn(positive=query["positive"], negative=query["negative"], topn=top_k, **kwargs)
        return {"results": [(str(w), float(s)) for w, s in results]}

    def postprocess(self, outputs: dict) -> Any:
        if "pair" in outputs:
            return {"words": outputs["pair"], "score": outputs["score"]}
        return [{"word": w, "score": s} for w, s in outputs["results"]]


def _words(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(w) for w in value]
