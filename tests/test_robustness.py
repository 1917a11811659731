"""Hostile input and hostile timing: concurrent runs, kills, damaged files. Every case here failed before
its fix (a lost model, a crash, a silent wrong model, a leftover that nothing removed)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _support.corpora import random_sentences, write_lines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hf_embeddings.cli import main
from hf_embeddings.errors import HFEmbeddingsError
from hf_embeddings.files import stale_temporaries, temporary_path
from hf_embeddings.hub.folder import atomic_folder, output_lock

WORDS = ["cat", "dog", "bird", "fish", "tree", "leaf", "rock", "sand"]


@pytest.fixture
def corpus_file(tmp_path):
    return write_lines(tmp_path / "tiny.txt", random_sentences(WORDS, n=100, length=8, seed=0))


def _train(corpus_file, out, *extra) -> int:
    argv = ["train", "word2vec", "--corpus", str(corpus_file), "--output-dir", str(out), "--min-count", "1"]
    return main([*argv, "--epochs", "1", "--vector-size", "4", "--quiet", "--device", "cpu", *extra])


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _as_dead(path, pid):
    """`path` renamed as if a process `pid` (now gone) had created it."""
    name = path.name.replace(f"-{os.getpid()}-", f"-{pid}-")
    return path.with_name(name)


# ------------------------------------------------------------------------------------ output folders
def test_a_second_run_into_the_same_folder_fails_clearly(corpus_file, tmp_path, capsys):
    out = tmp_path / "out"
    with output_lock(out):  # another run is writing `out`
        assert _train(corpus_file, out) == 2
    err = capsys.readouterr().err
    assert "is being written by another run" in err and "Traceback" not in err
    assert not out.exists()
    assert _train(corpus_file, out) == 0  # the lock went with its holder
    assert (out / "model.safetensors").is_file()
    assert not (tmp_path / ".out.lock").exists()


def test_a_swap_killed_between_its_renames_is_undone_by_the_next_run(corpus_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert _train(corpus_file, out) == 0
    weights = (out / "model.safetensors").read_bytes()
    # what `--overwrite` leaves when killed after moving the old model aside, before the new one arrived
    aside = _as_dead(temporary_path(out, "old"), _dead_pid())
    os.replace(out, aside)
    half_written = _as_dead(temporary_path(out), _dead_pid())
    half_written.mkdir()
    (half_written / "config.json").write_text("{")
    assert _train(corpus_file, out) == 2  # not empty: the old model is back, and kept
    assert "is not empty" in capsys.readouterr().err
    assert (out / "model.safetensors").read_bytes() == weights
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "tiny.txt"]  # leftovers removed
    assert _train(corpus_file, out, "--overwrite") == 0


def test_temporaries_of_live_processes_are_left_alone(tmp_path):
    out = tmp_path / "out"
    live = temporary_path(out)  # this process: alive
    live.mkdir()
    with atomic_folder(out) as folder:
        (folder / "x").write_text("1")
    assert live.is_dir() and stale_temporaries(tmp_path, "out") == []


def test_saved_folders_follow_the_umask(corpus_file, tmp_path):
    old = os.umask(0o022)
    try:
        assert _train(corpus_file, tmp_path / "out") == 0
        exported = tmp_path / "v.txt"
        assert main(["convert", "export", str(tmp_path / "out"), str(exported)]) == 0
        assert main(["convert", "import", str(exported), "--output-dir", str(tmp_path / "imported")]) == 0
    finally:
        os.umask(old)
    for folder in (tmp_path / "out", tmp_path / "imported"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755
        for path in folder.rglob("*"):
            assert stat.S_IMODE(path.stat().st_mode) == (0o755 if path.is_dir() else 0o644), path


def test_temporaries_of_killed_runs_are_removed_by_the_next_write(tmp_path, isolated_corpus_cache):
    from hf_embeddings import load_corpus
    from hf_embeddings.files import write_text_atomic

    dead = _dead_pid()
    build = _as_dead(temporary_path(isolated_corpus_cache / "0123abcd"), dead)  # a killed cache build
    build.mkdir()
    (build / "ids.bin").write_bytes(b"\0" * 64)
    card = _as_dead(temporary_path(tmp_path / "README.md"), dead)  # a killed card rewrite
    card.write_text("half a card")
    corpus = load_corpus(["cat dog", "dog bird"], min_count=1)
    assert sorted(os.listdir(isolated_corpus_cache)) == [corpus.cache_dir.name]
    write_text_atomic(tmp_path / "README.md", "the card")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "hfe-cache") == ["README.md"]


# ------------------------------------------------------------------------------------ saved folders
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One tiny trained Word2Vec folder; tests damage copies of it."""
    import shutil

    from hf_embeddings.api import train

    root = tmp_path_factory.mktemp("saved")
    texts = random_sentences(WORDS, n=60, length=8, seed=1)
    with pytest.MonkeyPatch.context() as m:
        m.setenv("HF_EMBEDDINGS_CACHE", str(root / "cache"))
        train("word2vec", texts, root / "model", config={"vector_size": 4, "epochs": 1, "min_count": 1},
              device="cpu", show_progress=False)  # fmt: skip
    shutil.rmtree(root / "cache", ignore_errors=True)
    return root / "model"


