"""Import / export the original ELMo weights (bilm-tf / AllenNLP: options.json + weights.hdf5).

The layout and its semantics are in the project's docs/elmo-format.md. What this module maps:

    char_embed (261, D)                     -> char_embedding rows 1..261 (row 0, "no token", stays zero)
    CNN/W_cnn_i (1, w, D, n), b_cnn_i       -> convs[i] weight (n, D, w) = W[0] transposed (2, 1, 0)
    CNN_high_k/W_transform, W_carry (in, out) and biases
                                            -> highways[k] weight = [W_transform^T; W_carry^T] (same convention)
    CNN_proj/W_proj (F, P), b_proj          -> projection (omitted in bilm-tf files when F == P: identity)
    RNN_d/RNN/MultiRNNCell/Cell{l}/LSTMCell/W_0 (2P, 4C), B (4C,), W_P_0 (C, P)
                                            -> lstm_layers[l] weight_ih[d] = W_0[:P]^T, weight_hh[d] = W_0[P:]^T,
                                               bias[d] = B, weight_proj[d] = W_P_0^T (omitted when P == C: identity)

Gate order (TensorFlow's i, j, f, o) and the forget bias (+1, not in B) are kept as they are in the file:
the model computes in that convention, so the mapping is transposes only and export is the exact inverse.
This module converts in memory (`from_original`) and writes the original files (`export_original`); the
Hub folder of a conversion is written by `hf_embeddings.hub.convert.convert_original`. Errors name the
file, the dataset and the expected and found shapes; nothing is written before the whole file has been
read and checked.

Hostile files: options.json is checked against a schema (`OPTION_SCHEMA`: each key's JSON type, range and
whether it is required; the caps keep a file from declaring an allocation bomb; extra keys are ignored, as
the training-time options carry some), and every dataset of weights.hdf5 against what the options imply
(shape, floating-point type, storage that really holds the data, no links to or storage in other files)
before anything is read. Every problem is a `FormatError` naming the file and the key or dataset.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import stat
from pathlib import Path

import numpy as np
import torch

from ...errors import FormatError
from .configuration_elmo import MAX_CHARACTERS_PER_TOKEN, ElmoConfig
from .modeling_elmo import ElmoModel
from .tokenization_elmo import BOW_CHAR, EOW_CHAR, PAD_CHAR, ElmoCharacterTokenizer

REQUIRED_OPTIONS = {
    "lstm": ("projection_dim", "dim", "n_layers", "cell_clip", "proj_clip", "use_skip_connections"),
    "char_cnn": ("filters", "n_highway", "activation", "embedding"),
}

#: What options.json may declare: key -> (kind, bounds or choices, required). Kinds: "int" (an integer in
#: [lo, hi]), "clip" (a finite number > 0, or null: no clipping), "bool", "choice" (one of the values),
#: "filters" (1..hi [width, count] pairs) and "section" (an object). The released models are far inside the
#: caps (D=16, F=2048, H=2, P=512, C=4096, L=2, 50 characters: 94M parameters); the caps keep a hostile file
#: from declaring an allocation bomb. Keys not listed (training-time ones such as `dropout`, `n_epochs`,
#: `bidirectional`) are ignored, as AllenNLP and bilm-tf ignore them.
OPTION_SCHEMA: dict[str, tuple] = {
    "lstm": ("section", None, True),
    "lstm.projection_dim": ("int", (1, 16384), True),
    "lstm.dim": ("int", (1, 65536), True),
    "lstm.n_layers": ("int", (1, 64), True),
    "lstm.cell_clip": ("clip", None, True),
    "lstm.proj_clip": ("clip", None, True),
    "lstm.use_skip_connections": ("bool", None, True),
    "char_cnn": ("section", None, True),
    "char_cnn.filters": ("filters", 256, True),
    "char_cnn.n_highway": ("int", (0, 16), True),
    "char_cnn.activation": ("choice", ("relu", "tanh"), True),
    "char_cnn.embedding": ("section", None, True),
    "char_cnn.embedding.dim": ("int", (1, 1024), True),
    "char_cnn.n_characters": ("choice", (261, 262), False),
    "char_cnn.max_characters_per_token": ("int", (3, MAX_CHARACTERS_PER_TOKEN), False),
}
#: the values of the released models (for the messages of the caps)
RELEASED = {
    "lstm.projection_dim": 512,
    "lstm.dim": 4096,
    "lstm.n_layers": 2,
    "char_cnn.n_highway": 2,
    "char_cnn.embedding.dim": 16,
    "char_cnn.max_characters_per_token": 50,
}
#: caps on the character CNN: one filter's count and the total F (the highway width)
MAX_FILTER_COUNT = MAX_NUM_FILTERS = 16384
#: cap on the parameters the options imply (the datasets of the weights file): ten times the largest release
MAX_PARAMETERS = 1_000_000_000
#: cap on the size of options.json (the released ones are a few hundred bytes)
MAX_OPTIONS_BYTES = 1 << 20


def _h5py():
    try:
        import h5py
    except ImportError:  # pragma: no cover - a dependency of the package
        raise FormatError("reading ELMo weights needs h5py (pip install h5py)") from None
    return h5py


def _found(value) -> str:
    """A short description of a JSON value for an error message (never its full text: it may be huge)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        text = repr(value)
        return (text if len(text) <= 40 else text[:37] + "...") + (
            " (an integer)" if isinstance(value, int) else " (a number)"
        )
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return json.dumps(text) + " (a string)"
    if isinstance(value, list):
        return f"an array of {len(value)} item(s)"
    if isinstance(value, dict):
        return f"an object with {len(value)} key(s)"
    return type(value).__name__


