"""Hostile input and hostile timing: concurrent runs, kills, damaged files. Every case here failed before
its fix (a lost model, a crash, a silent wrong model, a leftover that nothing removed)."""

from __future__ import annotations

import os
import random
import stat
import subprocess
import sys

import pytest

from hf_embeddings.cli import main
from hf_embeddings.files import stale_temporaries, temporary_path
from hf_embeddings.hub.folder import atomic_folder, output_lock

WORDS = ["cat", "dog", "bird", "fish", "tree", "leaf", "rock", "sand"]


@pytest.fixture
def corpus_file(tmp_path):
    rng = random.Random(0)
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(" ".join(rng.choices(WORDS, k=8)) for _ in range(100)) + "\n")
    return path


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
