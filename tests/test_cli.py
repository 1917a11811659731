"""`hf-embeddings` CLI in-process: bad input is exit code 2 with one line (no traceback), --help works for
every subcommand, and one small real run: train -> query -> evaluate -> export -> import round trip."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch
from _support.corpora import random_sentences, write_lines

import hf_embeddings.training.trainer
from hf_embeddings.api import load
from hf_embeddings.cli import main

# words that occur in WordSim-353, SimLex-999 and the Google analogies, so evaluation has pairs to score
BENCHMARK_WORDS = (
    "love sex tiger cat book paper computer keyboard internet plane car train old new smart intelligent hard "
    "difficult happy cheerful easy fast rapid glad athens greece baghdad iraq bangkok thailand beijing china "
    "berlin germany"
).split()


def _tiny_corpus(path):
    return write_lines(path, random_sentences(BENCHMARK_WORDS, n=200, length=10, seed=0))


def _error_line(capsys) -> str:
    """The single `hf-embeddings: error: ...` line on stderr; there must be no traceback."""
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    errors = [line for line in captured.err.splitlines() if line.startswith("hf-embeddings: error:")]
    assert len(errors) == 1, captured.err  # (progress bars and library warnings may come before it)
    return errors[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One real 1-epoch Word2Vec run through the CLI, shared by the tests that read its output."""
    root = tmp_path_factory.mktemp("cli-e2e")
    corpus = _tiny_corpus(root / "tiny.txt")
    with pytest.MonkeyPatch.context() as m:
        m.setenv("HF_EMBEDDINGS_CACHE", str(root / "cache"))
        argv = ["train", "word2vec", "--corpus", str(corpus), "--output-dir", str(root / "D")]
        rc = main(
            [*argv, "--epochs", "1", "--vector-size", "16", "--min-count", "1", "--quiet", "--device", "cpu"]
        )
    assert rc == 0
    return root


@pytest.fixture
def corpus_file(tmp_path):
    return _tiny_corpus(tmp_path / "tiny.txt")


# --------------------------------------------------------------------------------------- bad input
def test_missing_corpus_file(tmp_path, capsys):
    missing = tmp_path / "missing.txt"
    rc = main(["train", "word2vec", "--corpus", str(missing), "--output-dir", str(tmp_path / "out")])
    assert rc == 2
    line = _error_line(capsys)
    assert "corpus not found" in line and str(missing) in line
    assert not (tmp_path / "out").exists()