def _check_option(key: str, value, kind: str, spec, source: str) -> None:
    """Raise a FormatError naming `source` and `key` unless `value` fits (kind, spec) of OPTION_SCHEMA."""

    def fail(expected: str) -> None:
        raise FormatError(f"option {key} is invalid", path=source, expected=expected, found=_found(value))

    is_int = isinstance(value, int) and not isinstance(value, bool)
    if kind == "section":
        if not isinstance(value, dict):
            fail("a JSON object")
    elif kind == "int":
        lo, hi = spec
        if not is_int:
            fail(f"an integer from {lo} to {hi}")
        if value > hi:
            released = f" (the released models have {RELEASED[key]})" if key in RELEASED else ""
            shown = _found(value).removesuffix(" (an integer)")
            raise FormatError(
                f"option {key} is {shown}, over the cap of {hi} that this converter accepts{released}",
                path=source,
            )
        if value < lo:
            fail(f"an integer from {lo} to {hi}")
    elif kind == "clip":
        number = is_int or isinstance(value, float)
        if value is not None and (not number or not 0 < value < math.inf):
            fail("a finite number > 0, or null for no clipping")
    elif kind == "bool":
        if not isinstance(value, bool):
            fail("true or false")
    elif kind == "choice":
        if not any(type(value) is type(c) and value == c for c in spec):
            fail(" or ".join(json.dumps(c) for c in spec))
    elif kind == "filters":
        expected = f"an array of 1 to {spec} [width, count] pairs of positive integers"
        if not isinstance(value, list) or not 1 <= len(value) <= spec:
            fail(expected)
        for i, pair in enumerate(value):
            ok = isinstance(pair, list) and len(pair) == 2
            if not ok or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in pair):
                shown = _found(pair)
                if isinstance(pair, list):
                    shown = "[" + ", ".join(map(_found, pair[:3])) + (", ...]" if len(pair) > 3 else "]")
                raise FormatError(
                    f"option {key}[{i}] is invalid",
                    path=source,
                    expected="[width, count], two positive integers",
                    found=shown,
                )
            if pair[1] > MAX_FILTER_COUNT:
                raise FormatError(
                    f"option {key}[{i}] declares {pair[1]} filters; this converter accepts at most "
                    f"{MAX_FILTER_COUNT} per width",
                    path=source,
                )
    else:  # pragma: no cover - a schema typo
        raise AssertionError(kind)


