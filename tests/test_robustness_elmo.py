"""Hostile original-ELMo files (options.json + weights.hdf5) and tokenizer input. Every case here gave a raw
traceback (or read another file, or allocated what a file only claimed) before its fix; every error must now be
ours (a FormatError naming the file and the key or dataset), and whatever converts must give finite outputs.
The fuzzing below mutates a valid tiny options.json and flips bytes of a valid tiny weights.hdf5."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from collections import Counter

import h5py
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hf_embeddings.cli import main
from hf_embeddings.errors import FormatError, HFEmbeddingsError
from hf_embeddings.models.elmo import (
    ElmoCharacterTokenizer,
    ElmoConfig,
    ElmoModel,
    export_original,
    from_original,
    load_original,
    words_to_char_ids,
)
from hf_embeddings.models.elmo.convert_elmo import expected_shapes, options_from_config

pytestmark = pytest.mark.usefixtures("one_thread")  # a tiny model: threads only cost time here

TINY = {"char_embedding_dim": 4, "filters": [[1, 4], [2, 3], [3, 5]], "n_highway": 1, "projection_dim": 6,
        "lstm_dim": 10, "n_layers": 2, "cell_clip": 3.0, "proj_clip": 3.0, "dropout": 0.0}  # fmt: skip
SENTENCES = [["The", "cat", "日本", "naïve"], ["x"], ["<S>", "a" * 60]]
#: keys that options written at training time carry (ignored by the converter, as by the original)
TRAINING_KEYS = {"bidirectional": True, "dropout": 0.1, "n_epochs": 10, "all_clip_norm_val": 10.0}
#: what the fuzz tests saw, by outcome ("error": ours; "converted": finite outputs); printed at the end (-s)
OUTCOMES = {"options": Counter(), "hdf5": Counter()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny ELMo written in the original format by `export_original`."""
    folder = tmp_path_factory.mktemp("elmo-tiny")
    torch.manual_seed(0)
    model = ElmoModel(ElmoConfig(**TINY)).eval()
    export_original(model, folder / "options.json", folder / "weights.hdf5")
    with h5py.File(folder / "weights.hdf5", "r") as f:
        arrays = {name: f[name][...] for name in expected_shapes(model.config)}
    yield {
        "options": folder / "options.json",
        "weights": folder / "weights.hdf5",
        "dict": json.loads((folder / "options.json").read_text()),
        "bytes": (folder / "weights.hdf5").read_bytes(),
        "arrays": arrays,
    }
    print(
        f"\nfuzzed ELMo inputs by outcome: {dict(OUTCOMES['options'])} (options), {dict(OUTCOMES['hdf5'])} (hdf5)"
    )


def write_weights(path, arrays, skip=(), edit=None):
    """An original weights file of `arrays` but those in `skip`; `edit(f)` adds whatever else."""
    with h5py.File(path, "w") as f:
        for name, value in arrays.items():
            if name not in skip:
                f.create_dataset(name, data=value)
        if edit is not None:
            edit(f)
    return path


def converted_or_ours(options, weights, sentences=SENTENCES) -> str:
    """'error' when the conversion fails with our error naming the file, 'converted' when it succeeds and the
    model's outputs are finite; anything else fails the test."""
    try:
        model, tokenizer, _ = from_original(options, weights)
    except HFEmbeddingsError as e:
        assert str(options) in str(e) or str(weights) in str(e), f"the error does not name the file: {e}"
        assert "\n" not in str(e)
        return "error"
    enc = tokenizer.encode_sentences(sentences, max_chars=model.config.max_characters_per_token)
    with torch.no_grad():
        out = model(**enc)
    for layer in (*out.hidden_states, *out.elmo_representations):
        assert torch.isfinite(layer).all()
    return "converted"


# --------------------------------------------------------------------------------------------- options.json
@pytest.mark.parametrize("value", [[1, 2], None, "lstm"], ids=["list", "null", "string"])
def test_options_that_are_not_an_object(tiny, tmp_path, value):
    path = tmp_path / "options.json"
    path.write_text(json.dumps(value))
    with pytest.raises(FormatError, match=rf"^{path}: the options must be a JSON object"):
        from_original(path, tiny["weights"])


@pytest.mark.parametrize(
    "key, value",
    [
        ("lstm.use_skip_connections", "yes"),  # converted as true before
        ("lstm.use_skip_connections", None),  # converted as false before
        ("lstm.use_skip_connections", 2),
        ("lstm.cell_clip", "3"),  # a raw TypeError before
        ("char_cnn.filters", 5),  # a raw TypeError before
        ("lstm.projection_dim", 6.0),
        ("char_cnn.embedding", [4]),
        ("char_cnn.n_characters", "262"),
        ("lstm.proj_clip", float("nan")),
    ],
)
def test_options_of_the_wrong_type_name_the_key(tiny, tmp_path, key, value):
    options = json.loads(json.dumps(tiny["dict"]))
    section, name = key.split(".")
    options[section][name] = value
    path = tmp_path / "options.json"
    path.write_text(json.dumps(options))
    with pytest.raises(FormatError, match=rf"^{path}: option {key} is invalid \(expected .*, found "):
        from_original(path, tiny["weights"])


