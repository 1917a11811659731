"""hf_embeddings: classic word-embedding models (NNLM, Word2Vec, GloVe, ELMo) as transformers models.

`import hf_embeddings` registers every model family (ours and those other packages expose under the
`hf_embeddings.models` entry-point group) with AutoConfig / AutoModel / AutoTokenizer, and the
`word-similarity` pipeline with `transformers.pipeline`.
"""

from .corpus import TokenizedCorpus, load_corpus
from .errors import CorpusError, FormatError, HFEmbeddingsError
from .hub import push_folder, push_to_hub, save_model_folder
from .keyed_vectors import KeyedVectors, StaticEmbeddingMixin
from .pipeline_registry import register_pipeline_lazily as _register_pipeline_lazily
from .registry import ModelFamily, discover_families, get_family, register_family
from .tokenization import WordTokenizer

__version__ = "0.1.0"

discover_families()
_register_pipeline_lazily("word-similarity", "hf_embeddings.pipelines:WordSimilarityPipeline", "AutoModel")

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
    "push_folder",
    "push_to_hub",
    "register_family",
    "save_model_folder",
]
