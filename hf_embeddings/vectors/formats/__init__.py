"""Streaming, validating readers and atomic writers for classic word-vector files.

word2vec C-tool text and binary (with ``"N D"`` header) and headerless GloVe text, optionally
.gz/.bz2/.xz compressed. Bad files raise :class:`~hf_embeddings.errors.FormatError` naming the
file and line/entry; nothing here uses pickle.
"""

from .glove import iter_glove_format, read_glove_format, write_glove_format
from .word2vec import (
    detect_vector_format,
    iter_word2vec_format,
    read_word2vec_format,
    to_gensim_keyed_vectors,
    write_word2vec_format,
)

__all__ = [
    "detect_vector_format",
    "iter_glove_format",
    "iter_word2vec_format",
    "read_glove_format",
    "read_word2vec_format",
    "to_gensim_keyed_vectors",
    "write_glove_format",
    "write_word2vec_format",
]