def _copy(saved, tmp_path):
    import shutil

    return Path(shutil.copytree(saved, tmp_path / "copy"))


def _tensors(folder):
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


def _save_tensors(folder, tensors):
    from safetensors.numpy import save_file

    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})


def _edit_json(path, fn):
    data = json.loads(path.read_text())
    path.write_text(json.dumps(fn(data)))


def _damage(folder, how):
    t = _tensors(folder)
    if how == "missing tensor":
        t.pop("output_embeddings.weight")
        _save_tensors(folder, t)
    elif how == "renamed tensor":
        t["embedding.weight"] = t.pop("embeddings.weight")
        _save_tensors(folder, t)
    elif how == "extra tensor":
        t["surprise"] = np.zeros(3, np.float32)
        _save_tensors(folder, t)
    elif how == "wrong shape":
        t["embeddings.weight"] = t["embeddings.weight"][:, :3].copy()
        _save_tensors(folder, t)
    elif how == "nan weight":
        t["embeddings.weight"][5, 1] = np.nan
        _save_tensors(folder, t)
    elif how == "flipped header bit":
        raw = bytearray((folder / "model.safetensors").read_bytes())
        raw[20] ^= 0x10
        (folder / "model.safetensors").write_bytes(bytes(raw))
    elif how == "truncated weights":
        raw = (folder / "model.safetensors").read_bytes()
        (folder / "model.safetensors").write_bytes(raw[: len(raw) // 2])
    elif how == "pickle instead of weights":
        import pickle

        (folder / "model.safetensors").unlink()
        (folder / "pytorch_model.bin").write_bytes(pickle.dumps({"embeddings.weight": [1.0]}))
    elif how == "config not json":
        (folder / "config.json").write_text("{ not json")
    elif how == "config is a list":
        (folder / "config.json").write_text("[1, 2]")
    elif how == "config bad dtype":
        _edit_json(folder / "config.json", lambda c: {**c, "dtype": "float17"})
    elif how == "config not utf-8":
        (folder / "config.json").write_bytes(b"\xff\xfe{}")
    elif how == "tokenizer fewer words":

        def drop(tok):
            vocab = tok["model"]["vocab"]
            tok["model"]["vocab"] = dict(list(vocab.items())[:-2])
            return tok

        _edit_json(folder / "tokenizer.json", drop)
    elif how == "tokenizer duplicate ids":

        def dup(tok):
            vocab = tok["model"]["vocab"]
            last = list(vocab)[-1]
            vocab[last] = vocab[list(vocab)[-2]]
            return tok

        _edit_json(folder / "tokenizer.json", dup)
    elif how == "no tokenizer_config":
        (folder / "tokenizer_config.json").unlink()
    elif how == "tokenizer_config names another class":  # found by the folder fuzz test
        _edit_json(folder / "tokenizer_config.json", lambda c: {**c, "tokenizer_class": "TokenizersBackend"})
    elif how == "counts as a list":
        _edit_json(folder / "word_counts.json", lambda d: {**d, "counts": [1, 2, 3]})
    elif how == "count 1e30":
        _edit_json(folder / "word_counts.json", lambda d: {**d, "counts": {**d["counts"], "cat": 1e30}})
    else:
        raise AssertionError(how)


DAMAGE = [
    "missing tensor", "renamed tensor", "extra tensor", "wrong shape", "nan weight", "flipped header bit",
    "truncated weights", "pickle instead of weights", "config not json", "config is a list",
    "config bad dtype", "config not utf-8", "tokenizer fewer words", "tokenizer duplicate ids",
    "no tokenizer_config", "tokenizer_config names another class", "counts as a list", "count 1e30",
]  # fmt: skip


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_folder_is_a_clear_error_not_a_model(saved, tmp_path, capsys, how):
    from hf_embeddings.api import load

    folder = _copy(saved, tmp_path)
    _damage(folder, how)
    with pytest.raises(HFEmbeddingsError) as info:
        model, tok = load(folder)
        _ = model.wv.vectors, tok.word_counts  # what `query` and `evaluate` read first
    assert str(folder) in str(info.value) or "word_counts" in str(info.value)
    assert main(["query", str(folder), "cat"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("hf-embeddings: error:")]) == 1, err


def test_non_finite_weights_load_when_asked(saved, tmp_path):
    from hf_embeddings.api import load

    folder = _copy(saved, tmp_path)
    _damage(folder, "nan weight")
    model, _ = load(folder, allow_non_finite=True)
    assert np.isnan(model.get_input_embeddings().weight.detach().numpy()).sum() == 1


_FUZZED = ["config.json", "tokenizer.json", "tokenizer_config.json", "word_counts.json", "model.safetensors"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(_FUZZED),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.none() | st.floats(0, 1),
)
def test_fuzzed_folders_load_correctly_or_fail_clearly(saved, tmp_path_factory, name, edits, cut):
    """Byte edits and truncations of each file of a saved folder: `load` succeeds with the original
    weights (an edit can land where it changes nothing that is read) or raises our error; nothing else.
    Weight-file edits are kept to its JSON header: safetensors has no checksum over the data."""
    from hf_embeddings.api import load

    folder = _copy(saved, tmp_path_factory.mktemp("fuzz"))
    path = folder / name
    raw = bytearray(path.read_bytes())
    span = 8 + int.from_bytes(raw[:8], "little") if name == "model.safetensors" else len(raw)
    for where, value in edits:
        raw[int(where * span)] = value
    if cut is not None:
        raw = raw[: int(cut * span)]
    path.write_bytes(bytes(raw))
    try:
        model, tok = load(folder)
        _ = tok.word_counts
    except HFEmbeddingsError:
        return
    original = _tensors(saved)
    for key, value in _tensors(folder).items():
        np.testing.assert_array_equal(value, original[key])
    assert len(tok) == model.get_input_embeddings().num_embeddings


# ------------------------------------------------------------------------------------ options
@pytest.mark.parametrize(
    ("family", "extra", "expected"),
    [
        ("word2vec", ["--epochs", "0"], "epochs must be a positive integer, got 0"),
        ("word2vec", ["--epochs", "nan"], "epochs must be a positive integer, got nan"),
        ("word2vec", ["--learning-rate", "nan"], "got alpha=nan"),
        ("word2vec", ["--learning-rate", "-1"], "got alpha=-1"),
        ("word2vec", ["--batch-size", "0"], "words_per_batch must be a positive integer, got 0"),
        ("word2vec", ["--vector-size", "100000000000"], "GiB available"),
        ("glove", ["--vector-size", "100000000"], "GiB available"),
        ("glove", ["--epochs", "-2"], "epochs must be a positive integer, got -2"),
        ("nnlm", ["--learning-rate", "nan"], "--learning-rate must be a finite number > 0, got nan"),
        ("nnlm", ["--batch-size", "0"], "batch_size must be a positive integer, got 0"),
        ("elmo", ["--learning-rate", "-1"], "--learning-rate must be a finite number > 0, got -1"),
        ("elmo", ["--max-steps", "0"], "--max-steps must be a positive integer, got 0"),
    ],
)
def test_bad_options_are_one_line_errors_before_any_work(
    corpus_file, tmp_path, capsys, family, extra, expected
):
    out = tmp_path / "out"
    argv = ["train", family, "--corpus", str(corpus_file), "--output-dir", str(out), "--min-count", "1"]
    assert main([*argv, "--quiet", "--device", "cpu", *extra]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("hf-embeddings: error:")]
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in err, err
    assert not out.exists()


def test_output_dir_where_no_folder_can_be(corpus_file, tmp_path, capsys):
    for out in ("/proc/hfe-model", str(corpus_file / "model")):
        assert _train(corpus_file, out) == 2
        err = capsys.readouterr().err
        assert "hf-embeddings: error: cannot" in err and "Traceback" not in err, err


def test_usage_errors_are_one_line(capsys):
    assert main(["query"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "required: path, words" in err and "query --help" in err


# ------------------------------------------------------------------------------------ corpora and the cache
_TEXT = "The cat sat on the mat.\nA dog, a log; the end\n\nÉtoile naïve café\n" * 3


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["txt", "gz", "bz2", "xz"]),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=4),
    cut=st.none() | st.floats(0, 1),
    prefix=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\x00"]),
)
def test_fuzzed_corpus_files_read_correctly_or_fail_clearly(tmp_path_factory, kind, edits, cut, prefix):
    """Byte edits and truncations of plain and compressed corpus files: a `CorpusError` naming the file, or
    a consistent corpus (every id in the vocabulary, offsets covering every token); nothing else."""
    import bz2
    import gzip
    import lzma

    from hf_embeddings import CorpusError, load_corpus

    raw = prefix + _TEXT.encode()
    packed = {"txt": raw, "gz": gzip.compress(raw), "bz2": bz2.compress(raw), "xz": lzma.compress(raw)}[kind]
    data = bytearray(packed)
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    path = tmp_path_factory.mktemp("corpus") / ("c.txt" if kind == "txt" else f"c.txt.{kind}")
    path.write_bytes(bytes(data))
    try:
        corpus = load_corpus(path, min_count=1, use_cache=False)
    except CorpusError as e:
        assert str(path) in str(e) or "corpus" in str(e)
        return
    ids = np.asarray(corpus.ids)
    assert ids.min() >= 0 and ids.max() < len(corpus.tokenizer)
    assert corpus.offsets[0] == 0 and corpus.offsets[-1] == len(ids) and np.all(np.diff(corpus.offsets) >= 0)
    if not edits and cut is None and prefix in (b"", b"\xef\xbb\xbf"):  # intact input: the exact words
        assert corpus.decode(0) == ["the", "cat", "sat", "on", "the", "mat", "."]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(["ids.bin", "offsets.npy", "meta.json", "tokenizer/tokenizer.json"]),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.none() | st.floats(0, 1),
)
def test_fuzzed_token_caches_are_rebuilt_or_served_intact(tmp_path_factory, name, edits, cut):
    """A damaged cache entry never reaches the caller: the corpus comes back equal to a fresh build.
    (ids.bin edits write out-of-range ids: an in-range flip of a token id cannot be told from data.)"""
    from hf_embeddings import load_corpus

    root = tmp_path_factory.mktemp("cache")
    path = write_lines(root / "c.txt", random_sentences(WORDS, n=40, length=6, seed=3))
    with pytest.MonkeyPatch.context() as m:
        m.setenv("HF_EMBEDDINGS_CACHE", str(root / "cache"))
        first = load_corpus(path, min_count=1)
        reference = (
            np.asarray(first.ids).copy(),
            np.asarray(first.offsets).copy(),
            first.tokenizer.get_vocab(),
        )
        target = first.cache_dir / name
        del first
        data = bytearray(target.read_bytes())
        for where, value in edits:
            if name == "ids.bin":  # a whole id, out of range
                k = int(where * (len(data) // 4)) * 4
                data[k : k + 4] = (10**6 + value).to_bytes(4, "little", signed=True)
            else:
                data[int(where * len(data))] = value
        if cut is not None:
            data = data[: int(cut * len(data))]
        target.write_bytes(bytes(data))
        again = load_corpus(path, min_count=1)
    np.testing.assert_array_equal(np.asarray(again.ids), reference[0])
    np.testing.assert_array_equal(np.asarray(again.offsets), reference[1])
    assert again.tokenizer.get_vocab() == reference[2]


def test_more_processes_than_gpus_is_a_clear_error(monkeypatch):
    """torchrun --nproc-per-node 2 on a one-GPU node: the second process is told why, before any work."""
    import torch

    from hf_embeddings.errors import HFEmbeddingsError
    from hf_embeddings.training.distributed import local_device

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert local_device("cuda") == "cuda:0"
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(
        HFEmbeddingsError, match="process 1 of this node has no GPU of its own: the node has 1"
    ):
        local_device("cuda")
    assert local_device("cpu") == "cpu"
