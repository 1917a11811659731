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
    ],
)
def test_bad_option_values(tmp_path, corpus_file, capsys, extra, expected):
    out = tmp_path / "out"
    assert main(["train", "word2vec", "--corpus", str(corpus_file), "--output-dir", str(out), *extra]) == 2
    assert expected in _error_line(capsys)
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
    printed = json.loads(capsys.readouterr().out)
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
