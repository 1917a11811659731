"""Conversion between saved model folders and other tools' files: word2vec C formats and GloVe text
(`import_vectors` / `export_vectors`), sentence-transformers / model2vec static folders, and the original
ELMo weights (`convert_original`; the conversion itself is `models.elmo.from_original`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import HFEmbeddingsError
from ..text.tokenization import SPECIAL_TOKENS, WordTokenizer
from ..vectors.formats import (
    detect_vector_format,
    read_glove_format,
    read_word2vec_format,
)
from .folder import (
    CONFIG,
    CONVERSION_LOG,
    README,
    TRAINING_LOG,
    atomic_folder,
    check_output_dir,
    read_json,
    write_json,
)
from .light_folder import write_vector_file

FORMATS = ("auto", "word2vec", "word2vec-binary", "glove")
EXPORT_FORMATS = ("word2vec", "word2vec-binary", "glove", "static")
#: layout of a model2vec / sentence-transformers static-embedding folder
STATIC_TENSOR = "embeddings"  # model2vec's key; sentence-transformers' StaticEmbedding.load falls back to it


def read_vectors(
    path: str | os.PathLike,
    fmt: str = "auto",
    limit: int | None = None,
    *,
    allow_non_finite: bool = False,
    leading_rows: int = 0,
) -> tuple[list[str], np.ndarray]:
    """Return (words, vectors) from a word2vec text/binary or GloVe text file (format detected by default).

    A malformed file raises FormatError naming the file and line; NaN/inf values are refused unless
    `allow_non_finite`. `leading_rows` zero rows come first (`vectors[leading_rows + i]` is `words[i]`),
    so that a model's special rows cost no copy of the table."""
    if fmt not in FORMATS:
        raise HFEmbeddingsError(f"unknown vector format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if not Path(path).is_file():
        raise HFEmbeddingsError(f"vector file not found: {path}")
    if fmt == "auto":
        fmt = _detected_format(path)
    options = {"limit": limit, "allow_non_finite": allow_non_finite, "leading_rows": leading_rows}
    if fmt == "glove":
        return read_glove_format(path, **options)
    return read_word2vec_format(path, binary=(fmt == "word2vec-binary"), **options)


def _detected_format(path: str | os.PathLike) -> str:
    return {"word2vec_binary": "word2vec-binary", "word2vec_text": "word2vec", "glove_text": "glove"}[
        detect_vector_format(path)
    ]


def _package_version() -> str:
    from ..version import __version__

    return __version__


def import_vectors(
    path: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    fmt: str = "auto",
    limit: int | None = None,
    overwrite: bool = False,
    base_model: str | None = None,
    license: str | None = None,
    language: str | None = None,
    model: str = "word2vec",
    allow_non_finite: bool = False,
    lowercase: bool | None = None,
    split_punctuation: bool | None = None,
) -> Path:
    """Write a model folder (loadable with AutoModel) holding the vectors of a word2vec/GloVe file.

    `model` is the family of the folder ("word2vec" or "glove"): the file's vectors become its input
    embeddings. A Word2Vec folder stores them alone (its config says `imported_vectors`: the output table
    a file does not have starts at zero when loaded); a GloVe folder also stores its other parameters as
    zeros (context vectors and biases, so that W + W~ is the file's vectors too).

    The vocabulary is kept verbatim (the file's words are the tokens; keys with spaces stay reachable
    through the query API). How text is split into those words follows the vocabulary unless given:
    `lowercase` when no word has an upper-case letter (then "Paris" finds "paris"), `split_punctuation`
    when "," or "." are words themselves (vectors trained on punctuation-split text, as GloVe's). A
    file entry equal to one of our special tokens (word2vec files often start with `</s>`) fills that
    special row instead of becoming a word. The file has no counts, so none are saved. The folder is a
    complete Hub repo (remote code, card); `conversion.json` records the source file, and `base_model`
    (the Hub id the vectors come from, if any), `license` and `language` go to the card's metadata.
    A file with NaN or infinite values is refused (FormatError naming the line) unless
    `allow_non_finite`; nothing is written for a file that fails to read.

    Memory: the table is read once into the array that is saved (special rows first, no copy), written
    from it, and let go before the tokenizer is built (bench/vector_io.py: a 400k x 300 binary file,
    480 MB of table, peaks 460 MB above what the libraries themselves take).
    """
    from ..models.family import get_family

    family = get_family(model)
    check_output_dir(output_dir, overwrite)  # refused before the file is read
    if fmt == "auto" and Path(path).is_file():
        fmt = _detected_format(path)
    first = len(SPECIAL_TOKENS)
    words, table = read_vectors(path, fmt, limit, allow_non_finite=allow_non_finite, leading_rows=first)
    n_read, dim = len(words), int(table.shape[1])
    vocabulary = _special_rows_in_place(words, table)
    del words
    table = table[: first + len(vocabulary)]  # rows of the file's special entries, moved up, stay behind
    if lowercase is None:
        lowercase = all(w == w.lower() for w in vocabulary)
    if split_punctuation is None:
        split_punctuation = "," in vocabulary or "." in vocabulary
    conversion = {
        "source_file": Path(path).name,
        "format": fmt,
        "limit": limit,
        "vectors": n_read,
        "vector_size": dim,
        "lowercase": lowercase,
        "split_punctuation": split_punctuation,
        "hf_embeddings_version": _package_version(),
    }
    card = {k: v for k, v in (("base_model", base_model), ("license", license), ("language", language)) if v}
    options = {"vocab_size": len(table), "vector_size": dim, "min_count": 1}
    if hasattr(family.config_class(), "imported_vectors"):
        options["imported_vectors"] = True
    config = family.config_class(**options)

    def tokenizer_of(words: list[str]) -> WordTokenizer:
        return WordTokenizer.from_vocabulary(
            words, lowercase=lowercase, unicode_normalization=None, split_punctuation=split_punctuation
        )

    key = _only_saved_tensor(family, config)
    if key is None:  # the family saves more than the table: build the model (its other tensors zero)
        net = family.model_class(config)
        with torch.no_grad():
            for p in net.parameters():
                p.zero_()
            net.get_input_embeddings().weight.copy_(torch.from_numpy(table))
        del table
        return save_converted(
            net, tokenizer_of(vocabulary), output_dir, conversion, overwrite=overwrite, **card
        )
    from safetensors.numpy import save_file

    from ..vectors.light import LightKeyedVectors
    from .card import static_examples
    from .save import finalize_folder

    # the card's examples from the table in memory (numpy, no normalised copy), before it is let go
    examples = static_examples(LightKeyedVectors(table[first:], vocabulary))
    out = Path(output_dir)
    with atomic_folder(out, overwrite=overwrite) as tmp:
        # safetensors writes straight from the array (no torch tensor, no bytes copy); transformers' metadata
        save_file({key: table}, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        del table  # one large thing at a time: the tokenizer of a 3M-word file takes hundreds of MB
        tokenizer = tokenizer_of(vocabulary)
        del vocabulary
        tokenizer.save_pretrained(tmp)
        config.architectures = [family.model_class.__name__]  # what save_pretrained records
        config.dtype = torch.float32
        config.save_pretrained(tmp)
        write_json(tmp / CONVERSION_LOG, conversion, sort_keys=False)
        finalize_folder(tmp, family, tokenizer=tokenizer, examples=examples, model_name=out.name, **card)
    return out


def _special_rows_in_place(words: list[str], table: np.ndarray) -> list[str]:
    """The vocabulary of a table read with `len(SPECIAL_TOKENS)` leading rows (`read_vectors`): a file entry
    equal to a special token (word2vec files often start with `</s>`) moves to that token's row and the
    rows after it move up, a few thousand at a time, so the table is never copied whole."""
    first = len(SPECIAL_TOKENS)
    special = [(i, SPECIAL_TOKENS.index(w)) for i, w in enumerate(words) if w in SPECIAL_TOKENS]
    if not special:
        return words
    for i, row in special:
        table[row] = table[first + i]
    dropped = [i for i, _ in special] + [len(words)]
    target = first + dropped[0]
    step = max(1, (4 << 20) // max(table[0].nbytes, 1))  # rows per move: about 4 MiB
    for k, i in enumerate(dropped[:-1]):
        for start in range(first + i + 1, first + dropped[k + 1], step):
            stop = min(start + step, first + dropped[k + 1])
            table[target : target + stop - start] = table[start:stop]  # numpy buffers an overlap
            target += stop - start
    skip = set(dropped)
    return [w for i, w in enumerate(words) if i not in skip]


def _only_saved_tensor(family, config) -> str | None:
    """The state-dict key of the input table when it is all that `family`'s base model saves for `config`
    (a Word2Vec folder of imported vectors), else None; decided on the meta device, nothing allocated."""
    with torch.device("meta"):
        net = family.model_class(config)
    table = net.get_input_embeddings().weight
    ignored = set(getattr(net, "_keys_to_ignore_on_save", None) or ())
    saved = [k for k in net.state_dict() if k not in ignored]
    keys = [k for k, p in net.named_parameters() if p is table]
    return saved[0] if len(saved) == 1 and saved == keys else None


def save_converted(
    model,
    tokenizer,
    output_dir: str | os.PathLike,
    conversion_log: dict,
    *,
    overwrite: bool = False,
    **card_options: Any,
) -> Path:
    """Write a converted `model` + `tokenizer` as a complete model folder (remote code, card) with
    `conversion_log` (what was read: source file, format ...) as conversion.json; returns the folder.

    `card_options` (license, language, base_model ...) that are None or empty are left out.

    Example:

        model, tokenizer, log = from_original("options.json", "weights.hdf5")
        save_converted(model, tokenizer, "out/elmo", log, license="apache-2.0")
    """
    from .save import save_model_folder

    card = {k: v for k, v in card_options.items() if v}
    return save_model_folder(
        model, tokenizer, output_dir, conversion_log=conversion_log, overwrite=overwrite, **card
    )


def convert_original(
    options_file: str | os.PathLike,
    weights_file: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    overwrite: bool = False,
    license: str | None = None,
    base_model: str | None = None,
) -> Path:
    """Write a Hub-ready folder (AutoModel / AutoTokenizer) holding the original ELMo model of
    `options_file` + `weights_file` (bilm-tf / AllenNLP); returns it. Written aside, renamed at the end.

    Example:

        convert_original("options.json", "weights.hdf5", "out/elmo-original")
    """
    from ..models.elmo import from_original

    check_output_dir(output_dir, overwrite)
    model, tokenizer, log = from_original(
        options_file, weights_file
    )  # every check before anything is written
    return save_converted(
        model, tokenizer, output_dir, log, overwrite=overwrite, license=license, base_model=base_model
    )


def export_vectors(
    model_path: str | os.PathLike, file: str | os.PathLike, *, fmt: str = "word2vec", overwrite: bool = False
) -> None:
    """Write the word table of a saved static model (special tokens excluded) as word2vec or GloVe text,
    or (`fmt="static"`) a sentence-transformers / model2vec static-embedding folder (see `export_static_folder`)."""
    from .load import load

    if fmt not in EXPORT_FORMATS:
        raise HFEmbeddingsError(
            f"unknown export format {fmt!r} (expected one of {', '.join(EXPORT_FORMATS)})"
        )
    if fmt == "static":
        export_static_folder(model_path, file, overwrite=overwrite)
        return
    model, _ = load(model_path)
    if not hasattr(type(model), "wv"):
        raise HFEmbeddingsError(f"{model_path}: this model has no static word table to export")
    kv = model.wv
    write_vector_file(file, list(kv.index_to_key), np.asarray(kv.vectors, dtype=np.float32), fmt)


def export_static_folder(
    model_path: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    normalize: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write a static-embedding folder that sentence-transformers and model2vec load as they are.

    Layout (model2vec's, which `SentenceTransformer(path)` and `StaticModel.from_pretrained(path)` both
    read): `model.safetensors` with one float32 tensor `embeddings` (one row per tokenizer id),
    `tokenizer.json` (our word-level tokenizer: same normalisation and splitting), `config.json`
    (model2vec's keys plus where the vectors come from), `modules.json` (one StaticEmbedding module at the
    folder root, then Normalize if `normalize`) and a README. Sentence vectors are the mean of the word
    vectors. Special-token rows are written as zeros: they carry no word meaning (model2vec drops `<unk>`
    ids; sentence-transformers averages them in, so unknown words then only dilute the mean).

    Example:

        export_static_folder("out/w2v", "out/w2v-static")
        SentenceTransformer("out/w2v-static").encode(["the cat sat"])
    """
    from safetensors.numpy import save_file

    from .card import corpus_info
    from .load import load

    out = check_output_dir(output_dir, overwrite)
    model, tokenizer = load(model_path)
    if not hasattr(type(model), "word_table"):
        raise HFEmbeddingsError(f"{model_path}: this model has no static word table to export")
    with torch.no_grad():
        table = model.word_table().detach().to(torch.float32).cpu().numpy().copy()
    n_tok = len(tokenizer)
    table = table[:n_tok]
    for i in set(int(i) for i in tokenizer.all_special_ids):
        table[i] = 0.0
    source = Path(model_path)
    log = read_json(source / TRAINING_LOG, missing=None)
    config = {
        "model_type": "model2vec",
        "architectures": ["StaticModel"],
        "tokenizer_name": None,
        "apply_pca": None,
        "apply_zipf": None,
        "hidden_dim": int(table.shape[1]),
        "seq_length": 1000000,
        "normalize": normalize,
        "hf_embeddings": {
            "exported_from": source.name,
            "model_type": model.config.model_type,
            "hf_embeddings_version": _package_version(),
        },
    }
    modules = [{"idx": 0, "name": "0", "path": ".", "type": "sentence_transformers.models.StaticEmbedding"}]
    if normalize:
        modules.append(
            {"idx": 1, "name": "1", "path": "1_Normalize", "type": "sentence_transformers.models.Normalize"}
        )
    with atomic_folder(out, overwrite=overwrite) as tmp:
        save_file({STATIC_TENSOR: np.ascontiguousarray(table)}, str(tmp / "model.safetensors"))
        backend = _standalone_backend(tokenizer)
        backend.save(str(tmp / "tokenizer.json"))
        write_json(tmp / CONFIG, config, sort_keys=False)
        write_json(tmp / "modules.json", modules, sort_keys=False)
        if normalize:
            (tmp / "1_Normalize").mkdir()
            (tmp / "1_Normalize" / CONFIG).write_text("{}\n", encoding="utf-8")
        corpus = corpus_info(log)
        _write_static_card(
            tmp,
            name=out.name,
            source=source.name,
            dim=int(table.shape[1]),
            rows=n_tok,
            license=corpus.get("license") or "unknown",
            normalize=normalize,
        )
    return out


def _standalone_backend(tokenizer):
    """A standalone copy of the `tokenizers.Tokenizer` behind `tokenizer`, without padding or truncation."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.no_padding()
    backend.no_truncation()
    return backend


def _write_static_card(
    folder: Path, *, name: str, source: str, dim: int, rows: int, license: str, normalize: bool
) -> None:
    from huggingface_hub import ModelCard, ModelCardData

    data = ModelCardData(
        model_name=name,
        library_name="model2vec",
        license=license,
        tags=["embeddings", "static-embeddings", "sentence-transformers", "hf-embeddings"],
        pipeline_tag="sentence-similarity",
    )
    body = f"""
# {name}

Static word embeddings exported by hf-embeddings from the model folder `{source}`: {rows:,} rows of
dimension {dim} (the tokenizer's words and special tokens, special-token rows zeroed). A text's
vector is the mean of its words' vectors{", L2-normalised" if normalize else ""}.

```python
from model2vec import StaticModel
model = StaticModel.from_pretrained("path/to/{name}")
model.encode(["a sentence"])

from sentence_transformers import SentenceTransformer
model = SentenceTransformer("path/to/{name}")
model.encode(["a sentence"])
```

Evaluation, training data and limitations: see the card of the original model folder.
"""
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")
    (folder / README).write_text(str(card), encoding="utf-8")
