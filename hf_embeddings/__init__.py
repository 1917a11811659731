"""hf_embeddings: classic word-embedding models (NNLM, Word2Vec, GloVe, ELMo) as transformers models.

`import hf_embeddings` registers every model family (ours and those other packages expose under the
`hf_embeddings.models` entry-point group) with AutoConfig / AutoModel / AutoTokenizer, and the
`word-similarity` pipeline with `transformers.pipeline`.
"""

from .errors import CorpusError, FormatError, HFEmbeddingsError
from .hub.push import push_folder, push_to_hub
from .hub.save import save_model_folder
from .models.family import ModelFamily, discover_families, get_family, register_family
from .pipelines.registry import register_pipeline_lazily as _register_pipeline_lazily
from .text.corpus import TokenizedCorpus, load_corpus
from .text.tokenization import WordTokenizer
from .vectors.keyed_vectors import KeyedVectors
from .vectors.static_model import StaticEmbeddingMixin
from .version import __version__

discover_families()
_register_pipeline_lazily(
    "word-similarity", "hf_embeddings.pipelines.word_similarity:WordSimilarityPipeline", "AutoModel"
)

__all__ = [
    "CorpusError",
    "FormatError",
    "HFEmbeddingsError",
    "KeyedVectors",
    "ModelFamily",
    "StaticEmbeddingMixin",
    "TokenizedCorpus",
    "WordTokenizer",
    "__version__",
    "discover_families",
    "get_family",
    "load_corpus",
    "push_folder",
    "push_to_hub",
    "register_family",
    "save_model_folder",
]
