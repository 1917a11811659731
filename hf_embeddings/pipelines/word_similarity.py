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
    >>> words({"pair": ["King", "QUEEN"]})  # normalised as the tokenizer normalises text
    {'words': ['king', 'queen'], 'score': 0.5}

Inputs: a word (its neighbours), a dict with `positive` / `negative` word lists (3CosAdd, or 3CosMul with
`cosmul=True`), or a dict with a `pair` of words (their cosine similarity); a list of those gives a list
of results. A word that is not a vocabulary key is normalised by the model's tokenizer (Unicode
normalisation, lowercasing: what the model's training text went through); an unknown word raises
`KeyError` naming the word, an empty one `HFEmbeddingsError`.
"""

from __future__ import annotations

from typing import Any

from transformers import Pipeline

from ..errors import HFEmbeddingsError
from .registry import register_pending

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
            return {"positive": [self._key(inputs)], "negative": []}
        if isinstance(inputs, dict):
            if "pair" in inputs:
                pair = list(inputs["pair"])
                if len(pair) != 2 or not all(isinstance(w, str) for w in pair):
                    raise ValueError(f"'pair' needs exactly two words, got {inputs['pair']!r}")
                return {"pair": [self._key(w) for w in pair]}
            positive = _words(inputs.get("positive", inputs.get("word")))
            negative = _words(inputs.get("negative"))
            if not positive and not negative:
                raise ValueError("give a word, or a dict with 'positive' / 'negative' words or a 'pair'")
            return {
                "positive": [self._key(w) for w in positive],
                "negative": [self._key(w) for w in negative],
            }
        raise ValueError(f"expected a word or a dict query, got {type(inputs).__name__}")

    def _key(self, word: str) -> str:
        """The vocabulary key of a query word: the word itself when it is one, else the word as the
        tokenizer normalises it ("King" -> "king"). An unknown word is returned as given (the lookup then
        raises `KeyError` naming it); an empty one is an `HFEmbeddingsError`."""
        kv = self.model.wv
        if word in kv:
            return word
        pieces = _pre_tokenize(self.tokenizer, word)
        if not pieces:
            raise HFEmbeddingsError(
                f"{TASK}: the query word {word!r} is empty (nothing is left of it once the tokenizer has "
                "normalised and split it): give a word of the vocabulary"
            )
        if len(pieces) == 1 and pieces[0] in kv:
            return pieces[0]
        normalized = _normalize(self.tokenizer, word).strip()  # a phrase key ("new york") stays reachable
        return normalized if normalized in kv else word

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


def _normalize(tokenizer: Any, text: str) -> str:
    normalizer = getattr(getattr(tokenizer, "backend_tokenizer", None), "normalizer", None)
    return normalizer.normalize_str(text) if normalizer is not None else text


def _pre_tokenize(tokenizer: Any, text: str) -> list[str]:
    """The words of `text` as the tokenizer splits them (`WordTokenizer.pre_tokenize`, or the backend's
    normaliser and pre-tokeniser for another `tokenizers`-backed tokenizer; whitespace splitting without
    one)."""
    if callable(getattr(tokenizer, "pre_tokenize", None)):
        return list(tokenizer.pre_tokenize(text))
    text = _normalize(tokenizer, text)
    pre = getattr(getattr(tokenizer, "backend_tokenizer", None), "pre_tokenizer", None)
    if pre is None:
        return text.split()
    return [w for w, _ in pre.pre_tokenize_str(text)]


register_pending()  # this module's own import may have loaded transformers' pipelines (see there)
