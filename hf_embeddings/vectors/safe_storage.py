"""`KeyedVectors.save` / `load` files, and memory-mapped reading of safetensors files.

gensim's `KeyedVectors.save` pickles the object (and unpickling a file runs code from it); ours writes one
safetensors file, which holds only arrays and string metadata:

* ``vectors``: the ``(n, dim)`` table, float32 or float64, as it is;
* ``keys.utf8`` / ``keys.offsets``: the words, UTF-8 bytes end to end and ``n + 1`` byte offsets (any
  string survives, newlines and spaces included);
* ``vecattr.NAME``: each per-word attribute (``counts`` is ``vecattr.count``), numeric dtypes only;
* metadata ``{"format": "hf_embeddings.KeyedVectors", "format_version": "1"}``.

`map_safetensors` maps the tensors of such a file (or of a model folder's ``model.safetensors``) with
numpy, after safetensors' own ``safe_open`` has validated it: ``safe_open(..., framework="np")`` copies a
tensor out of its map, a ``numpy.memmap`` at the tensor's offset does not, so a 400k x 300 table costs no
time to open and is read from the page cache as it is used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import IO

import numpy as np

from ..errors import FormatError, HFEmbeddingsError
from ..files import atomic_file

#: not bundled as remote code: a model loaded with trust_remote_code needs the package for this
__package_only__ = True

__all__ = ["MMAP_MODES", "map_safetensors", "read_keyed_vectors", "write_keyed_vectors"]

FORMAT = "hf_embeddings.KeyedVectors"
FORMAT_VERSION = "1"
VECTORS, KEYS, OFFSETS, ATTR = "vectors", "keys.utf8", "keys.offsets", "vecattr."
#: `load(mmap=...)`: gensim's (numpy's) modes -> numpy.memmap mode. All map copy-on-write: the file is
#: never written and the table is shared through the page cache, yet an in-place edit of the table tensor
#: cannot crash the process on a read-only page (it gets private pages). KeyedVectors' mutations copy the
#: table first anyway, so "r+" (gensim: edits reach the file) would have nothing to write back
MMAP_MODES = {"r": "c", "c": "c", "r+": "c"}
#: safetensors dtype -> numpy dtype (little-endian, as the format stores it)
_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
    "BOOL": "?",
}  # fmt: skip


def map_safetensors(path: str | os.PathLike, mode: str = "r") -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors of safetensors file `path` as `numpy.memmap`s of `mode` ("r", "c" or "r+"), and its
    metadata. The file is validated by `safetensors.safe_open` first (header, offsets, sizes); raises
    `safetensors.SafetensorError` or `OSError` for a damaged or missing one, `FormatError` for a dtype
    numpy has no type for (bfloat16)."""
    from safetensors import safe_open

    with safe_open(os.fspath(path), framework="np") as f:
        metadata = dict(f.metadata() or {})
        layout = {
            name: (f.get_slice(name).get_dtype(), tuple(f.get_slice(name).get_shape())) for name in f.keys()
        }
    with open(path, "rb") as f:  # the layout safe_open has just checked: 8-byte length, JSON header, data
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
    tensors = {}
    for name, (dtype, shape) in layout.items():
        if dtype not in _DTYPES:
            raise FormatError(f"tensor {name!r} has dtype {dtype}, which numpy cannot map", path=path)
        begin, end = header[name]["data_offsets"]
        if end == begin:  # numpy cannot map zero bytes
            tensors[name] = np.zeros(shape, dtype=_DTYPES[dtype])
        else:
            tensors[name] = np.memmap(
                path, dtype=_DTYPES[dtype], mode=mode, offset=8 + size + begin, shape=shape
            )
    return tensors, metadata


