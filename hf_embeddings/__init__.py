"""hf_embeddings: classic word-embedding models (NNLM, Word2Vec, GloVe, ELMo) as transformers models.

`import hf_embeddings` registers every model family (ours and those other packages expose under the
`hf_embeddings.models` entry-point group) with AutoConfig / AutoModel / AutoTokenizer.
"""

from .corpus import TokenizedCorpus, load_corpus
from .errors import CorpusError, FormatError, HFEmbeddingsError
from .keyed_vectors import KeyedVectors, StaticEmbeddingMixin
from .registry import ModelFamily, discover_families, get_family, register_family
from .tokenization import WordTokenizer

__version__ = "0.1.0"

discover_families()

__all__ = [
    "CorpusError",
    "FormatError",
    "HFEmbeddingsError",
    "KeyedVectors",
    "ModelFamily",
    "StaticEmbeddingMixin",
    "TokenizedCorpus",
    "WordTokenizer",
    "discover_families",
    "get_family",
    "load_corpus",
    "register_family",
]