def validate_options(options, source: str = "options.json") -> None:
    """Check an options dict against OPTION_SCHEMA (types, ranges, required keys, caps); a FormatError names
    `source` and the first key that does not fit."""
    if not isinstance(options, dict):
        raise FormatError(
            "the options must be a JSON object with the sections 'lstm' and 'char_cnn'",
            path=source,
            expected="an object",
            found=_found(options),
        )
    for section, keys in REQUIRED_OPTIONS.items():
        if not isinstance(options.get(section), dict):
            if section in options:
                _check_option(section, options[section], "section", None, source)
            raise FormatError(f"missing section {section!r} (required keys: {', '.join(keys)})", path=source)
        missing = [k for k in keys if k not in options[section]]
        if missing:
            raise FormatError(
                f"missing required key(s) {', '.join(f'{section}.{k}' for k in missing)}", path=source
            )
    for key, (kind, spec, required) in OPTION_SCHEMA.items():
        node, found = options, True
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                found = False
                break
            node = node[part]
        if not found:
            if required:
                raise FormatError(f"missing required key {key}", path=source)
            continue
        _check_option(key, node, kind, spec, source)
    cnn = options["char_cnn"]
    filters = cnn["filters"]
    widest = max(w for w, _ in filters)
    max_chars = cnn.get("max_characters_per_token", 50)
    if widest > max_chars:
        raise FormatError(
            f"option char_cnn.filters has a filter of width {widest}, wider than "
            f"char_cnn.max_characters_per_token ({max_chars})",
            path=source,
        )
    total = sum(n for _, n in filters)
    if total > MAX_NUM_FILTERS:
        raise FormatError(
            f"option char_cnn.filters declares {total} filters in all; this converter accepts at most "
            f"{MAX_NUM_FILTERS} (the released models have 2048)",
            path=source,
        )


def config_from_options(options: dict, source: str = "options.json", **overrides) -> ElmoConfig:
    """ElmoConfig of an original options dict, checked against OPTION_SCHEMA (extra keys are ignored; a
    missing, mistyped or out-of-range one is a FormatError naming `source` and the key)."""
    validate_options(options, source)
    lstm, cnn = options["lstm"], options["char_cnn"]
    try:
        config = ElmoConfig(
            char_embedding_dim=cnn["embedding"]["dim"],
            filters=cnn["filters"],
            n_highway=cnn["n_highway"],
            activation=cnn["activation"],
            max_characters_per_token=cnn.get("max_characters_per_token", 50),
            projection_dim=lstm["projection_dim"],
            lstm_dim=lstm["dim"],
            n_layers=lstm["n_layers"],
            cell_clip=lstm["cell_clip"],
            proj_clip=lstm["proj_clip"],
            use_skip_connections=lstm["use_skip_connections"],
            **overrides,
        )
    except ValueError as e:
        raise FormatError(str(e), path=source) from None
    n = sum(math.prod(shape) for shape in expected_shapes(config).values())
    if n > MAX_PARAMETERS:
        raise FormatError(
            f"the options declare a model of {n:,} parameters; this converter accepts at most "
            f"{MAX_PARAMETERS:,} (the largest released model has 93,600,848)",
            path=source,
        )
    return config


def options_from_config(config: ElmoConfig) -> dict:
    """The original options dict of a config (what bilm-tf and AllenNLP read)."""
    return {
        "lstm": {
            "use_skip_connections": config.use_skip_connections,
            "projection_dim": config.projection_dim,
            "cell_clip": config.cell_clip,
            "proj_clip": config.proj_clip,
            "dim": config.lstm_dim,
            "n_layers": config.n_layers,
        },
        "char_cnn": {
            "activation": config.activation,
            "filters": [list(f) for f in config.filters],
            "n_highway": config.n_highway,
            "embedding": {"dim": config.char_embedding_dim},
            "n_characters": 262,
            "max_characters_per_token": config.max_characters_per_token,
        },
    }