def test_deeply_nested_options(tiny, tmp_path):
    path = tmp_path / "options.json"
    path.write_text('{"lstm": ' + "[" * 100_000 + "]" * 100_000 + "}")  # a raw RecursionError before
    with pytest.raises(FormatError, match=rf"^{path}: not an options file \(JSON nested too deeply\)"):
        from_original(path, tiny["weights"])


def test_options_path_that_is_a_folder(tiny, tmp_path, capsys):
    with pytest.raises(FormatError, match=rf"^{tmp_path}: is a folder, expected the options.json file"):
        from_original(tmp_path, tiny["weights"])  # a raw IsADirectoryError before
    argv = ["convert", "elmo", "--options", str(tmp_path), "--weights", str(tiny["weights"])]
    assert main([*argv, "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and str(tmp_path) in err
    assert not (tmp_path / "out").exists()


# the child sets a memory cap once it has imported everything, checks that a valid file still converts under
# it, then converts each hostile pair and uses the model as a user would (one sentence at the declared width)
MEMORY_CAPPED = textwrap.dedent("""
    import json, resource, sys
    import torch
    from hf_embeddings.errors import HFEmbeddingsError
    from hf_embeddings.models.elmo import encode_sentences, from_original

    torch.set_num_threads(1)
    vm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm * 1024 + (768 << 20), resource.RLIM_INFINITY))
    for options, weights in json.loads(sys.argv[1]):
        try:
            model, tokenizer, _ = from_original(options, weights)
            enc = encode_sentences(tokenizer, [["word"]], max_chars=model.config.max_characters_per_token)
            model(**enc)
            print(json.dumps(["converted", ""]))
        except HFEmbeddingsError as e:
            print(json.dumps(["error", str(e)]))
        except BaseException as e:
            print(json.dumps(["other", f"{type(e).__name__}: {e}"]))
""")


def convert_with_memory_cap(tiny, options, weights) -> list:
    """(outcome, message) of converting `options` + `weights` in a child limited to 768 MiB more address
    space than its imports take; the valid tiny files convert first under the same cap."""
    pairs = [(str(tiny["options"]), str(tiny["weights"])), (str(options), str(weights))]
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_CAPPED, json.dumps(pairs)], capture_output=True, text=True, timeout=120
    )
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("[")]
    assert results and results[0] == ["converted", ""], proc.stdout + proc.stderr  # the cap leaves room
    assert len(results) == 2, proc.stdout + proc.stderr
    return results[1]


def test_allocation_bomb_in_options_is_refused_under_a_memory_cap(tiny, tmp_path):
    options = json.loads(json.dumps(tiny["dict"]))
    options["char_cnn"]["max_characters_per_token"] = 10_000_000  # converted before, then ran out of memory
    path = tmp_path / "options.json"
    path.write_text(json.dumps(options))
    outcome, message = convert_with_memory_cap(tiny, path, tiny["weights"])
    assert outcome == "error", message
    assert message == (
        f"{path}: option char_cnn.max_characters_per_token is 10000000, over the cap of 1024 that this "
        "converter accepts (the released models have 50)"
    )


# --------------------------------------------------------------------------------------------- weights.hdf5
@pytest.mark.parametrize(
    "value, found",
    [
        (np.array([[b"abc"] * 4] * 261), "strings"),
        (np.zeros((261, 4), dtype=[("a", "f4"), ("b", "i4")]), "a compound type"),
        (np.zeros((261, 4), dtype=np.int32), "int32"),
    ],
    ids=["strings", "compound", "integers"],
)
def test_datasets_that_do_not_hold_floats(tiny, tmp_path, value, found):
    weights = write_weights(tmp_path / "w.hdf5", tiny["arrays"], skip={"char_embed"},
                            edit=lambda f: f.create_dataset("char_embed", data=value))  # fmt: skip
    with pytest.raises(
        FormatError,
        match=rf"^{weights}: dataset 'char_embed' holds {found}, expected floating-point numbers \(float32\)$",
    ):
        from_original(tiny["options"], weights)