def test_empty_corpus(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n  \n", encoding="utf-8")
    assert main(["train", "word2vec", "--corpus", str(empty), "--output-dir", str(tmp_path / "out")]) == 2
    assert "empty: no words found" in _error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_no_word_reaches_min_count(tmp_path, capsys):
    rare = tmp_path / "rare.txt"
    rare.write_text("alpha beta alpha\n", encoding="utf-8")
    argv = [
        "train",
        "word2vec",
        "--corpus",
        str(rare),
        "--output-dir",
        str(tmp_path / "out"),
        "--min-count",
        "3",
    ]
    assert main(argv) == 2
    line = _error_line(capsys)
    assert "min_count=3" in line and "'alpha', occurs 2 times" in line


def test_unknown_model(tmp_path, corpus_file, capsys):
    assert main(["train", "nope", "--corpus", str(corpus_file), "--output-dir", str(tmp_path / "o")]) == 2
    line = _error_line(capsys)
    assert "unknown model 'nope'" in line and "word2vec" in line


def test_missing_model_and_output_dir(tmp_path, corpus_file, capsys):
    assert main(["train", "--corpus", str(corpus_file)]) == 2
    assert "missing MODEL" in _error_line(capsys)
    assert main(["train", "word2vec", "--corpus", str(corpus_file)]) == 2
    assert "missing --output-dir" in _error_line(capsys)


def test_non_empty_output_dir_needs_overwrite(tmp_path, corpus_file, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    assert main(["train", "word2vec", "--corpus", str(corpus_file), "--output-dir", str(out)]) == 2
    line = _error_line(capsys)
    assert "is not empty" in line and "--overwrite" in line
    assert (out / "keep.txt").read_text() == "precious"
    (tmp_path / "file").write_text("x")
    assert (
        main(["train", "word2vec", "--corpus", str(corpus_file), "--output-dir", str(tmp_path / "file")]) == 2
    )
    assert "is not a folder" in _error_line(capsys)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--vector-size", "-3"], "vector_size must be a positive integer, got -3"),
        (["--vector-size", "0"], "vector_size must be a positive integer, got 0"),
        (["--architecture", "glove"], "architecture must be one of"),
        (["--min-count", "0"], "expected a positive integer, got 0"),
        (["--min-count", "many"], "expected a positive integer, got 'many'"),
        (["--max-vocab-size", "-1"], "expected a positive integer, got -1"),
        (["--frobnicate", "1"], "unknown option --frobnicate for word2vec"),
        (["--seed", "x"], "invalid int value"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--replica-sync", "0"], "--replica-sync takes auto, adaptive or a number of steps >= 1, got '0'"),
        (["--replica-sync", "often"], "--replica-sync takes auto, adaptive or a number of steps >= 1"),
    ],
)
def test_bad_option_values(tmp_path, corpus_file, capsys, extra, expected):
    out = tmp_path / "out"
    assert main(["train", "word2vec", "--corpus", str(corpus_file), "--output-dir", str(out), *extra]) == 2
    assert expected in _error_line(capsys)
    assert not out.exists()


def test_replica_sync_is_for_the_sparse_families(tmp_path, corpus_file, capsys):
    """NNLM's dense gradients go through DDP at every step: an exchange interval is refused, not ignored."""
    out = tmp_path / "out"
    argv = ["train", "nnlm", "--corpus", str(corpus_file), "--output-dir", str(out), "--min-count", "1"]
    assert main([*argv, "--replica-sync", "4"]) == 2
    assert "--replica-sync applies to the families with sparse row updates" in _error_line(capsys)
    assert not out.exists()


def test_one_name_per_setting(tmp_path, corpus_file, capsys):
    """Trainer-style options that Word2Vec's config owns land in config.json under its names: the
    learning rate is `alpha`, the batch size `words_per_batch`; a per-item batch size is refused."""
    out = tmp_path / "out"
    argv = ["train", "word2vec", "--corpus", str(corpus_file), "--output-dir", str(out), "--min-count", "1"]
    assert main([*argv, "--per-device-train-batch-size", "8"]) == 2
    assert "builds whole batches itself" in _error_line(capsys) and not out.exists()
    assert main([*argv, "--learning-rate", "0.05", "--alpha", "0.025"]) == 2
    assert "sets 'alpha' a second time" in _error_line(capsys)
    extra = [
        "--learning-rate",
        "0.05",
        "--batch-size",
        "512",
        "--epochs",
        "1",
        "--vector-size",
        "8",
        "--quiet",
    ]
    assert main([*argv, *extra, "--device", "cpu"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert (config["alpha"], config["words_per_batch"], config["epochs"]) == (0.05, 512, 1)
    log = json.loads((out / "training_log.json").read_text())
    assert log["training_arguments"]["learning_rate"] == 0.05
    assert "per_device_train_batch_size" not in log["training_arguments"] or (
        log["training_arguments"]["per_device_train_batch_size"] == 1
    )


def test_cuda_without_gpu(tmp_path, corpus_file, capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is available here")
    out = tmp_path / "out"
    assert (
        main(
            ["train", "word2vec", "--corpus", str(corpus_file), "--output-dir", str(out), "--device", "cuda"]
        )
        == 2
    )
    assert "device 'cuda' requested but no CUDA GPU is available" in _error_line(capsys)
    assert not out.exists()


def test_unrecognised_arguments_of_other_commands(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path), "--frobnicate"]) == 2
    assert "unrecognized arguments: --frobnicate" in _error_line(capsys)
    assert main([]) == 2
    _error_line(capsys)
    assert main(["fly"]) == 2
    assert "invalid choice: 'fly'" in _error_line(capsys)


def test_loading_something_that_is_not_a_model(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nothing-here")]) == 2
    assert "cannot load a model from" in _error_line(capsys)
    assert main(["query", str(tmp_path), "word"]) == 2
    assert "cannot load a model from" in _error_line(capsys)
    assert main(["convert", "import", str(tmp_path / "nope.txt"), "--output-dir", str(tmp_path / "o")]) == 2
    assert "vector file not found" in _error_line(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["train", "--help"],
        ["evaluate", "--help"],
        ["query", "--help"],
        ["convert", "--help"],
        ["convert", "import", "--help"],
        ["convert", "export", "--help"],
        ["push", "--help"],
        ["demo", "--help"],
        ["quickstart", "--help"],
    ],
)
def test_help_for_every_subcommand(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: hf-embeddings")
    assert "show this help message and exit" in out


def test_version_and_list(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == "hf-embeddings 0.1.0"
    assert main(["train", "--list"]) == 0
    assert "word2vec" in capsys.readouterr().out


# -------------------------------------------------------------------------------- real end-to-end run
def test_train_writes_a_complete_model_folder(trained):
    folder = trained / "D"
    names = {p.name for p in folder.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "word_counts.json",
        "training_log.json",
    } <= names
    assert not any(n.startswith(".") for n in names) and "checkpoints" not in names
    assert [p.name for p in trained.iterdir() if p.name.startswith(".")] == []  # no temporary leftovers

    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "hfe_word2vec" and config["vector_size"] == 16 and config["min_count"] == 1
    assert config["vocab_size"] == 4 + len(BENCHMARK_WORDS)

    text = (trained / "tiny.txt").read_text().split()
    counts = json.loads((folder / "word_counts.json").read_text())["counts"]
    assert {w: c for w, c in counts.items() if c} == dict(Counter(text))

    log = json.loads((folder / "training_log.json").read_text())
    assert log["model"] == "word2vec" and log["corpus_words"] == len(text) == 2000
    assert log["corpus_sentences"] == 200 and log["vocab_size"] == config["vocab_size"]
    assert log["device"] == "cpu" and log["seed"] == 42 and len(log["epochs"]) == 1
    assert np.isfinite(log["epochs"][0]["epoch_loss"])

    model, tok = load(folder)
    assert model.wv.vectors.shape == (len(BENCHMARK_WORDS), 16)
    assert sorted(model.wv.index_to_key) == sorted(BENCHMARK_WORDS)
    assert np.isfinite(model.wv.vectors).all()


def test_query(trained, capsys):
    assert main(["query", str(trained / "D"), "tiger", "car", "--json", "--topn", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    model, _ = load(trained / "D")
    for word in ("tiger", "car"):
        got = out[word]
        assert len(got) == 3
        assert [w for w, _ in got] == [w for w, _ in model.wv.most_similar(word, topn=3)]
        assert word not in [w for w, _ in got]
        scores = [s for _, s in got]
        assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    assert main(["query", str(trained / "D"), "--similarity", "tiger", "cat", "--json"]) == 0
    sim = json.loads(capsys.readouterr().out)["similarity"]
    assert sim == pytest.approx(float(model.wv.similarity("tiger", "cat")), abs=1e-6)
    assert main(["query", str(trained / "D"), "tiger", "--topn", "2"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0] == "tiger:" and len(text) == 3


def test_query_unknown_word_and_nothing_to_query(trained, capsys):
    assert main(["query", str(trained / "D"), "zyzzyva"]) == 2
    assert "zyzzyva" in _error_line(capsys)
    assert main(["query", str(trained / "D")]) == 2
    assert "nothing to query" in _error_line(capsys)


def test_evaluate_writes_eval_results(trained, capsys):
    pytest.importorskip("gensim")  # the benchmark files ship with gensim
    folder = trained / "D"
    assert main(["evaluate", str(folder)]) == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)  # stdout: the JSON alone; what runs is told on stderr as it starts
    steps = [line for line in captured.err.splitlines() if line.startswith("hf-embeddings: ")]
    assert [s.split()[1] for s in steps] == ["loading", "wordsim353", "simlex999", "google_analogy"]
    saved = json.loads((folder / "eval_results.json").read_text())
    assert saved == printed
    assert saved["wordsim353_n_pairs"] == 353 and saved["simlex999_n_pairs"] == 999
    assert saved["wordsim353_n_oov"] < 353 and saved["google_analogy_n_questions"] == 19544
    assert saved["google_analogy_n_correct"] + saved["google_analogy_n_incorrect"] > 0
    assert -1 <= saved["wordsim353_spearman"] <= 1
    assert not (folder / "eval_results.json.tmp").exists()


@pytest.mark.parametrize("fmt", ["word2vec", "word2vec-binary", "glove"])
def test_convert_export_import_round_trip(trained, tmp_path, capsys, fmt):
    source = trained / "D"
    exported = tmp_path / "vectors.txt"
    assert main(["convert", "export", str(source), str(exported), "--format", fmt]) == 0
    if fmt == "word2vec":
        assert exported.read_text().splitlines()[0] == f"{len(BENCHMARK_WORDS)} 16"
    assert main(["convert", "import", str(exported), "--output-dir", str(tmp_path / "D2")]) == 0
    assert f"wrote {tmp_path / 'D2'}" in capsys.readouterr().out

    original, _ = load(source)
    imported, tok = load(tmp_path / "D2")
    assert imported.wv.index_to_key == original.wv.index_to_key
    np.testing.assert_array_equal(imported.wv.vectors, original.wv.vectors)
    for word in ("tiger", "berlin"):
        np.testing.assert_array_equal(imported.wv[word], original.wv[word])
    assert tok.word_counts is None  # vector files carry no counts

    # importing again needs --overwrite
    assert main(["convert", "import", str(exported), "--output-dir", str(tmp_path / "D2")]) == 2
    assert "--overwrite" in _error_line(capsys)
    assert (
        main(["convert", "import", str(exported), "--output-dir", str(tmp_path / "D2"), "--overwrite"]) == 0
    )


# ------------------------------------------------------------------------------------------ crashes
def _crash(*args, **kwargs):
    raise RuntimeError("simulated crash in the middle of training")


def test_crashed_run_leaves_no_output_folder(tmp_path, corpus_file, monkeypatch):
    monkeypatch.setattr(hf_embeddings.training.trainer.EmbeddingTrainer, "train", _crash)
    out = tmp_path / "runs" / "D"
    argv = ["train", "word2vec", "--corpus", str(corpus_file), "--output-dir", str(out), "--epochs", "1"]
    with pytest.raises(RuntimeError, match="simulated crash"):
        main([*argv, "--vector-size", "8", "--min-count", "1", "--quiet", "--device", "cpu"])
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # no temporary folder left behind either


def test_crashed_overwrite_keeps_the_previous_model(tmp_path, corpus_file, monkeypatch):
    out = tmp_path / "D"
    out.mkdir()
    (out / "config.json").write_text('{"previous": true}')
    monkeypatch.setattr(hf_embeddings.training.trainer.EmbeddingTrainer, "train", _crash)
    argv = ["train", "word2vec", "--corpus", str(corpus_file), "--output-dir", str(out), "--overwrite"]
    with pytest.raises(RuntimeError, match="simulated crash"):
        main([*argv, "--epochs", "1", "--vector-size", "8", "--min-count", "1", "--quiet", "--device", "cpu"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D", "tiny.txt"]
    assert [p.name for p in out.iterdir()] == ["config.json"]
    assert json.loads((out / "config.json").read_text()) == {"previous": True}


def test_published_files_name_the_corpus_not_a_local_path(trained):
    log = json.loads((trained / "D" / "training_log.json").read_text())
    counts = json.loads((trained / "D" / "word_counts.json").read_text())
    assert log["corpus"] == "tiny.txt" and counts["stats"]["source"] == "tiny.txt"
    assert str(trained) not in (trained / "D" / "training_log.json").read_text()
    assert str(trained) not in (trained / "D" / "README.md").read_text()


# ------------------------------------------------------------ the light path: no transformers, no torch
LIGHT_QUERIES = [
    ["tiger", "car", "--topn", "5"],
    ["TIGER", "--topn", "3"],  # normalised by the tokenizer (it lowercases), as the full path does
    ["--analogy", "tiger", "cat", "car"],
    ["--analogy", "tiger", "cat", "car", "--cosmul", "--topn", "4"],
    ["--similarity", "tiger", "cat"],
]


def _full_load_only(monkeypatch) -> None:
    """Make `query` / `convert export` load every folder the full way (transformers + torch)."""
    monkeypatch.setattr("hf_embeddings.hub.light_folder.read_light_folder", lambda path: None)


def _outputs(argvs, capsys) -> list[str]:
    outputs = []
    for argv in argvs:
        assert main(argv) == 0, argv
        outputs.append(capsys.readouterr().out)
    return outputs


def _same_answers(light: str, full: str) -> None:
    """Same words in the same order, scores equal to float32 rounding (numpy vs torch summation)."""
    a, b = json.loads(light), json.loads(full)
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], float):
            assert a[key] == pytest.approx(b[key], abs=1e-6)
            continue
        assert [w for w, _ in a[key]] == [w for w, _ in b[key]]
        np.testing.assert_allclose([s for _, s in a[key]], [s for _, s in b[key]], atol=1e-6)


@pytest.mark.parametrize("model", ["word2vec", "glove"])
def test_light_query_answers_as_the_full_load(trained, tmp_path, capsys, monkeypatch, model):
    from hf_embeddings.hub.light_folder import read_light_folder

    folder = trained / "D"
    if model == "glove":  # a GloVe folder whose W~ is not zero: the light table is W + W~, as `wv`'s
        from safetensors.numpy import load_file, save_file

        exported = tmp_path / "vectors.txt"
        assert main(["convert", "export", str(folder), str(exported)]) == 0
        folder = tmp_path / "G"
        assert (
            main(["convert", "import", str(exported), "--output-dir", str(folder), "--model", "glove"]) == 0
        )
        tensors = load_file(folder / "model.safetensors")
        rng = np.random.default_rng(0)
        tensors["context_embeddings.weight"] = rng.standard_normal(
            tensors["embeddings.weight"].shape, dtype=np.float32
        )
        save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
        capsys.readouterr()
    light_folder = read_light_folder(folder)
    assert light_folder is not None and light_folder.model_type == f"hfe_{model}"
    full_model, _ = load(folder)
    assert light_folder.words == full_model.wv.index_to_key
    np.testing.assert_array_equal(light_folder.vectors, full_model.wv.vectors)

    argvs = [["query", str(folder), *q] for q in LIGHT_QUERIES]
    light_text = _outputs(argvs, capsys)
    light_json = _outputs([[*a, "--json"] for a in argvs], capsys)
    _full_load_only(monkeypatch)
    assert _outputs(argvs, capsys) == light_text  # the printed answers, 4 decimals
    for light, full in zip(light_json, _outputs([[*a, "--json"] for a in argvs], capsys)):
        _same_answers(light, full)
    assert light_text[1].startswith("TIGER:\n") and "tiger " not in light_text[1]


@pytest.mark.parametrize("fmt", ["word2vec", "word2vec-binary", "glove"])
def test_light_export_writes_the_same_file(trained, tmp_path, monkeypatch, fmt):
    light, full = tmp_path / "light.txt", tmp_path / "full.txt"
    assert main(["convert", "export", str(trained / "D"), str(light), "--format", fmt]) == 0
    _full_load_only(monkeypatch)
    assert main(["convert", "export", str(trained / "D"), str(full), "--format", fmt]) == 0
    assert light.read_bytes() == full.read_bytes()


def _damaged(trained, tmp_path, damage: str):
    """A copy of the trained folder with one kind of damage."""
    import shutil

    from safetensors.numpy import load_file, save_file

    folder = tmp_path / damage
    shutil.copytree(trained / "D", folder)
    weights = folder / "model.safetensors"
    tensors = load_file(weights)
    config = json.loads((folder / "config.json").read_text())
    tok_config = json.loads((folder / "tokenizer_config.json").read_text())
    if damage == "nan-in-table":
        tensors["embeddings.weight"][7, 3] = np.nan
    elif damage == "inf-in-other-tensor":
        tensors["output_embeddings.weight"][5, 0] = np.inf
    elif damage == "missing-tensor":
        del tensors["output_embeddings.weight"]
    elif damage == "unexpected-tensor":
        tensors["extra.weight"] = np.zeros((2, 2), dtype=np.float32)
    elif damage == "wrong-shape":
        config["vocab_size"] += 1
    elif damage == "newer-format":
        config["hf_embeddings_format_version"] = 99
    elif damage == "renamed-special-token":
        tok_config["unk_token"] = "[UNK]"
    save_file(tensors, weights, metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_config))
    return folder


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("nan-in-table", "NaN or infinite"),
        ("inf-in-other-tensor", "NaN or infinite"),
        ("missing-tensor", "missing tensor(s) output_embeddings.weight"),
        ("unexpected-tensor", "unexpected tensor(s) extra.weight"),
        ("wrong-shape", "cannot read the weights"),
        ("newer-format", "format version 99"),
        ("renamed-special-token", "they are not a pair"),
    ],
)
def test_light_path_refuses_what_the_full_load_refuses(trained, tmp_path, capsys, damage, message):
    """A damaged folder is never answered from: the light reader hands it to the full loader, whose error
    (one line, exit 2) the user sees, for queries and exports alike."""
    from hf_embeddings.hub.light_folder import read_light_folder

    folder = _damaged(trained, tmp_path, damage)
    assert read_light_folder(folder) is None
    assert main(["query", str(folder), "tiger"]) == 2
    assert message in _error_line(capsys)
    assert main(["convert", "export", str(folder), str(tmp_path / "out.txt")]) == 2
    assert message in _error_line(capsys)
    assert not (tmp_path / "out.txt").exists()


def test_light_reader_mirrors_the_models():
    """What `hub.light_folder` writes out rather than import (the modules import transformers) agrees with
    the source: special tokens, folder format version, and each family's tensors and word table."""
    import torch

    from hf_embeddings.cli import NORMALIZATIONS
    from hf_embeddings.hub import light_folder
    from hf_embeddings.models.configuration_base import FORMAT_VERSION, FORMAT_VERSION_KEY
    from hf_embeddings.models.family import get_family
    from hf_embeddings.text.tokenization import SPECIAL_TOKENS, UNICODE_NORMALIZATIONS

    assert light_folder.SPECIAL_TOKENS == SPECIAL_TOKENS
    assert (light_folder.FORMAT_VERSION, light_folder.FORMAT_VERSION_KEY) == (
        FORMAT_VERSION,
        FORMAT_VERSION_KEY,
    )
    assert NORMALIZATIONS == tuple(n or "none" for n in UNICODE_NORMALIZATIONS)
    variants = [
        ("word2vec", {}),
        ("word2vec", {"hierarchical_softmax": True}),
        ("word2vec", {"imported_vectors": True}),
        ("glove", {"combine": "sum"}),
        ("glove", {"combine": "word"}),
    ]
    for name, options in variants:
        family = get_family(name)
        config = family.config_class(vocab_size=9, vector_size=3, **options)
        model = family.model_class(config)
        with torch.no_grad():
            for p in model.parameters():
                p.normal_()
        saved = json.loads(config.to_json_string())  # what config.json holds
        tensors, table = light_folder.LAYOUTS[saved["model_type"]](saved, 9, 3)
        state = model.state_dict()
        kept = {k: tuple(v.shape) for k, v in state.items() if k not in model._keys_to_ignore_on_save}
        assert tensors == kept, (name, options)  # what save_pretrained writes
        np.testing.assert_array_equal(
            sum(state[t].numpy() for t in table), model.word_table().detach().numpy()
        )


LIGHT_CHILD = """
import contextlib, io, json, sys
import hf_embeddings_cli

codes = []
for argv in json.loads(sys.argv[1]):
    sys.argv = ["hf-embeddings", *argv]
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            codes.append(hf_embeddings_cli.main())
        except SystemExit as e:
            codes.append(e.code)
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers"})
registered = None
if heavy:  # the package's __init__ ran: the families are registered with the Auto classes
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    registered = "hfe_word2vec" in CONFIG_MAPPING
print(json.dumps({"codes": codes, "heavy": heavy, "registered": registered}))
"""


def _child(argvs) -> dict:
    import subprocess
    import sys
    from pathlib import Path

    run = subprocess.run(
        [sys.executable, "-c", LIGHT_CHILD, json.dumps(argvs)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.splitlines()[-1]) | {"stderr": run.stderr}


def test_console_entry_answers_without_transformers_or_torch(trained, tmp_path):
    """The console script (`hf_embeddings_cli`) runs --help, queries and exports on a saved folder without
    importing transformers or torch; a command that needs them finishes the package import, so the Auto
    classes are registered as `import hf_embeddings` promises."""
    folder = str(trained / "D")
    light = _child(
        [
            ["--help"],
            ["query", "--help"],
            ["--version"],
            ["query", folder, "tiger", "--analogy", "tiger", "cat", "car"],
            ["convert", "export", folder, str(tmp_path / "v.txt")],
        ]
    )
    assert light["codes"] == [0, 0, 0, 0, 0] and light["heavy"] == [], light
    assert (tmp_path / "v.txt").read_text().startswith(f"{len(BENCHMARK_WORDS)} 16\n")
    full = _child([["query", str(_damaged(trained, tmp_path, "nan-in-table")), "tiger"], ["train", "--list"]])
    assert full["codes"] == [2, 0] and full["heavy"] == ["torch", "transformers"] and full["registered"], full
    assert "NaN or infinite" in full["stderr"] and "Traceback" not in full["stderr"]


def test_console_entry_in_a_process_that_imported_the_package(trained, capsys, monkeypatch):
    import hf_embeddings_cli

    monkeypatch.setattr("sys.argv", ["hf-embeddings", "query", str(trained / "D"), "tiger", "--topn", "2"])
    assert hf_embeddings_cli.main() == 0
    assert capsys.readouterr().out.startswith("tiger:\n")


# ------------------------------------------------------------------ train: tokenization options
def test_train_tokenization_options_reach_load_corpus(tmp_path, corpus_file, capsys, monkeypatch):
    import hf_embeddings.api
    from hf_embeddings.cli import CLIError

    calls = []

    def fake_train(*args, **kwargs):
        calls.append(kwargs["corpus_options"])
        raise CLIError("stop here")

    monkeypatch.setattr(hf_embeddings.api, "train", fake_train)
    base = ["train", "word2vec", "--corpus", str(corpus_file), "--output-dir", str(tmp_path / "o")]
    for extra in (
        [],
        ["--no-lowercase", "--no-split-punctuation", "--normalization", "none"],
        ["--lowercase", "--split-punctuation", "--normalization", "nfc", "--text-column", "body"],
    ):
        assert main([*base, *extra]) == 2
        assert "stop here" in _error_line(capsys)
    assert calls == [
        None,
        {"lowercase": False, "split_punctuation": False, "unicode_normalization": None},
        {"lowercase": True, "split_punctuation": True, "unicode_normalization": "NFC", "text_column": "body"},
    ]
    assert main([*base, "--normalization", "NFX"]) == 2
    line = _error_line(capsys)
    assert "--normalization" in line and "NFKC, NFC, NFKD, NFD, none" in line and "'NFX'" in line


def test_train_without_lowercasing_or_punctuation_splitting(tmp_path, monkeypatch):
    corpus = write_lines(tmp_path / "cased.txt", ["The Cat sat. the cat, sat"] * 50)
    monkeypatch.setenv("HF_EMBEDDINGS_CACHE", str(tmp_path / "cache"))
    argv = [
        "train",
        "word2vec",
        "--corpus",
        str(corpus),
        "--output-dir",
        str(tmp_path / "D"),
        "--min-count",
        "1",
    ]
    options = ["--no-lowercase", "--no-split-punctuation", "--normalization", "none"]
    assert main([*argv, *options, "--epochs", "1", "--vector-size", "4", "--quiet", "--device", "cpu"]) == 0
    _, tok = load(tmp_path / "D")
    assert sorted(tok.words) == sorted(["The", "Cat", "sat.", "the", "cat,", "sat"])
    assert tok.backend_tokenizer.normalizer is None
    assert tok.pre_tokenize("The Cat, sat.") == ["The", "Cat,", "sat."]


# ------------------------------------------------------------------------------- imported vectors
def _googlenews_like(path, n: int = 40, dim: int = 8):
    """A binary word2vec file in GoogleNews' layout: `</s>` first, cased words, a phrase, and `<unk>`."""
    from hf_embeddings.vectors.formats import write_word2vec_format

    words = ["</s>", "King", "queen", "New_York", "<unk>"] + [f"w{i}" for i in range(n - 5)]
    vectors = np.random.default_rng(3).standard_normal((n, dim)).astype(np.float32)
    write_word2vec_format(path, words, vectors, binary=True)
    return words, vectors


def test_imported_folder_stores_only_its_table(tmp_path, capsys, monkeypatch):
    """`convert import` saves the file's table alone (no zero output table beside it: half the size), its
    special entries in the special rows; the folder loads (output table zero) and answers as the light
    reader does."""
    from safetensors.numpy import load_file

    from hf_embeddings.hub.light_folder import read_light_folder

    words, vectors = _googlenews_like(tmp_path / "vectors.bin")
    folder = tmp_path / "imported"
    assert main(["convert", "import", str(tmp_path / "vectors.bin"), "--output-dir", str(folder)]) == 0
    capsys.readouterr()
    tensors = load_file(folder / "model.safetensors")
    assert list(tensors) == ["embeddings.weight"]
    assert (folder / "model.safetensors").stat().st_size < vectors.nbytes + 1000
    table = tensors["embeddings.weight"]
    rest = [i for i, w in enumerate(words) if w not in ("</s>", "<unk>")]
    assert table.shape == (4 + len(rest), vectors.shape[1])
    np.testing.assert_array_equal(table[0], vectors[words.index("<unk>")])
    np.testing.assert_array_equal(table[3], vectors[words.index("</s>")])
    assert not table[1:3].any()  # <pad>, <s>: not in the file
    np.testing.assert_array_equal(table[4:], vectors[rest])
    assert json.loads((folder / "config.json").read_text())["imported_vectors"] is True

    model, _ = load(folder)
    assert not model.output_embeddings.weight.detach().any()
    light = read_light_folder(folder)
    assert light is not None and light.words == model.wv.index_to_key == [words[i] for i in rest]
    np.testing.assert_array_equal(light.vectors, model.wv.vectors)
    argvs = [
        ["query", str(folder), "King", "--topn", "3"],
        ["query", str(folder), "--similarity", "queen", "w7"],
    ]
    light_text = _outputs(argvs, capsys)
    _full_load_only(monkeypatch)
    assert _outputs(argvs, capsys) == light_text


def test_only_an_imported_folder_may_lack_the_output_table(tmp_path, capsys):
    """Strict loading stays: the same folder without the `imported_vectors` mark is a damaged trained
    folder, refused by both readers in one line."""
    from hf_embeddings.hub.light_folder import read_light_folder

    _googlenews_like(tmp_path / "vectors.bin")
    folder = tmp_path / "imported"
    assert main(["convert", "import", str(tmp_path / "vectors.bin"), "--output-dir", str(folder)]) == 0
    config = json.loads((folder / "config.json").read_text())
    del config["imported_vectors"]
    (folder / "config.json").write_text(json.dumps(config))
    assert read_light_folder(folder) is None
    assert main(["query", str(folder), "queen"]) == 2
    assert "missing tensor(s) output_embeddings.weight" in _error_line(capsys)


def test_training_continues_from_imported_vectors(tmp_path):
    """A training head clears the mark: the continued model saves both tables again."""
    from safetensors.numpy import load_file

    from hf_embeddings.api import train

    words, _ = _googlenews_like(tmp_path / "vectors.bin")
    imported = tmp_path / "imported"
    assert main(["convert", "import", str(tmp_path / "vectors.bin"), "--output-dir", str(imported)]) == 0
    corpus = random_sentences(words[5:25] + ["queen"], n=60, length=8, seed=1)
    result = train("word2vec", corpus, tmp_path / "continued", init_from=imported, update_vocab=True,
                   config={"epochs": 1}, device="cpu", show_progress=False)  # fmt: skip
    tensors = load_file(result.output_dir / "model.safetensors")
    assert set(tensors) == {"embeddings.weight", "output_embeddings.weight"}
    assert tensors["output_embeddings.weight"].any()  # trained, so kept
    assert json.loads((result.output_dir / "config.json").read_text())["imported_vectors"] is False
    load(result.output_dir)


IMPORT_MEMORY_CHILD = """
import resource, sys
from hf_embeddings.cli import main
assert main(["convert", "import", sys.argv[1], "--output-dir", sys.argv[3]]) == 0  # the libraries, warm
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert main(["convert", "import", sys.argv[2], "--output-dir", sys.argv[4]]) == 0
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024)
"""


def test_import_peaks_near_the_table_size(tmp_path):
    """Peak RSS of importing a 30,000 x 400 binary file (48 MB) above what the libraries take is at most
    1.5x the table: read in place, written from the array, no torch copies (bench/vector_io.py at scale)."""
    import subprocess
    import sys

    from hf_embeddings.vectors.formats import write_word2vec_format

    vectors = np.random.default_rng(0).standard_normal((30_000, 400), dtype=np.float32)
    words = ["</s>"] + [f"w{i}" for i in range(len(vectors) - 1)]
    write_word2vec_format(tmp_path / "big.bin", words, vectors, binary=True)
    write_word2vec_format(tmp_path / "tiny.bin", words[:10], vectors[:10], binary=True)
    argv = [str(tmp_path / n) for n in ("tiny.bin", "big.bin", "tiny", "big")]
    run = subprocess.run([sys.executable, "-c", IMPORT_MEMORY_CHILD, *argv], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(run.stdout.split()[-1]) <= 1.5 * vectors.nbytes