def read_options(path: str | os.PathLike) -> dict:
    """The parsed options.json at `path` (any JSON value: `validate_options` checks it); a FormatError names
    the file when it is missing, not a regular file, over MAX_OPTIONS_BYTES, not UTF-8 or not JSON."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise FormatError("is a folder, expected the options.json file", path=path)
        if not stat.S_ISREG(st.st_mode):
            raise FormatError("is not a regular file, expected the options.json file", path=path)
        with open(path, "rb") as f:
            data = f.read(MAX_OPTIONS_BYTES + 1)
    except FileNotFoundError:
        raise FormatError("no such options file", path=path) from None
    except OSError as e:
        raise FormatError(f"cannot read the options file ({e.strerror or e})", path=path) from None
    if len(data) > MAX_OPTIONS_BYTES:
        raise FormatError(
            f"the options file is over {MAX_OPTIONS_BYTES:,} bytes (an options.json is a few hundred)",
            path=path,
        )
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise FormatError(f"not a UTF-8 options file ({e})", path=path) from None
    except RecursionError:
        raise FormatError("not an options file (JSON nested too deeply)", path=path) from None
    except ValueError as e:  # JSONDecodeError, or an integer too long to convert
        raise FormatError(f"not a JSON options file ({e})", path=path) from None


def _lstm_prefix(direction: int, layer: int) -> str:
    return f"RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"


def expected_shapes(config: ElmoConfig) -> dict[str, tuple[int, ...]]:
    """Dataset name -> shape of every dataset of an original weights file for `config`."""
    D, F, P, C = config.char_embedding_dim, config.num_filters, config.projection_dim, config.lstm_dim
    shapes: dict[str, tuple[int, ...]] = {"char_embed": (261, D)}
    for i, (w, n) in enumerate(config.filters):
        shapes[f"CNN/W_cnn_{i}"] = (1, w, D, n)
        shapes[f"CNN/b_cnn_{i}"] = (n,)
    for k in range(config.n_highway):
        for kind in ("carry", "transform"):
            shapes[f"CNN_high_{k}/W_{kind}"] = (F, F)
            shapes[f"CNN_high_{k}/b_{kind}"] = (F,)
    shapes["CNN_proj/W_proj"] = (F, P)
    shapes["CNN_proj/b_proj"] = (P,)
    for d in range(2):
        for layer in range(config.n_layers):
            p = _lstm_prefix(d, layer)
            shapes[f"{p}/W_0"] = (2 * P, 4 * C)
            shapes[f"{p}/B"] = (4 * C,)
            shapes[f"{p}/W_P_0"] = (C, P)
    return shapes


def _optional(name: str, config: ElmoConfig) -> bool:
    """Datasets bilm-tf leaves out when they would be identities (AllenNLP needs them; we accept both)."""
    if name.startswith("CNN_proj/"):
        return config.num_filters == config.projection_dim
    if name.endswith("/W_P_0"):
        return config.projection_dim == config.lstm_dim
    return False


#: HDF5 filters a weights file may use (deflate, shuffle, fletcher32, szip, nbit, scaleoffset, lzf): built
#: in, so that a file cannot make the library look for a plugin
ALLOWED_FILTERS = frozenset({1, 2, 3, 4, 5, 6, 32000})
#: what h5py raises on a damaged file (its errors map HDF5's onto these)
_H5_ERRORS = (
    OSError,
    RuntimeError,
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    OverflowError,
    AttributeError,
)
_MAX_LINK_HOPS = 16
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _resolve(h5py, f, name: str, path, hops: int = 0):
    """The object at `name` in `f`, or None when nothing is there. Follows hard links and soft links that
    stay in the file; an external or user-defined link, a dangling soft link or a soft link loop is a
    FormatError (the file must not make us open another file)."""
    if hops > _MAX_LINK_HOPS:
        raise FormatError(f"{name!r}: more than {_MAX_LINK_HOPS} soft links in a row (a loop?)", path=path)
    node, here = f, "/"
    parts = [p for p in name.split("/") if p]
    for i, part in enumerate(parts):
        where = posixpath.join(here, part)
        if not isinstance(node, h5py.Group):
            raise FormatError(f"{here!r} is a dataset, expected a group holding {name!r}", path=path)
        link = node.get(part, getlink=True)
        if link is None:
            return None
        if isinstance(link, h5py.ExternalLink):
            raise FormatError(
                f"{where!r} is an external link (to {link.filename}:{link.path}); a weights file must hold "
                "its data itself",
                path=path,
            )
        if isinstance(link, h5py.SoftLink):
            target = posixpath.join(here, link.path)  # an absolute target replaces `here`
            node = _resolve(h5py, f, target, path, hops + 1)
            if node is None:
                raise FormatError(f"{where!r} is a dangling link (to {link.path!r})", path=path)
            here = target
        elif isinstance(link, h5py.HardLink):
            node, here = node[part], where
        else:
            raise FormatError(f"{where!r} is a user-defined link; expected a dataset or group", path=path)
        if i == len(parts) - 1:
            return node
    return node


def _dtype_name(dtype: np.dtype) -> str:
    if dtype.names:
        return "a compound type"
    return {"S": "strings", "U": "strings", "O": "strings or references", "V": "opaque data"}.get(
        dtype.kind, str(dtype)
    )


def _check_dataset(h5py, node, name: str, shape: tuple[int, ...], path, file_size: int) -> None:
    """Refuse, before anything is read, a dataset that is not what `shape` says the options imply, is not
    floating point, keeps its data outside the file or claims data that its storage does not hold."""
    if not isinstance(node, h5py.Dataset):
        raise FormatError(f"{name!r} is a group, expected a dataset of shape {shape}", path=path)
    found = node.shape
    if found is None or tuple(found) != shape:
        found = "no data (an empty dataspace)" if found is None else tuple(found)
        raise FormatError(f"dataset {name!r} has shape {found}, expected {shape}", path=path)
    dtype = node.dtype
    if dtype.kind != "f":
        raise FormatError(
            f"dataset {name!r} holds {_dtype_name(dtype)}, expected floating-point numbers (float32)",
            path=path,
        )
    dcpl = node.id.get_create_plist()
    layout = dcpl.get_layout()
    if layout == h5py.h5d.VIRTUAL:
        raise FormatError(
            f"dataset {name!r} is a virtual dataset (its data lives in other files); a weights file must hold "
            "its data itself",
            path=path,
        )
    if dcpl.get_external_count():
        raise FormatError(
            f"dataset {name!r} keeps its data in an external file; a weights file must hold its data itself",
            path=path,
        )
    filters = [dcpl.get_filter(i)[0] for i in range(dcpl.get_nfilters())]
    unknown = [code for code in filters if code not in ALLOWED_FILTERS]
    if unknown:
        raise FormatError(
            f"dataset {name!r} uses HDF5 filter {unknown[0]}, which is not supported", path=path
        )
    nbytes = math.prod(shape) * dtype.itemsize
    stored = node.id.get_storage_size()
    if stored > file_size:
        raise FormatError(
            f"dataset {name!r} claims {stored:,} bytes of storage in a file of {file_size:,} bytes", path=path
        )
    written = stored >= nbytes or (filters and stored > 0)
    if layout == h5py.h5d.CHUNKED:
        chunk = dcpl.get_chunk()
        if len(chunk) != len(shape) or min(chunk, default=1) < 1:
            raise FormatError(f"dataset {name!r} has chunks of shape {chunk}", path=path)
        chunks = math.prod(-(-s // c) for s, c in zip(shape, chunk))
        written = written and node.id.get_num_chunks() >= chunks
    if not written:
        raise FormatError(
            f"dataset {name!r} was never (fully) written: it stores {stored:,} bytes of the {nbytes:,} its "
            f"shape {shape} needs",
            path=path,
        )


def read_weights(path: str | os.PathLike, config: ElmoConfig) -> dict[str, np.ndarray]:
    """Every dataset of `path` that `config` needs (float64 arrays). Each is checked (shape against
    `expected_shapes(config)`, float type, links, storage) before any is read, then read and checked to be
    finite and in the float32 range."""
    h5py = _h5py()
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is None:
        raise FormatError("no such weights file", path=path)
    if not stat.S_ISREG(st.st_mode):
        what = "is a folder" if stat.S_ISDIR(st.st_mode) else "is not a regular file"
        raise FormatError(f"{what}, expected the weights.hdf5 file", path=path)
    try:
        f = h5py.File(path, "r")
    except _H5_ERRORS as e:
        raise FormatError(f"not an HDF5 file ({_one_line(e)})", path=path) from None
    nodes, out = {}, {}
    name = None
    try:
        with f:
            for name, shape in expected_shapes(config).items():
                node = _resolve(h5py, f, name, path)
                if node is None:
                    if _optional(name, config):
                        continue
                    raise FormatError(f"missing dataset {name!r} (expected shape {shape})", path=path)
                _check_dataset(h5py, node, name, shape, path, st.st_size)
                nodes[name] = node
            for name, node in nodes.items():
                value = np.asarray(node[...], dtype=np.float64)
                if not np.isfinite(value).all():
                    raise FormatError(f"dataset {name!r} holds NaN or infinite values", path=path)
                if value.size and np.abs(value).max() > _FLOAT32_MAX:
                    raise FormatError(f"dataset {name!r} holds values beyond the float32 range", path=path)
                out[name] = value
    except FormatError:
        raise
    except _H5_ERRORS as e:
        where = f"dataset {name!r}" if name else "the file"
        raise FormatError(
            f"{where} could not be read, the file is damaged ({type(e).__name__}: {_one_line(e)})", path=path
        ) from None
    return out


@torch.no_grad()
def load_weights_into(model: ElmoModel, weights: dict[str, np.ndarray]) -> None:
    """Copy original datasets (as `read_weights` returns them) into `model`'s parameters."""
    cfg = model.config
    enc = model.char_encoder

    def put(param: torch.Tensor, value: np.ndarray) -> None:
        param.copy_(torch.as_tensor(np.ascontiguousarray(value), dtype=param.dtype))

    enc.char_embedding.weight[0].zero_()
    put(enc.char_embedding.weight[1:], weights["char_embed"])
    for i, conv in enumerate(enc.convs):
        put(conv.weight, weights[f"CNN/W_cnn_{i}"][0].transpose(2, 1, 0))
        put(conv.bias, weights[f"CNN/b_cnn_{i}"])
    F, P, C = cfg.num_filters, cfg.projection_dim, cfg.lstm_dim
    for k, hw in enumerate(enc.highways):
        put(hw.weight[:F], weights[f"CNN_high_{k}/W_transform"].T)
        put(hw.weight[F:], weights[f"CNN_high_{k}/W_carry"].T)
        put(hw.bias[:F], weights[f"CNN_high_{k}/b_transform"])
        put(hw.bias[F:], weights[f"CNN_high_{k}/b_carry"])
    put(enc.projection.weight, weights["CNN_proj/W_proj"].T if "CNN_proj/W_proj" in weights else np.eye(P))
    put(enc.projection.bias, weights.get("CNN_proj/b_proj", np.zeros(P)))
    for layer, mod in enumerate(model.lstm_layers):
        for d in range(2):
            p = _lstm_prefix(d, layer)
            w = weights[f"{p}/W_0"]
            put(mod.weight_ih[d], w[:P].T)
            put(mod.weight_hh[d], w[P:].T)
            put(mod.bias[d], weights[f"{p}/B"])
            put(mod.weight_proj[d], weights[f"{p}/W_P_0"].T if f"{p}/W_P_0" in weights else np.eye(C))