def test_dangling_and_external_links_are_refused(tiny, tmp_path):
    name = "CNN/W_cnn_1"
    other = write_weights(tmp_path / "other.hdf5", tiny["arrays"])
    external = write_weights(tmp_path / "external.hdf5", tiny["arrays"], skip={name},
                             edit=lambda f: f.__setitem__(name, h5py.ExternalLink(str(other), name)))  # fmt: skip
    # read the other file's data before (a weights file must not make us read another file)
    with pytest.raises(
        FormatError, match=rf"^{external}: '/{name}' is an external link \(to {other}:{name}\)"
    ):
        from_original(tiny["options"], external)
    group = write_weights(tmp_path / "group.hdf5", {k: v for k, v in tiny["arrays"].items() if "/" not in k},
                          edit=lambda f: f.__setitem__("CNN", h5py.ExternalLink(str(other), "CNN")))  # fmt: skip
    with pytest.raises(FormatError, match=rf"^{group}: '/CNN' is an external link"):
        from_original(tiny["options"], group)
    dangling = write_weights(tmp_path / "dangling.hdf5", tiny["arrays"], skip={name},
                             edit=lambda f: f.__setitem__(name, h5py.SoftLink("/nowhere")))  # fmt: skip
    with pytest.raises(FormatError, match=rf"^{dangling}: '/{name}' is a dangling link \(to '/nowhere'\)"):
        from_original(tiny["options"], dangling)
    loop = write_weights(tmp_path / "loop.hdf5", tiny["arrays"], skip={name},
                         edit=lambda f: f.__setitem__(name, h5py.SoftLink(f"/{name}")))  # fmt: skip
    with pytest.raises(FormatError, match=rf"^{loop}: .*soft links in a row"):
        from_original(tiny["options"], loop)

    def soft(f):  # soft links that stay in the file are followed (relative to their group, or absolute)
        f.create_dataset("elsewhere/data", data=tiny["arrays"][name])
        f["CNN/relative"] = h5py.SoftLink("/elsewhere/data")
        f[name] = h5py.SoftLink("relative")

    model, _, _ = from_original(
        tiny["options"], write_weights(tmp_path / "soft.hdf5", tiny["arrays"], {name}, soft)
    )
    expected = load_original(tiny["options"], tiny["weights"])
    for a, b in zip(model.state_dict().values(), expected.state_dict().values()):
        assert torch.equal(a, b)


def test_external_storage_and_virtual_datasets_are_refused(tiny, tmp_path):
    raw = tmp_path / "char_embed.raw"
    tiny["arrays"]["char_embed"].astype("<f4").tofile(raw)

    def external_storage(f):
        f.create_dataset(
            "char_embed", shape=(261, 4), dtype="<f4", external=[(str(raw), 0, h5py.h5f.UNLIMITED)]
        )

    weights = write_weights(tmp_path / "w.hdf5", tiny["arrays"], {"char_embed"}, external_storage)
    with pytest.raises(
        FormatError, match=rf"^{weights}: dataset 'char_embed' keeps its data in an external file"
    ):
        from_original(tiny["options"], weights)  # read the raw file before

    def virtual(f):
        layout = h5py.VirtualLayout(shape=(261, 4), dtype="f4")
        layout[:] = h5py.VirtualSource(str(tiny["weights"]), "char_embed", shape=(261, 4))
        f.create_virtual_dataset("char_embed", layout)

    weights = write_weights(tmp_path / "v.hdf5", tiny["arrays"], {"char_embed"}, virtual)
    with pytest.raises(FormatError, match=rf"^{weights}: dataset 'char_embed' is a virtual dataset"):
        from_original(tiny["options"], weights)  # read the other file before


def test_never_written_datasets_claiming_20000x20000_are_refused_before_reading(tiny, tmp_path):
    """Options that imply (20000, 20000) LSTM kernels (P = 10000, C = 5000: within the caps) and a file of a
    few dozen KB whose chunked datasets of those shapes were never written: before, each was read (3.2 GB of fill
    values); now the storage is checked against the shape before anything is read."""
    options = json.loads(json.dumps(tiny["dict"]))
    options["lstm"].update(projection_dim=10_000, dim=5_000, n_layers=1)
    (tmp_path / "options.json").write_text(json.dumps(options))
    config = ElmoConfig(**{**TINY, "projection_dim": 10_000, "lstm_dim": 5_000, "n_layers": 1})
    weights = tmp_path / "weights.hdf5"
    with h5py.File(weights, "w") as f:
        for name, shape in expected_shapes(config).items():
            if name in tiny["arrays"] and tiny["arrays"][name].shape == shape:
                f.create_dataset(name, data=tiny["arrays"][name])
            elif name.endswith(("/W_0", "/W_P_0")):  # chunked, never written
                f.create_dataset(name, shape=shape, dtype="f4", chunks=(1000, 1000))
            else:  # fully written (zeros), compressed
                f.create_dataset(name, data=np.zeros(shape, "f4"), chunks=True, compression="gzip")
    assert weights.stat().st_size < 50_000
    outcome, message = convert_with_memory_cap(tiny, tmp_path / "options.json", weights)
    assert outcome == "error", message
    assert message == (
        f"{weights}: dataset 'RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0' was never (fully) written: it stores 0 "
        "bytes of the 1,600,000,000 its shape (20000, 20000) needs"
    )