def write_keyed_vectors(
    target: str | os.PathLike | IO[bytes],
    words: Sequence[str],
    vectors: np.ndarray,
    attributes: Mapping[str, np.ndarray],
) -> None:
    """Write `words`, `vectors` and the per-word `attributes` to `target` (a path, written through a
    temporary renamed into place, or a binary file object)."""
    from safetensors.numpy import save

    encoded = [w.encode("utf-8", "surrogatepass") for w in words]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    tensors = {
        VECTORS: np.ascontiguousarray(vectors),
        KEYS: np.frombuffer(b"".join(encoded), dtype=np.uint8),
        OFFSETS: offsets,
    }
    for name, values in attributes.items():
        values = np.ascontiguousarray(values)
        if values.dtype.kind not in "biuf":
            raise HFEmbeddingsError(
                f"vector attribute {name!r} has dtype {values.dtype}: only numeric attributes can be saved"
            )
        tensors[ATTR + name] = values
    data = save(tensors, metadata={"format": FORMAT, "format_version": FORMAT_VERSION})
    if hasattr(target, "write"):
        target.write(data)
        return
    with atomic_file(target, "wb") as f:
        f.write(data)


def read_keyed_vectors(
    path: str | os.PathLike, mmap: str | None = None
) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """`(words, vectors, attributes)` of a file `write_keyed_vectors` wrote. `mmap=None` reads the table
    into memory; "r" (or gensim's "c" / "r+") maps it (see `MMAP_MODES`); the attributes are always read
    into memory.
    A missing, damaged or foreign file (a gensim pickle) raises `HFEmbeddingsError` naming it."""
    if mmap is not None and mmap not in MMAP_MODES:
        raise HFEmbeddingsError(f"mmap must be None or one of {sorted(MMAP_MODES)}, got {mmap!r}")
    if not os.path.isfile(path):
        raise HFEmbeddingsError(f"KeyedVectors file not found: {path}")
    try:
        tensors, metadata = map_safetensors(path, "c")  # copy-on-write: see MMAP_MODES
    except FormatError:
        raise
    except Exception as e:  # noqa: BLE001 (safetensors' own error type: the file is not one)
        raise FormatError(
            f"not a KeyedVectors file saved by hf_embeddings ({str(e).splitlines()[0][:200]}); gensim's own "
            "save files are pickles, which are never read here: save_word2vec_format() them with gensim and "
            "read them with load_word2vec_format()",
            path=path,
        ) from None
    if metadata.get("format") != FORMAT:
        raise FormatError(f"not a KeyedVectors file (metadata format {metadata.get('format')!r})", path=path)
    if metadata.get("format_version") != FORMAT_VERSION:
        raise FormatError(
            f"KeyedVectors file format version {metadata.get('format_version')!r} is not supported by this "
            f"hf_embeddings (expected {FORMAT_VERSION}); upgrade hf-embeddings",
            path=path,
        )
    missing = [name for name in (VECTORS, KEYS, OFFSETS) if name not in tensors]
    if missing:
        raise FormatError(f"missing tensor(s) {', '.join(missing)}", path=path)
    vectors, utf8, offsets = tensors[VECTORS], bytes(tensors[KEYS]), np.asarray(tensors[OFFSETS])
    n = len(offsets) - 1
    if (
        vectors.ndim != 2
        or vectors.dtype.kind != "f"
        or tensors[KEYS].ndim != 1
        or offsets.ndim != 1
        or n != vectors.shape[0]
        or offsets.dtype != np.int64
        or offsets[0] != 0
        or offsets[-1] != len(utf8)
        or (np.diff(offsets) < 0).any()
    ):
        raise FormatError(
            f"inconsistent KeyedVectors file (vectors {vectors.shape} {vectors.dtype}, {n + 1} key offsets)",
            path=path,
        )
    try:
        words = [
            utf8[a:b].decode("utf-8", "surrogatepass")
            for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())
        ]
    except UnicodeDecodeError as e:
        raise FormatError(f"a key is not valid UTF-8 ({e})", path=path) from None
    attributes = {}
    for name, values in tensors.items():
        if name.startswith(ATTR):
            if values.shape != (n,):
                raise FormatError(
                    f"vector attribute {name} has shape {values.shape}, expected ({n},)", path=path
                )
            attributes[name[len(ATTR) :]] = np.array(values)
    if mmap is None:
        vectors = np.array(vectors)  # into memory; the map is released with the memmap
    return words, vectors, attributes
