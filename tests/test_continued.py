"""Continued training (gensim's `build_vocab(update=True)` + `train`): `--init-from DIR [--update-vocab]`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _support.corpora import topic_sentences, write_lines
from safetensors.numpy import load_file

from hf_embeddings.api import load, train
from hf_embeddings.cli import main as cli_main

OLD = [["king", "queen", "prince", "crown", "throne"], ["river", "water", "boat", "lake", "shore"]]
NEW = [["piano", "violin", "guitar", "drum", "choir"]]
CONFIG = {"vector_size": 16, "min_count": 3, "epochs": 8, "window": 3, "words_per_batch": 2000}


@pytest.fixture(scope="module")
def halves(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("continued")
    first = write_lines(tmp / "first.txt", topic_sentences(OLD, 300, 10, seed=1))
    second = write_lines(tmp / "second.txt", topic_sentences(OLD + NEW, 450, 10, seed=2))
    model = train("word2vec", str(first), tmp / "first", config=CONFIG, show_progress=False, device="cpu")
    return tmp, first, second, model


def vocab(folder) -> dict:
    return json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]


def counts(folder) -> dict:
    return json.loads((folder / "word_counts.json").read_text(encoding="utf-8"))["counts"]


def test_update_vocab_keeps_ids_adds_words_and_trains_both(halves, tmp_path):
    tmp, first, second, _ = halves
    out = tmp_path / "grown"
    train(
        "word2vec", str(second), out, config={"epochs": 8}, init_from=tmp / "first", update_vocab=True,
        show_progress=False, device="cpu",
    )  # fmt: skip
    old, grown = vocab(tmp / "first"), vocab(out)
    assert all(grown[w] == i for w, i in old.items())  # every id keeps its word
    assert set(grown) - set(old) == set(NEW[0])  # the new words get the next ids
    assert sorted(grown[w] for w in NEW[0]) == list(range(len(old), len(old) + 5))
    before, after = counts(tmp / "first"), counts(out)
    second_counts = {w: open(second).read().split().count(w) for w in ("king", "piano")}
    assert after["king"] == before["king"] + second_counts["king"]  # counts add up, as gensim's
    assert after["piano"] == second_counts["piano"]
    config = json.loads((out / "config.json").read_text())
    assert config["vocab_size"] == len(grown) and config["vector_size"] == CONFIG["vector_size"]

    model, _ = load(out)
    for word, topic in (("piano", NEW[0]), ("king", OLD[0]), ("river", OLD[1])):
        found = [w for w, _ in model.wv.most_similar(word, topn=3)]
        assert all(w in topic for w in found), (word, found)
    # old rows kept training (they moved), from the saved values (not a fresh start: still close)
    a, b = load_file(tmp / "first" / "model.safetensors"), load_file(out / "model.safetensors")
    rows = len(old)
    moved = np.linalg.norm(b["embeddings.weight"][4:rows] - a["embeddings.weight"][4:rows], axis=1)
    assert moved.min() > 0
    cos = np.sum(a["embeddings.weight"][4:rows] * b["embeddings.weight"][4:rows], axis=1) / (
        np.linalg.norm(a["embeddings.weight"][4:rows], axis=1)
        * np.linalg.norm(b["embeddings.weight"][4:rows], axis=1)
    )
    assert np.median(cos) > 0.5


def test_without_update_vocab_the_saved_vocabulary_is_kept(halves, tmp_path):
    tmp, _, second, _ = halves
    out = tmp_path / "same"
    train(
        "word2vec",
        str(second),
        out,
        config={"epochs": 1},
        init_from=tmp / "first",
        show_progress=False,
        device="cpu",
    )
    assert vocab(out) == vocab(tmp / "first")  # the new topic's words are unknown, as in gensim's train


def test_continued_training_errors(halves, tmp_path, capsys):
    tmp, first, second, _ = halves
    base = ["train", "word2vec", "--corpus", str(second), "--quiet"]
    assert cli_main([*base, "--output-dir", str(tmp_path / "a"), "--update-vocab"]) == 2
    assert "give it with --init-from" in capsys.readouterr().err
    assert cli_main([*base, "--output-dir", str(tmp_path / "b"), "--init-from", str(tmp_path / "nope")]) == 2
    assert "nope" in capsys.readouterr().err
    assert (
        cli_main(
            [
                "train",
                "glove",
                "--corpus",
                str(second),
                "--output-dir",
                str(tmp_path / "c"),
                "--init-from",
                str(tmp / "first"),
            ]
        )
        == 2
    )
    assert "glove does not continue training" in capsys.readouterr().err
    assert (
        cli_main(
            [
                *base,
                "--output-dir",
                str(tmp_path / "d"),
                "--init-from",
                str(tmp / "first"),
                "--vector-size",
                "32",
            ]
        )
        == 2
    )
    assert "keeps the model's sizes" in capsys.readouterr().err
    assert not any((tmp_path / n).exists() for n in "abcd")


def test_eval_every_epoch_logs_scores_per_epoch(halves, tmp_path):
    _, first, _, _ = halves
    out = tmp_path / "scored"
    train(
        "word2vec", str(first), out, config={**CONFIG, "epochs": 2}, eval_every_epoch=True,
        show_progress=False, device="cpu",
    )  # fmt: skip
    epochs = json.loads((out / "training_log.json").read_text(encoding="utf-8"))["epochs"]
    assert len(epochs) == 2
    for record in epochs:
        assert {"eval_wordsim353_spearman", "eval_simlex999_spearman", "eval_google_analogy_accuracy"} <= set(
            record
        )
