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
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from ...errors import FormatError
from .configuration_elmo import ElmoConfig
from .modeling_elmo import ElmoModel
from .tokenization_elmo import ElmoCharacterTokenizer

REQUIRED_OPTIONS = {
    "lstm": ("projection_dim", "dim", "n_layers", "cell_clip", "proj_clip", "use_skip_connections"),
    "char_cnn": ("filters", "n_highway", "activation", "embedding"),
}


def _h5py():
    try:
        import h5py
    except ImportError:  # pragma: no cover - a dependency of the package
        raise FormatError("reading ELMo weights needs h5py (pip install h5py)") from None
    return h5py


def config_from_options(options: dict, source: str = "options.json", **overrides) -> ElmoConfig:
    """ElmoConfig of an original options dict; extra keys are ignored, missing required ones named."""
    for section, keys in REQUIRED_OPTIONS.items():
        if not isinstance(options.get(section), dict):
            raise FormatError(f"{source}: missing section {section!r} (required keys: {', '.join(keys)})")
        missing = [k for k in keys if k not in options[section]]
        if missing:
            raise FormatError(
                f"{source}: missing required key(s) {', '.join(f'{section}.{k}' for k in missing)}"
            )
    lstm, cnn = options["lstm"], options["char_cnn"]
    emb = cnn["embedding"]
    if not isinstance(emb, dict) or "dim" not in emb:
        raise FormatError(f"{source}: missing required key char_cnn.embedding.dim")
    n_chars = cnn.get("n_characters", 262)
    if n_chars not in (261, 262):
        raise FormatError(
            f"{source}: char_cnn.n_characters is {n_chars}, expected 262 (or 261 as written at training)"
        )
    try:
        return ElmoConfig(
            char_embedding_dim=emb["dim"],
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
        raise FormatError(f"{source}: {e}") from None


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
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise FormatError(f"{path}: no such options file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FormatError(f"{path}: not a JSON options file ({e})") from None


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


def read_weights(path: str | os.PathLike, config: ElmoConfig) -> dict[str, np.ndarray]:
    """Every dataset of `path` that `config` needs (float64 arrays), checked against the expected shapes."""
    h5py = _h5py()
    if not Path(path).is_file():
        raise FormatError(f"{path}: no such weights file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise FormatError(f"{path}: not an HDF5 file ({e})") from None
    out = {}
    with f:
        for name, shape in expected_shapes(config).items():
            if name not in f:
                if _optional(name, config):
                    continue
                raise FormatError(f"{path}: missing dataset {name!r} (expected shape {shape})")
            node = f[name]
            if not isinstance(node, h5py.Dataset):
                raise FormatError(f"{path}: {name!r} is a group, expected a dataset of shape {shape}")
            if tuple(node.shape) != shape:
                raise FormatError(f"{path}: dataset {name!r} has shape {tuple(node.shape)}, expected {shape}")
            out[name] = np.asarray(node[...], dtype=np.float64)
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
    return model.eval()


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