def load_original(
    options_file: str | os.PathLike, weights_file: str | os.PathLike, *, dtype: torch.dtype = torch.float32
) -> ElmoModel:
    """An `ElmoModel` (eval mode, `dtype`) holding the original model of `options_file` + `weights_file`.

    Example:
        model = load_original("options.json", "weights.hdf5")
    """
    config = config_from_options(read_options(options_file), str(options_file))
    weights = read_weights(weights_file, config)
    model = ElmoModel(config).to(dtype)
    load_weights_into(model, weights)
    check_finite_outputs(model.eval(), weights_file)
    return model


def probe_char_ids(max_chars: int) -> torch.Tensor:
    """(1, T, max_chars) character ids of tokens that hold every byte value once (and an empty token)."""
    per = max_chars - 2
    rows = []
    for start in [*range(0, 256, per), 256]:
        chunk = list(range(start, min(start + per, 256)))
        row = [BOW_CHAR, *chunk, EOW_CHAR] + [PAD_CHAR] * (per - len(chunk))
        rows.append(row)
    return torch.tensor([rows], dtype=torch.long) + 1


@torch.no_grad()
def check_finite_outputs(model: ElmoModel, source: str | os.PathLike) -> None:
    """Refuse weights whose layers are not finite on a probe sentence (tokens holding every byte value): a
    damaged file can hold finite weights whose products overflow."""
    char_ids = probe_char_ids(model.config.max_characters_per_token)
    out = model(char_ids=char_ids, attention_mask=torch.ones(char_ids.shape[:2], dtype=torch.long))
    layers = [*out.hidden_states, *out.elmo_representations]
    if not all(bool(torch.isfinite(h).all()) for h in layers):
        raise FormatError(
            "the weights give NaN or infinite outputs on a probe sentence (the file is damaged?)", path=source
        )


