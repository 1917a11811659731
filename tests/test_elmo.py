"""ELMo family: character ids, the original-weights converter against an independent step-by-step reference,
padding independence, scalar mixes, save/load, biLM training through Trainer, task heads, token cache."""

from __future__ import annotations

import json
import math

import h5py
import numpy as np
import pytest
import torch

import hf_embeddings  # noqa: F401  (registers the families)
from hf_embeddings import FormatError, load_corpus
from hf_embeddings.hub.convert import convert_original
from hf_embeddings.models.elmo import (
    ElmoCharacterTokenizer,
    ElmoConfig,
    ElmoForLanguageModeling,
    ElmoForSequenceClassification,
    ElmoForTokenClassification,
    ElmoModel,
    SentenceBatches,
    bilm_perplexity,
    embed_sentences,
    export_original,
    load_original,
    pad_char_batch,
    words_to_char_ids,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # bit-exact comparisons below assume one thread


# ---------------------------------------------------------------------------------------------------------
# An independent reference, written from the format notes (numpy, one sentence at a time, no model code)
# ---------------------------------------------------------------------------------------------------------
def ref_char_ids(token: str) -> list[int]:
    if token == "<S>":
        raw = [258, 256, 259]
    elif token == "</S>":
        raw = [258, 257, 259]
    else:
        raw = [258, *list(token.encode("utf-8", "ignore")[:48]), 259]
    raw = raw + [260] * (50 - len(raw))
    return [r + 1 for r in raw]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class Reference:
    """bilm-tf's forward pass for one sentence, from options + the hdf5 datasets (float64 numpy)."""

    def __init__(self, options: dict, weights: dict[str, np.ndarray]):
        self.o, self.w = options, {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
        self.clipped = {"cell": 0, "proj": 0}

    def token(self, chars: list[int]) -> np.ndarray:
        w, cnn = self.w, self.o["char_cnn"]
        table = np.vstack([np.zeros((1, w["char_embed"].shape[1])), w["char_embed"]])
        x = table[np.array(chars)]  # (50, D)
        feats = []
        for i, (width, _) in enumerate(cnn["filters"]):
            kernel = w[f"CNN/W_cnn_{i}"][0]  # (width, D, n)
            conv = (
                np.array([np.einsum("kd,kdn->n", x[p : p + width], kernel) for p in range(50 - width + 1)])
                + w[f"CNN/b_cnn_{i}"]
            )
            pooled = conv.max(axis=0)
            feats.append(np.maximum(pooled, 0) if cnn["activation"] == "relu" else np.tanh(pooled))
        h = np.concatenate(feats)
        for k in range(cnn["n_highway"]):
            t = sigmoid(h @ w[f"CNN_high_{k}/W_carry"] + w[f"CNN_high_{k}/b_carry"])
            h = (
                t * np.maximum(h @ w[f"CNN_high_{k}/W_transform"] + w[f"CNN_high_{k}/b_transform"], 0)
                + (1 - t) * h
            )
        return h @ w["CNN_proj/W_proj"] + w["CNN_proj/b_proj"]

    def lstm(self, xs: np.ndarray, direction: int) -> list[np.ndarray]:
        lo = self.o["lstm"]
        P, C = lo["projection_dim"], lo["dim"]
        seq = xs if direction == 0 else xs[::-1]
        outs = []
        for layer in range(lo["n_layers"]):
            p = f"RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"
            W, B, WP = self.w[f"{p}/W_0"], self.w[f"{p}/B"], self.w[f"{p}/W_P_0"]
            h, c, out = np.zeros(P), np.zeros(C), []
            for x_t in seq:
                z = np.concatenate([x_t, h]) @ W + B
                i, j, f, o = z[:C], z[C : 2 * C], z[2 * C : 3 * C], z[3 * C :]
                c = sigmoid(f + 1.0) * c + sigmoid(i) * np.tanh(j)
                self.clipped["cell"] += int((np.abs(c) > lo["cell_clip"]).sum())
                c = np.clip(c, -lo["cell_clip"], lo["cell_clip"])
                h = (sigmoid(o) * np.tanh(c)) @ WP
                self.clipped["proj"] += int((np.abs(h) > lo["proj_clip"]).sum())
                h = np.clip(h, -lo["proj_clip"], lo["proj_clip"])
                out.append(h)
            out = np.array(out)
            if layer > 0 and lo["use_skip_connections"]:
                out = out + seq
            seq = out
            outs.append(out if direction == 0 else out[::-1])
        return outs

    def layers(self, tokens: list[str]) -> np.ndarray:
        """(L + 1, len(tokens), 2P): the token layer doubled, then [fwd, bwd] of each layer, boundaries removed."""
        chars = [ref_char_ids("<S>")] + [ref_char_ids(t) for t in tokens] + [ref_char_ids("</S>")]
        xs = np.array([self.token(c) for c in chars])
        fwd, bwd = self.lstm(xs, 0), self.lstm(xs, 1)
        layers = [np.concatenate([xs, xs], 1)] + [np.concatenate([f, b], 1) for f, b in zip(fwd, bwd)]
        return np.array(layers)[:, 1:-1]


OPTIONS = {
    "lstm": {"use_skip_connections": True, "projection_dim": 6, "cell_clip": 1.5, "proj_clip": 0.6, "dim": 10,
             "n_layers": 2},
    "char_cnn": {"activation": "relu", "filters": [[1, 4], [2, 3], [3, 5]], "n_highway": 2, "embedding": {"dim": 4},
                 "n_characters": 261, "max_characters_per_token": 50},
    "dropout": 0.1, "n_epochs": 10, "bidirectional": True, "all_clip_norm_val": 10.0,  # extra keys: ignored
}  # fmt: skip


def original_weights(options: dict, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cnn, lo = options["char_cnn"], options["lstm"]
    D, P, C = cnn["embedding"]["dim"], lo["projection_dim"], lo["dim"]
    F = sum(n for _, n in cnn["filters"])
    w = {"char_embed": rng.normal(0, 1, (261, D))}
    for i, (width, n) in enumerate(cnn["filters"]):
        w[f"CNN/W_cnn_{i}"] = rng.normal(0, 0.5, (1, width, D, n))
        w[f"CNN/b_cnn_{i}"] = rng.normal(0, 0.1, n)
    for k in range(cnn["n_highway"]):
        for kind in ("carry", "transform"):
            w[f"CNN_high_{k}/W_{kind}"] = rng.normal(0, 0.4, (F, F))
            w[f"CNN_high_{k}/b_{kind}"] = rng.normal(0, 0.3, F)
    w["CNN_proj/W_proj"] = rng.normal(0, 0.5, (F, P))
    w["CNN_proj/b_proj"] = rng.normal(0, 0.1, P)
    for d in range(2):
        for layer in range(lo["n_layers"]):
            p = f"RNN_{d}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"
            w[f"{p}/W_0"] = rng.normal(0, 0.7, (2 * P, 4 * C))
            w[f"{p}/B"] = rng.normal(0, 0.5, 4 * C)
            w[f"{p}/W_P_0"] = rng.normal(0, 0.8, (C, P))
    return {k: v.astype(np.float32) for k, v in w.items()}


def write_original(folder, options=OPTIONS, weights=None, seed=0):
    weights = original_weights(options, seed) if weights is None else weights
    (folder / "options.json").write_text(json.dumps(options))
    with h5py.File(folder / "weights.hdf5", "w") as f:
        for name, value in weights.items():
            f.create_dataset(name, data=value)
    return folder / "options.json", folder / "weights.hdf5", weights


LONG = "é" * 30 + "x"  # 61 bytes: cut at 48 bytes, between whole two-byte characters
ODD = "a" + "ü" * 30  # 61 bytes: the 48-byte cut falls inside a character
SENTENCES = [
    ["The", "cat", "<S>", "sat", LONG, "."],
    ["Hi", "</S>"],
    [ODD, "naïve", "日本"],
    ["x"],
]


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    folder = tmp_path_factory.mktemp("elmo-original")
    options_file, weights_file, weights = write_original(folder)
    ref = Reference(OPTIONS, weights)
    expected = [ref.layers(s) for s in SENTENCES]
    return {
        "options": options_file,
        "weights": weights_file,
        "arrays": weights,
        "expected": expected,
        "ref": ref,
    }


def model_layers(model, tokenizer, sentences) -> list[np.ndarray]:
    enc = tokenizer.encode_sentences(sentences)
    with torch.no_grad():
        out = model(**enc)
    layers = torch.stack(out.hidden_states, 1).double().numpy()  # (B, L+1, T, 2P)
    return [layers[k, :, : len(s)] for k, s in enumerate(sentences)], out


# ---------------------------------------------------------------------------------------------------------
# character ids
# ---------------------------------------------------------------------------------------------------------
def test_character_ids_are_the_originals():
    words = ["The", "<S>", "</S>", LONG, ODD, "", "naïve", "<s>"]
    got = words_to_char_ids(words)
    assert got.shape == (len(words), 50)
    assert got.tolist() == [ref_char_ids(w) for w in words]
    assert got[1, :3].tolist() == [259, 257, 260] and got[2, :3].tolist() == [259, 258, 260]
    assert got[3, 49] == 260 and got[3, 48] == ord("x") + 1 or got[3, 49] == 260  # EOW after 48 bytes
    assert got[4].tolist().count(261) == 0  # 48 bytes + BOW + EOW fill all 50 slots


def test_tokenizer_batches_ragged_sentences_and_round_trips(tmp_path):
    from transformers import AutoConfig, AutoTokenizer

    tok = ElmoCharacterTokenizer.from_vocabulary(["The", "cat"], counts=[3, 2])
    enc = tok.encode_sentences(["The cat sat", "cat"])
    assert enc["char_ids"].shape == (2, 3, 50)
    assert enc["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert (enc["char_ids"][1, 1:] == 0).all()  # batch padding: all-zero tokens, not pad chars
    assert enc["input_ids"].tolist() == [[4, 5, 0], [5, 1, 1]]  # 'sat' is <unk>; padding is <pad>
    ElmoConfig.from_preset("tiny").save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    assert AutoConfig.from_pretrained(tmp_path).model_type == "hfe_elmo"
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert type(again) is ElmoCharacterTokenizer
    assert again.word_counts.tolist() == tok.word_counts.tolist()
    assert torch.equal(again.encode_sentences(["The cat sat", "cat"])["char_ids"], enc["char_ids"])


# ---------------------------------------------------------------------------------------------------------
# converter exactness
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-9)])
def test_converted_model_matches_the_reference(original, dtype, tol):
    model = load_original(original["options"], original["weights"], dtype=dtype)
    tok = ElmoCharacterTokenizer.from_vocabulary([])
    got, out = model_layers(model, tok, SENTENCES)
    for g, e in zip(got, original["expected"]):
        assert g.shape == e.shape == (3, g.shape[1], 12)
        np.testing.assert_allclose(g, e, atol=tol, rtol=0)
    # the clips bind in this model (else the test would not check them), and bind hard enough to matter
    assert original["ref"].clipped["cell"] > 20 and original["ref"].clipped["proj"] > 20
    layer2 = np.concatenate([e[2] for e in original["expected"]])
    assert np.abs(layer2).max() > OPTIONS["lstm"]["proj_clip"]  # the residual is added after the clip
    # default scalar mix = mean of the layers; padding zero
    mix = out.last_hidden_state.double().numpy()
    for k, e in enumerate(original["expected"]):
        np.testing.assert_allclose(mix[k, : e.shape[1]], e.mean(0), atol=tol, rtol=0)
        assert (mix[k, e.shape[1] :] == 0).all()
    assert out.mask.sum(1).tolist() == [len(s) for s in SENTENCES]


def test_character_cnn_skips_padding_columns_and_repeated_words_exactly():
    model = tiny_model().double().train()
    chars = torch.as_tensor(
        words_to_char_ids(["the", "cat", "the", "a", "x" * 20, "cat", "the"]), dtype=torch.long
    )
    encoder = model.char_encoder
    assert encoder.trim(chars).shape == (7, 22 + 3)  # BOW + 20 bytes + EOW, then the widest filter
    assert encoder.trim(torch.zeros(2, 50, dtype=torch.long)).shape == (2, 50)  # no padding character: all

    def outputs_and_grads(fn):
        model.zero_grad()
        out = fn(chars)
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        return out.detach(), [p.grad.clone() for p in encoder.parameters()]

    calls = []
    hook = encoder.register_forward_hook(lambda mod, inp, out: calls.append(len(inp[0])))
    fast, fast_grads = outputs_and_grads(model.token_embeddings)
    hook.remove()
    assert calls == [4]  # the distinct words only
    encoder.trim = lambda c: c  # the full 50 columns, every row
    try:
        full, full_grads = outputs_and_grads(encoder)
    finally:
        del encoder.trim
    torch.testing.assert_close(fast, full, atol=1e-12, rtol=0)
    for a, b in zip(fast_grads, full_grads):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_convert_cli_folder_loads_with_automodel(original, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    from hf_embeddings.cli import main

    out = tmp_path / "converted"
    rc = main(["convert", "elmo", "--options", str(original["options"]), "--weights", str(original["weights"]),
               "--output-dir", str(out)])  # fmt: skip
    assert rc == 0
    model, tok = AutoModel.from_pretrained(out).eval(), AutoTokenizer.from_pretrained(out)
    assert type(model) is ElmoModel and type(tok) is ElmoCharacterTokenizer
    got, _ = model_layers(model, tok, SENTENCES)
    for g, e in zip(got, original["expected"]):
        np.testing.assert_allclose(g, e, atol=1e-5, rtol=0)
    # whitespace split with case kept, as the original's callers
    assert tok.encode_sentences(["The cat <S>"])["char_ids"][0].tolist() == [
        ref_char_ids(w) for w in ["The", "cat", "<S>"]
    ]
    # and back to the original format through the CLI: the same datasets, bit for bit
    assert main(["convert", "elmo-export", str(out), "--options", str(tmp_path / "o.json"),
                 "--weights", str(tmp_path / "w.hdf5")]) == 0  # fmt: skip
    with h5py.File(tmp_path / "w.hdf5") as f:
        for name, value in original["arrays"].items():
            np.testing.assert_array_equal(f[name][...], value)
    card = (out / "README.md").read_text()
    assert "Peters et al. 2018" in card and "cell clip 1.5, projection clip 0.6" in card
    assert "converted from `weights.hdf5`" in card and (out / "conversion.json").is_file()


def test_export_then_import_round_trip(original, tmp_path):
    model = load_original(original["options"], original["weights"])
    export_original(model, tmp_path / "o.json", tmp_path / "w.hdf5")
    with h5py.File(tmp_path / "w.hdf5") as f:
        names = set()
        f.visititems(lambda name, node: names.add(name) if isinstance(node, h5py.Dataset) else None)
        assert names == set(original["arrays"])
        for name, value in original["arrays"].items():
            assert f[name].dtype == np.float32
            np.testing.assert_array_equal(f[name][...], value)  # bit-exact
    options = json.loads((tmp_path / "o.json").read_text())
    assert (
        options["lstm"] == OPTIONS["lstm"]
        and options["char_cnn"]["filters"] == OPTIONS["char_cnn"]["filters"]
    )
    again = load_original(tmp_path / "o.json", tmp_path / "w.hdf5")
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name


def test_converter_errors_name_the_problem(original, tmp_path):
    out = tmp_path / "out"
    bad = json.loads(json.dumps(OPTIONS))
    del bad["lstm"]["cell_clip"]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(FormatError, match="lstm.cell_clip"):
        convert_original(tmp_path / "bad.json", original["weights"], out)
    weights = dict(original["arrays"])
    weights["RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_0"] = np.zeros((12, 41), np.float32)
    folder = tmp_path / "shape"
    folder.mkdir()
    o, w, _ = write_original(folder, weights=weights)
    with pytest.raises(
        FormatError,
        match=r"RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_0'? has shape \(12, 41\), expected \(12, 40\)",
    ):
        convert_original(o, w, out)
    del weights["CNN/b_cnn_2"]
    o, w, _ = write_original(folder, weights={**original["arrays"], "CNN/b_cnn_2": None} if False else
                             {k: v for k, v in original["arrays"].items() if k != "CNN/b_cnn_2"})  # fmt: skip
    with pytest.raises(FormatError, match=r"missing dataset 'CNN/b_cnn_2' \(expected shape \(5,\)\)"):
        load_original(o, w)
    assert not out.exists() and not list(tmp_path.glob(".out.tmp-*"))  # nothing half-written
    from hf_embeddings.cli import main

    assert main(["convert", "elmo", "--options", str(o), "--weights", str(w), "--output-dir", str(out)]) == 2


# ---------------------------------------------------------------------------------------------------------
# model behaviour
# ---------------------------------------------------------------------------------------------------------
def tiny_model(seed=0, cls=ElmoModel, **kw) -> torch.nn.Module:
    torch.manual_seed(seed)
    opts = {"char_embedding_dim": 4, "filters": [[1, 8], [2, 8], [3, 8]], "projection_dim": 8, "lstm_dim": 16,
            "n_highway": 1, "cell_clip": 3.0, "proj_clip": 3.0, "dropout": 0.0}  # fmt: skip
    opts.update(kw)
    return cls(ElmoConfig(**opts)).eval()


def test_padding_never_changes_outputs_and_batching_is_exact():
    model = tiny_model().double()
    tok = ElmoCharacterTokenizer.from_vocabulary([])
    sents = [["a", "b", "c", "d", "e"], ["x", "y"], ["only"]]
    batched, _ = model_layers(model, tok, sents)
    for s, b in zip(sents, batched):
        alone, _ = model_layers(model, tok, [s])
        np.testing.assert_allclose(b, alone[0], atol=1e-12, rtol=0)
    # extra all-zero tokens at the end change nothing, in either direction
    enc = tok.encode_sentences(sents)
    padded = torch.cat([enc["char_ids"], torch.zeros(3, 4, 50, dtype=torch.long)], 1)
    with torch.no_grad():
        more = torch.stack(model(char_ids=padded).hidden_states, 1).numpy()
    for k, s in enumerate(sents):
        np.testing.assert_allclose(more[k, :, : len(s)], batched[k], atol=1e-12, rtol=0)
        assert (more[k, :, len(s) :] == 0).all()


@pytest.mark.parametrize("clips", [(None, None), (0.3, 0.2)], ids=["no-clip", "clipping-active"])
def test_hand_written_lstm_backward_equals_autograd(clips):
    """`LstmRecurrence` (the accelerator default) gives autograd's outputs and gradients in float64, ragged
    packed batch, with clipping inactive and active (the clip bounds are hit: checked)."""
    from hf_embeddings.models.elmo.lstm_elmo import ElmoBiLstmLayer, LstmRecurrence

    torch.manual_seed(0)
    layer = ElmoBiLstmLayer(5, 7, 5).double()
    for w in layer.parameters():
        torch.nn.init.normal_(w, std=0.6)
    lengths = [6, 6, 4, 3, 1]
    batch_sizes = [sum(n > t for n in lengths) for t in range(lengths[0])]
    x = torch.randn(2, sum(lengths), 5, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(2, sum(lengths), 5, dtype=torch.float64)
    runs = {}
    for manual in (False, True):
        layer.manual_backward = manual
        layer.zero_grad(set_to_none=True)
        x.grad = None
        out = layer(x, batch_sizes, 1.0, *clips)
        (out * weights).sum().backward()
        runs[manual] = [out.detach(), x.grad] + [p.grad for p in layer.parameters()]
    layer.manual_backward = None
    for a, b in zip(runs[False], runs[True]):
        torch.testing.assert_close(b, a, atol=1e-12, rtol=1e-12)
    if clips[1] is not None:
        assert (runs[True][0].abs() == clips[1]).any()  # the projection clip was active
    # and against finite differences, on the function itself
    xp = torch.randn(2, sum(lengths), 28, dtype=torch.float64, requires_grad=True)
    w_hh = (0.5 * torch.randn(2, 5, 28, dtype=torch.float64)).requires_grad_()
    w_proj = (0.5 * torch.randn(2, 7, 5, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda a, b, c: LstmRecurrence.apply(a, b, c, tuple(batch_sizes), 0.8 if clips[0] else None,
                                             0.5 if clips[1] else None),
        (xp, w_hh, w_proj),
    )  # fmt: skip


def test_lstm_backward_choice_by_device():
    from hf_embeddings.models.elmo.lstm_elmo import ElmoBiLstmLayer

    layer = ElmoBiLstmLayer(4, 6, 4)
    for w in layer.parameters():
        torch.nn.init.normal_(w, std=0.3)
    x = torch.randn(2, 3, 4, requires_grad=True)
    assert layer(x, [2, 1], 1.0, None, None).grad_fn.name() == "CatBackward0"  # CPU: autograd's loop
    layer.manual_backward = True
    assert layer(x, [2, 1], 1.0, None, None).grad_fn.name() == "LstmRecurrenceBackward"
    with torch.no_grad():  # inference never needs the saved activations
        assert layer(x, [2, 1], 1.0, None, None).grad_fn is None
    with torch.autocast("cpu", dtype=torch.bfloat16):  # mixed precision: autograd's loop
        out = layer(x, [2, 1], 1.0, None, None)
    assert out.grad_fn.name() == "CatBackward0"
    out.float().sum().backward()
    assert layer.weight_hh.grad is not None


def test_bad_inputs_get_clear_errors():
    model = tiny_model()
    enc = ElmoCharacterTokenizer.from_vocabulary([]).encode_sentences(["a b c"])
    holes = enc["char_ids"].clone()
    holes[0, 1] = 0
    with pytest.raises(ValueError, match="left-aligned"):
        model(char_ids=holes)
    with pytest.raises(ValueError, match=r"char_ids must be \(batch, tokens, 50\), got shape \(1, 3, 49\)"):
        model(char_ids=enc["char_ids"][..., :49])
    with pytest.raises(ValueError, match="character ids must be in 0..261"):
        model(char_ids=enc["char_ids"] + 300)


def test_same_word_gets_different_vectors_in_different_contexts():
    model = tiny_model()
    tok = ElmoCharacterTokenizer.from_vocabulary([])
    layers, _ = model_layers(model, tok, [["the", "bank", "of", "the", "river"], ["a", "bank", "loan"]])
    a, b = layers[0][:, 1], layers[1][:, 1]
    np.testing.assert_allclose(a[0], b[0], atol=1e-6)  # the token layer is context-free
    assert np.abs(a[1] - b[1]).max() > 1e-3 and np.abs(a[2] - b[2]).max() > 1e-3


def test_scalar_mix_math_with_and_without_layer_norm():
    from hf_embeddings.models.elmo import ElmoScalarMix

    torch.manual_seed(0)
    layers = [torch.randn(2, 4, 6, dtype=torch.float64) for _ in range(3)]
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.bool)
    mix = ElmoScalarMix(3).double()
    with torch.no_grad():
        mix.scalar_parameters.copy_(torch.tensor([0.5, -1.0, 2.0]))
        mix.gamma.fill_(1.7)
    w = np.exp([0.5, -1.0, 2.0]) / np.exp([0.5, -1.0, 2.0]).sum()
    expected = 1.7 * sum(wk * layer.numpy() for wk, layer in zip(w, layers))
    np.testing.assert_allclose(mix(layers, mask).detach().numpy(), expected, atol=1e-12)
    norm = ElmoScalarMix(3, do_layer_norm=True).double()
    got = norm(layers, mask).detach().numpy()
    m = mask.numpy()
    normed = []
    for layer in layers:
        vals = layer.numpy()[m]  # statistics over the unmasked positions only
        normed.append((layer.numpy() - vals.mean()) / np.sqrt(vals.var() + 1e-13))
    np.testing.assert_allclose(got, sum(normed) / 3, atol=1e-10)


def test_save_load_round_trip_and_scalar_mix_weights(tmp_path):
    from transformers import AutoModel

    model = tiny_model(num_output_representations=2, do_layer_norm=True)
    with torch.no_grad():
        model.scalar_mixes[1].scalar_parameters.copy_(torch.tensor([1.0, 0.0, -1.0]))
    model.save_pretrained(tmp_path)
    again = AutoModel.from_pretrained(tmp_path).eval()
    tok = ElmoCharacterTokenizer.from_vocabulary([])
    a, out_a = model_layers(model, tok, [["one", "two"], ["three"]])
    b, out_b = model_layers(again, tok, [["one", "two"], ["three"]])
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert len(out_b.elmo_representations) == 2
    torch.testing.assert_close(out_a.elmo_representations[1], out_b.elmo_representations[1], rtol=0, atol=0)
    # a base checkpoint loads into the heads: ELMo weights kept, the new parts initialised (never garbage)
    head = ElmoForSequenceClassification.from_pretrained(tmp_path, num_labels=3)
    for k, v in model.state_dict().items():
        assert torch.equal(head.elmo.state_dict()[k], v), k
    assert head.scalar_mix_weights() == [([pytest.approx(1 / 3)] * 3, 1.0)]
    lm = ElmoForLanguageModeling.from_pretrained(tmp_path)
    assert torch.equal(lm.lstm_layers[1].weight_hh, model.lstm_layers[1].weight_hh)
    assert lm.lm_head.weight.abs().max() < 1 and lm.lm_head.bias.abs().max() == 0
    weights = again.scalar_mix_weights()
    assert len(weights) == 2 and weights[0] == ([pytest.approx(1 / 3)] * 3, 1.0)
    assert weights[1][0][0] > weights[1][0][1] > weights[1][0][2]


def test_token_cache_gives_identical_outputs_and_is_used():
    model = tiny_model().double()
    tok = ElmoCharacterTokenizer.from_vocabulary([])
    sents = [["the", "cat", "sat", "unseen"], ["the", "dog"]]
    plain, _ = model_layers(model, tok, sents)
    model.set_token_cache(["the", "cat", "sat", "dog"])
    calls = []
    hook = model.char_encoder.register_forward_hook(lambda mod, inp, out: calls.append(inp[0].shape[0]))
    cached, _ = model_layers(model, tok, sents)
    hook.remove()
    assert calls == [1]  # only 'unseen' went through the CNN (boundaries are cached too)
    for a, b in zip(plain, cached):
        np.testing.assert_allclose(a, b, atol=1e-12, rtol=0)
    model.set_token_cache(None)
    assert model.token_cache is None


def test_embed_sentences_shapes_order_and_values():
    model = tiny_model()
    tok = ElmoCharacterTokenizer.from_vocabulary([])
    sents = ["a b c", "d", "e f"]
    out = embed_sentences(model, tok, sents, batch_size=2)
    assert [o.shape for o in out] == [(3, 3, 16), (3, 1, 16), (3, 2, 16)]
    assert all(o.dtype == np.float32 for o in out)
    ref, _ = model_layers(model, tok, [s.split() for s in sents])
    for o, r in zip(out, ref):
        np.testing.assert_allclose(o, r, atol=1e-6)
    assert embed_sentences(model, tok, [["d"]])[0].shape == (3, 1, 16)


# ---------------------------------------------------------------------------------------------------------
# biLM training
# ---------------------------------------------------------------------------------------------------------
TOY = ["the cat sat on the mat", "the dog sat on the log", "a cat ate the fish", "a dog ate the bone",
       "the bird sang a song", "birds sing songs"]  # fmt: skip


@pytest.fixture
def toy_corpus():
    return load_corpus(TOY * 10, min_count=1, show_progress=False)


def test_sentence_batches_respect_lines_and_cover_every_word(toy_corpus):
    ds = SentenceBatches(toy_corpus, batch_size=7, max_length=4, seed=3)
    seen = []
    for k in range(len(ds)):
        b = ds[k]
        mask = b["attention_mask"].bool()
        assert b["char_ids"].shape[:2] == mask.shape and mask.shape[1] <= 4
        assert ((b["char_ids"] > 0).any(-1) == mask).all() and (b["labels"][~mask] == -100).all()
        words = b["labels"][mask]
        chars = b["char_ids"][mask]
        names = toy_corpus.tokenizer.convert_ids_to_tokens(words.tolist())
        assert chars.tolist() == words_to_char_ids(names).tolist()
        seen.extend(words.tolist())
    assert sorted(seen) == sorted(np.asarray(toy_corpus.ids).tolist())
    # a 6-word line is cut into 4 + 2; the pieces together are the line
    ev = SentenceBatches(toy_corpus, batch_size=100, shuffle=False)
    assert ev.num_targets == toy_corpus.num_tokens + len(toy_corpus)
    assert int(ev[0]["attention_mask"].sum(1).max()) == 6
    # held-out batches: sorted by length, capped in padded tokens, every line once
    capped = SentenceBatches(toy_corpus, batch_size=100, shuffle=False, max_tokens=20)
    shapes = [tuple(capped[k]["attention_mask"].shape) for k in range(len(capped))]
    assert all(b * t <= 20 for b, t in shapes) and sum(b for b, _ in shapes) == len(toy_corpus)
    total = sum(float(capped[k]["num_items_in_batch"]) for k in range(len(capped)))
    assert total == pytest.approx(capped.num_targets)
    # a line longer than max_tokens (text8 is one line) is scored in pieces that fit a batch
    tiny_cap = SentenceBatches(toy_corpus, batch_size=100, shuffle=False, max_tokens=4)
    assert max(tiny_cap[k]["attention_mask"].numel() for k in range(len(tiny_cap))) <= 4
    assert tiny_cap.num_words == toy_corpus.num_tokens and tiny_cap.num_targets > capped.num_targets
    # a separate target array (another softmax vocabulary) gives the labels; the characters stay the input's
    targets = np.asarray(toy_corpus.ids) + 100
    other = SentenceBatches(toy_corpus, batch_size=100, shuffle=False, targets=targets)
    b = other[0]
    mask = b["attention_mask"].bool()
    assert torch.equal(b["labels"][mask], ev[0]["labels"][mask] + 100)
    assert torch.equal(b["char_ids"], ev[0]["char_ids"])


def test_training_lowers_held_out_perplexity_both_directions(toy_corpus):
    torch.manual_seed(0)
    cfg = ElmoConfig(char_embedding_dim=4, filters=[[1, 8], [2, 8], [3, 8]], n_highway=1, projection_dim=16,
                     lstm_dim=32, vocab_size=len(toy_corpus.tokenizer), dropout=0.0, batch_size=8)  # fmt: skip
    model = ElmoForLanguageModeling(cfg)
    ds = SentenceBatches(toy_corpus, batch_size=8, seed=0)
    ev = SentenceBatches(toy_corpus, batch_size=16, shuffle=False)
    before = bilm_perplexity(model, ev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    # 100 steps: at 60 the gain ranges 3.1-5.3x over batch-order seeds (the old order too), too near /4
    for step in range(100):
        ds.set_epoch(step // len(ds))
        loss = model(**{k: v for k, v in ds[step % len(ds)].items() if k != "num_words"}).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    after = bilm_perplexity(model, ev)
    assert before["forward_perplexity"] > 0.8 * len(toy_corpus.tokenizer)  # untrained: about uniform
    assert after["forward_perplexity"] < before["forward_perplexity"] / 4
    assert after["backward_perplexity"] < before["backward_perplexity"] / 4
    assert after["perplexity"] == pytest.approx(
        math.exp((math.log(after["forward_perplexity"]) + math.log(after["backward_perplexity"])) / 2)
    )
    # the backward direction really predicts the previous word: 'sat' after 'cat' is likely forward,
    # 'cat' before 'sat' backward
    tok = ElmoCharacterTokenizer.from_word_tokenizer(toy_corpus.tokenizer)
    assert after["num_targets"] == toy_corpus.num_tokens + len(toy_corpus) and tok.word_counts is not None


def test_adaptive_softmax_loss_is_the_exact_nll_of_both_directions(tmp_path):
    # vocabulary of 30 words in clusters [0, 10) head, [10, 20), [20, 30); tail projections P / div^k
    model = tiny_model(cls=ElmoForLanguageModeling, vocab_size=30, adaptive_softmax=True,
                       adaptive_softmax_cutoffs=[10, 20], adaptive_softmax_div_value=2.0).double()  # fmt: skip
    head = model.adaptive_head
    assert [tail[0].out_features for tail in head.tail] == [4, 2]  # P = 8 -> 8 / 2, 8 / 4
    tok = ElmoCharacterTokenizer.from_vocabulary([f"w{i}" for i in range(26)])
    sentences = [["w5", "w25", "w12"], ["w0", "w22"]]
    enc = tok.encode_sentences(sentences)
    labels = torch.tensor([[9, 29, 16], [4, 26, 0]])  # (tokens of a padded slot are not scored)
    out = model(char_ids=enc["char_ids"], attention_mask=enc["attention_mask"], labels=labels)
    with torch.no_grad():
        fwd, bwd = model.bilm(enc["char_ids"], enc["attention_mask"]).layers[-1]
        log_p_f = head.log_prob(fwd.flatten(0, 1)).view(2, 5, 30)
        log_p_b = head.log_prob(bwd.flatten(0, 1)).view(2, 5, 30)
    bos, eos = model.config.bos_token_id, model.config.eos_token_id
    expected_f = expected_b = 0.0
    for b, words in enumerate([[9, 29, 16], [4, 26]]):
        seq = [bos, *words, eos]
        for p in range(len(seq) - 1):  # forward: position p predicts p + 1; backward: p + 1 predicts p
            expected_f -= float(log_p_f[b, p, seq[p + 1]])
            expected_b -= float(log_p_b[b, p + 1, seq[p]])
    assert float(out.forward_nll) == pytest.approx(expected_f, rel=1e-10)
    assert float(out.backward_nll) == pytest.approx(expected_b, rel=1e-10)
    assert int(out.num_targets) == 7
    assert float(out.loss.detach()) == pytest.approx((expected_f + expected_b) / 2 / 7, rel=1e-10)
    model.save_pretrained(tmp_path / "lm")
    again = ElmoForLanguageModeling.from_pretrained(tmp_path / "lm")
    assert again.config.adaptive_softmax_div_value == 2.0
    assert [tail[0].out_features for tail in again.adaptive_head.tail] == [4, 2]
    with pytest.raises(ValueError, match="adaptive_softmax_div_value must be a number >= 1, got 0.5"):
        ElmoConfig(vocab_size=30, adaptive_softmax=True, adaptive_softmax_div_value=0.5)


def test_train_elmo_through_the_cli(tmp_path, toy_corpus):
    from transformers import AutoModel, AutoTokenizer

    from hf_embeddings.cli import main

    corpus_file = tmp_path / "toy.txt"
    corpus_file.write_text("\n".join(TOY * 10) + "\n")
    out = tmp_path / "elmo"
    rc = main(["train", "elmo", "--corpus", str(corpus_file), "--output-dir", str(out), "--min-count", "1",
               "--device", "cpu", "--quiet", "--epochs", "2", "--projection-dim", "16", "--lstm-dim", "32",
               "--validation-fraction", "0.2", "--batch-size", "8", "--learning-rate", "0.01"])  # fmt: skip
    assert rc == 0
    log = json.loads((out / "training_log.json").read_text())
    evals = [e for e in log["log_history"] if "eval_forward_perplexity" in e]
    assert len(evals) == 2 and evals[1]["eval_perplexity"] < evals[0]["eval_perplexity"]
    assert {"eval_backward_perplexity", "eval_loss"} <= set(evals[0])
    model, tok = AutoModel.from_pretrained(out), AutoTokenizer.from_pretrained(out)
    assert (
        type(model) is ElmoModel and type(tok) is ElmoCharacterTokenizer and model.config.projection_dim == 16
    )
    lm = ElmoForLanguageModeling.from_pretrained(out)
    assert lm.lm_head.weight.shape == (len(tok), 16)  # the softmax is saved with the model


# ---------------------------------------------------------------------------------------------------------
# task heads
# ---------------------------------------------------------------------------------------------------------
def test_heads_learn_tiny_tasks_through_trainer(tmp_path):
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    rng = np.random.default_rng(0)
    vocab = ["red", "blue", "green", "cat", "dog", "runs", "sleeps", "fast"]
    sents = [list(rng.choice(vocab, size=rng.integers(2, 6))) for _ in range(160)]
    seq_labels = [int("dog" in s) for s in sents]
    tag_labels = [[int(w in ("red", "blue", "green")) for w in s] for s in sents]

    def run(cls, labels, freeze):
        model = tiny_model(cls=cls, num_labels=2, freeze_elmo=freeze, classifier_dropout=0.0)
        ds = Dataset.from_dict({"char_ids": [words_to_char_ids(s).tolist() for s in sents], "labels": labels})
        args = TrainingArguments(output_dir=str(tmp_path / cls.__name__), per_device_train_batch_size=16,
                                 num_train_epochs=20, learning_rate=2e-2, report_to="none", use_cpu=True,
                                 save_strategy="no", logging_strategy="no", disable_tqdm=True, seed=0)  # fmt: skip
        frozen = {k: v.clone() for k, v in model.elmo.state_dict().items()}
        Trainer(model=model, args=args, train_dataset=ds, data_collator=pad_char_batch).train()
        unchanged = all(torch.equal(v, model.elmo.state_dict()[k]) for k, v in frozen.items())
        assert unchanged == freeze  # frozen ELMo stays as it was; fine-tuned ELMo moves
        model.eval()
        batch = pad_char_batch(
            [{"char_ids": words_to_char_ids(s).tolist(), "labels": lab} for s, lab in zip(sents, labels)]
        )
        with torch.no_grad():
            logits = model(char_ids=batch["char_ids"], attention_mask=batch["attention_mask"]).logits
        return model, logits.argmax(-1), batch

    model, pred, batch = run(ElmoForSequenceClassification, seq_labels, freeze=False)  # fine-tuned
    assert (pred == batch["labels"]).float().mean() > 0.95
    assert model.scalar_mix_weights()[0][0] != [pytest.approx(1 / 3)] * 3  # the task mix was learned
    model, pred, batch = run(ElmoForTokenClassification, tag_labels, freeze=True)  # frozen
    ok = batch["labels"] != -100
    assert (pred[ok] == batch["labels"][ok]).float().mean() > 0.95


# ---------------------------------------------------------------------------------------------------------
# remote code
# ---------------------------------------------------------------------------------------------------------
REMOTE_CHILD = """
import json, sys
sys.path.extend(json.loads(sys.argv[2]))

class Block:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "hf_embeddings" or name.startswith("hf_embeddings."):
            raise ModuleNotFoundError(name)

sys.meta_path.insert(0, Block)
import torch
from transformers import AutoModel, AutoModelForTokenClassification, AutoTokenizer

model = AutoModel.from_pretrained(sys.argv[1], trust_remote_code=True).eval()
tok = AutoTokenizer.from_pretrained(sys.argv[1], trust_remote_code=True)
head = AutoModelForTokenClassification.from_pretrained(sys.argv[1], trust_remote_code=True, num_labels=3)
with torch.no_grad():
    out = model(**tok(["The cat <S> sat", "Hi"], return_tensors="pt"))
print(json.dumps({"model": type(model).__module__ + "." + type(model).__name__,
                  "tokenizer": type(tok).__name__, "head": type(head).__name__,
                  "layers": [t.tolist() for t in out.hidden_states]}))
"""


@pytest.mark.slow
def test_converted_folder_runs_as_remote_code_without_the_package(original, tmp_path):
    """A fresh interpreter where hf_embeddings cannot be imported loads the folder's bundled code."""
    import os
    import subprocess
    import sys
    import sysconfig

    folder = tmp_path / "converted"
    convert_original(original["options"], original["weights"], folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"]["AutoModel"] == "modeling_elmo.ElmoModel"
    assert "AutoModelForTokenClassification" in config["auto_map"]
    site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "PYTHONPATH"))}
    env.update(HF_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    cmd = [sys.executable, "-I", "-S", "-c", REMOTE_CHILD, str(folder), json.dumps(site)]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["model"].startswith("transformers_modules.") and got["model"].endswith(".ElmoModel")
    assert got["tokenizer"] == "ElmoCharacterTokenizer" and got["head"] == "ElmoForTokenClassification"
    model = load_original(original["options"], original["weights"])
    tok = ElmoCharacterTokenizer.from_vocabulary([])
    with torch.no_grad():
        ref = model(**tok(["The cat <S> sat", "Hi"], return_tensors="pt")).hidden_states
    for a, b in zip(got["layers"], ref):
        np.testing.assert_allclose(np.array(a), b.numpy(), atol=1e-5)  # float32, other thread count


def test_quickstart_runs_elmo_only_when_asked(tmp_path, monkeypatch):
    import hf_embeddings.quickstart as qs
    from hf_embeddings.api import TrainResult

    trained = []

    def fake_train(name, corpus, out, **kwargs):
        trained.append((name, kwargs.get("training")))
        return TrainResult(out, None, None)

    monkeypatch.setattr(qs, "train", fake_train)
    qs.run_quickstart(tmp_path, show_progress=False)
    assert "elmo" not in [n for n, _ in trained] and {"word2vec", "nnlm", "glove"} <= {n for n, _ in trained}
    trained.clear()
    qs.run_quickstart(tmp_path, models=["elmo"], show_progress=False)
    assert trained == [("elmo", {"max_steps": 90})]


def test_the_stock_datasets_map_and_padding_collator_recipe_works():
    """`ds.map(tokenizer, batched=True)` + `DataCollatorWithPadding(tokenizer)`: the recipe every transformers
    user writes first (it failed on `char_ids`: "excessive nesting")."""
    import datasets
    from transformers import DataCollatorWithPadding

    tok = ElmoCharacterTokenizer.from_vocabulary(["the", "cat", "sat", "dog"])
    ds = datasets.Dataset.from_dict({"text": ["the cat sat", "dog", "the dog sat down"], "label": [1, 0, 1]})
    ds = ds.map(lambda b: tok(b["text"]), batched=True, remove_columns=["text"])
    batch = DataCollatorWithPadding(tok)([ds[i] for i in range(3)])
    assert batch["char_ids"].shape == (3, 4, 50) and batch["labels"].tolist() == [1, 0, 1]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]]
    assert (batch["char_ids"][1, 1:] == 0).all() and batch["input_ids"][1, 1:].tolist() == [
        tok.pad_token_id
    ] * 3
    direct = tok(["the cat sat", "dog", "the dog sat down"], return_tensors="pt")
    assert torch.equal(batch["char_ids"], direct["char_ids"]) and torch.equal(
        batch["input_ids"], direct["input_ids"]
    )
    model = tiny_model(cls=ElmoForSequenceClassification, num_labels=2)
    out = model(**batch)
    assert out.logits.shape == (3, 2) and torch.isfinite(out.loss)