def test_bit_flipped_weights_files_give_our_error_or_a_finite_model(tiny, tmp_path):
    """Fixed flips of the tiny file: before, about a third of them raised KeyError / RuntimeError."""
    rng = random.Random(0)
    data = tiny["bytes"]
    outcomes = Counter()
    for k in range(40):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(min(len(data), 4096))] ^= 1 << rng.randrange(8)  # the headers are first
        path = tmp_path / f"w{k}.hdf5"
        path.write_bytes(bytes(damaged))
        outcomes[converted_or_ours(tiny["options"], path)] += 1
    assert outcomes["error"] > 0


# --------------------------------------------------------------------------------------------- tokenizer
def test_lone_surrogates_are_dropped_as_the_original_drops_them():
    """The original encodes each token with `encode("utf-8", "ignore")`, which drops lone surrogates; the word
    backend raised UnicodeEncodeError on them."""
    tokenizer = ElmoCharacterTokenizer.from_vocabulary(["abc"])
    assert words_to_char_ids(["\ud800abc"]).tolist() == words_to_char_ids(["abc"]).tolist()
    batch = tokenizer.encode_sentences([["\ud800abc", "\udfff"], "\ud800abc x\udc00"])
    expected = tokenizer.encode_sentences([["abc", ""], "abc x"])
    for key in ("char_ids", "attention_mask", "input_ids"):
        assert torch.equal(batch[key], expected[key]), key
    assert tokenizer("\ud800abc")["input_ids"] == tokenizer("abc")["input_ids"]
    assert batch["input_ids"][0, 0] == tokenizer.convert_tokens_to_ids("abc")


# --------------------------------------------------------------------------------------------- fuzzing
def _paths(value, prefix=()):
    """Every key / index path of a JSON value (the root included)."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


def _swaps(value):
    """Values of another type (or range) made from `value`: what a hand-edited file gets wrong."""
    return st.sampled_from(
        [
            None,
            True,
            False,
            0,
            -1,
            1,
            2,
            3,
            262,
            10**9,
            2.5,
            1e300,
            "",
            "relu",
            "tanh",
            [],
            {},
            [value],
            {"v": value},
            str(value),
            [[1, 4]],
            [[60, 1]],
        ]  # fmt: skip
    )


@st.composite
def mutated_options(draw, base):
    options = json.loads(json.dumps(base))
    if draw(st.integers(0, 19)) == 0:
        return draw(json_values)  # not an options dict at all
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(options))[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        *parent_path, key = path
        parent = options
        for part in parent_path:
            parent = parent[part]
        how = draw(st.sampled_from(["delete", "random", "swap", "swap"]))
        if how == "delete":
            del parent[key]
        else:
            parent[key] = draw(json_values if how == "random" else _swaps(parent[key]))
    return options


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_options_give_our_error_or_a_finite_model(tiny, tmp_path_factory, data):
    options = data.draw(mutated_options({**tiny["dict"], **TRAINING_KEYS}))
    path = tmp_path_factory.getbasetemp() / "fuzz-options.json"
    path.write_text(json.dumps(options))
    try:
        OUTCOMES["options"][converted_or_ours(path, tiny["weights"])] += 1
    except BaseException:
        OUTCOMES["options"]["other"] += 1
        raise


damage = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True)),
    st.tuples(
        st.just("flip"),
        st.lists(
            st.tuples(st.floats(0, 1, exclude_max=True), st.booleans(), st.integers(1, 255)),
            min_size=1,
            max_size=8,
        ),
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=damage)
def test_fuzzed_weights_files_give_our_error_or_a_finite_model(tiny, tmp_path_factory, damage):
    data = bytearray(tiny["bytes"])
    how, spec = damage
    if how == "truncate":
        data = data[: int(spec * len(data))]
    else:
        for where, in_headers, mask in spec:  # half the flips in the first 4 KB: the superblock and headers
            data[int(where * (min(len(data), 4096) if in_headers else len(data)))] ^= mask
    path = tmp_path_factory.getbasetemp() / "fuzz-weights.hdf5"
    path.write_bytes(bytes(data))
    try:
        OUTCOMES["hdf5"][converted_or_ours(tiny["options"], path)] += 1
    except BaseException:
        OUTCOMES["hdf5"]["other"] += 1
        raise


def test_valid_tiny_files_still_convert(tiny):
    assert converted_or_ours(tiny["options"], tiny["weights"]) == "converted"
    assert options_from_config(load_original(tiny["options"], tiny["weights"]).config) == tiny["dict"]
