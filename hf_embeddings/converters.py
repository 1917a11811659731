"""Conversion between saved static models and other tools' vector files (word2vec C formats, GloVe text)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from .errors import HFEmbeddingsError
from .formats import (
    detect_vector_format,
    read_glove_format,
    read_word2vec_format,
    write_glove_format,
    write_word2vec_format,
)
from .tokenization import SPECIAL_TOKENS, WordTokenizer

FORMATS = ("auto", "word2vec", "word2vec-binary", "glove")


def read_vectors(path: str | os.PathLike, fmt: str = "auto", limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """Return (words, vectors) from a word2vec text/binary or GloVe text file (format detected by default)."""
    if fmt not in FORMATS:
        raise HFEmbeddingsError(f"unknown vector format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if not Path(path).is_file():
        raise HFEmbeddingsError(f"vector file not found: {path}")
    if fmt == "auto":
        fmt = {"word2vec_binary": "word2vec-binary", "word2vec_text": "word2vec", "glove_text": "glove"}[
            detect_vector_format(path)
        ]
    if fmt == "glove":
        return read_glove_format(path, limit=limit)
    return read_word2vec_format(path, binary=(fmt == "word2vec-binary"), limit=limit)


def import_vectors(
    path: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    fmt: str = "auto",
    limit: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a Word2VecModel folder (loadable with AutoModel) holding the vectors of a word2vec/GloVe file.

    The vocabulary is kept verbatim (no lowercasing or splitting: the file's words are the tokens). A
    file entry equal to one of our special tokens (word2vec files often start with `</s>`) fills that
    special row instead of becoming a word. The file has no counts, so none are saved.
    """
    from .api import _publish, check_output_dir
    from .models.word2vec import Word2VecConfig, Word2VecModel

    out = check_output_dir(output_dir, overwrite)
    words, vectors = read_vectors(path, fmt, limit)
    special_rows = {w: i for i, w in enumerate(words) if w in SPECIAL_TOKENS}
    keep = [i for i, w in enumerate(words) if w not in special_rows]
    tokenizer = WordTokenizer.from_vocabulary(
        [words[i] for i in keep], lowercase=False, unicode_normalization=None, split_punctuation=False
    )
    config = Word2VecConfig(vocab_size=len(tokenizer), vector_size=int(vectors.shape[1]), min_count=1)
    model = Word2VecModel(config)
    table = np.zeros((len(tokenizer), vectors.shape[1]), dtype=np.float32)
    table[len(SPECIAL_TOKENS) :] = vectors[keep]
    for word, row in special_rows.items():
        table[SPECIAL_TOKENS.index(word)] = vectors[row]
    with torch.no_grad():
        model.embeddings.weight.copy_(torch.from_numpy(table))
        model.output_embeddings.weight.zero_()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        _publish(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def export_vectors(model_path: str | os.PathLike, file: str | os.PathLike, *, fmt: str = "word2vec") -> None:
    """Write the word table of a saved static model (special tokens excluded) as word2vec or GloVe text."""
    from .api import load

    model, _ = load(model_path)
    if not hasattr(model, "wv"):
        raise HFEmbeddingsError(f"{model_path}: this model has no static word table to export")
    kv = model.wv
    words, vectors = list(kv.index_to_key), np.asarray(kv.vectors, dtype=np.float32)
    if fmt == "glove":
        write_glove_format(file, words, vectors)
    elif fmt in ("word2vec", "word2vec-binary"):
        write_word2vec_format(file, words, vectors, binary=(fmt == "word2vec-binary"))
    else:
        raise HFEmbeddingsError(f"unknown export format {fmt!r} (expected word2vec, word2vec-binary or glove)")