def from_original(
    options_file: str | os.PathLike, weights_file: str | os.PathLike
) -> tuple[ElmoModel, ElmoCharacterTokenizer, dict]:
    """The original ELMo model of `options_file` + `weights_file` as (model, tokenizer, conversion log).

    The released files have no word vocabulary (the softmax is not dumped): the tokenizer splits on
    whitespace and keeps case, as the original `batch_to_ids` callers do. The log says what was read (it
    becomes the folder's conversion.json: `hub.convert.convert_original` writes the folder).

    Example:
        model, tokenizer, log = from_original("options.json", "weights.hdf5")
    """
    model = load_original(options_file, weights_file)
    log = {
        "source_file": Path(weights_file).name,
        "options_file": Path(options_file).name,
        "format": "bilm-tf options.json + weights.hdf5",
        "limit": None,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    return model, ElmoCharacterTokenizer.from_vocabulary([]), log


@torch.no_grad()
def export_original(model, options_file: str | os.PathLike, weights_file: str | os.PathLike) -> None:
    """Write `model` (any ELMo class) as original options.json + weights.hdf5 (float32), so that it runs
    in bilm-tf / AllenNLP. Both files are written aside and renamed into place."""
    h5py = _h5py()
    body = getattr(model, "elmo", model)
    cfg = body.config
    enc = body.char_encoder
    F = cfg.num_filters

    def arr(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().to(torch.float64).numpy().astype(np.float32)

    data = {"char_embed": arr(enc.char_embedding.weight[1:])}
    for i, conv in enumerate(enc.convs):
        data[f"CNN/W_cnn_{i}"] = arr(conv.weight).transpose(2, 1, 0)[None]
        data[f"CNN/b_cnn_{i}"] = arr(conv.bias)
    for k, hw in enumerate(enc.highways):
        data[f"CNN_high_{k}/W_transform"] = arr(hw.weight[:F]).T
        data[f"CNN_high_{k}/W_carry"] = arr(hw.weight[F:]).T
        data[f"CNN_high_{k}/b_transform"] = arr(hw.bias[:F])
        data[f"CNN_high_{k}/b_carry"] = arr(hw.bias[F:])
    data["CNN_proj/W_proj"] = arr(enc.projection.weight).T
    data["CNN_proj/b_proj"] = arr(enc.projection.bias)
    for layer, mod in enumerate(body.lstm_layers):
        for d in range(2):
            p = _lstm_prefix(d, layer)
            data[f"{p}/W_0"] = np.concatenate([arr(mod.weight_ih[d]).T, arr(mod.weight_hh[d]).T])
            data[f"{p}/B"] = arr(mod.bias[d])
            data[f"{p}/W_P_0"] = arr(mod.weight_proj[d]).T
    expected = expected_shapes(cfg)
    assert {k: v.shape for k, v in data.items()} == expected, "export layout out of sync with expected_shapes"
    options_file, weights_file = Path(options_file), Path(weights_file)
    tmp_w = weights_file.with_name(f".{weights_file.name}.tmp-{os.getpid()}")
    tmp_o = options_file.with_name(f".{options_file.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp_w, "w") as f:
            for name, value in data.items():
                f.create_dataset(name, data=np.ascontiguousarray(value, dtype=np.float32))
        tmp_o.write_text(json.dumps(options_from_config(cfg), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp_w, weights_file)
        os.replace(tmp_o, options_file)
    finally:
        for t in (tmp_w, tmp_o):
            if t.exists():
                t.unlink()
