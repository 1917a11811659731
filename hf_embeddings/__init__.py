"""hf_embeddings: classic word-embedding models (NNLM, Word2Vec, GloVe, ELMo) as transformers models."""

from .corpus import TokenizedCorpus, load_corpus
from .errors import CorpusError, FormatError, HFEmbeddingsError
from .tokenization import WordTokenizer

__version__ = "0.1.0"

__all__ = ["CorpusError", "FormatError", "HFEmbeddingsError", "TokenizedCorpus", "WordTokenizer", "load_corpus"]
