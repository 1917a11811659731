"""Checkpoints and resume: a run SIGKILLed after a checkpoint and resumed ends bitwise equal to the
uninterrupted run (deterministic mode: one thread), for every family trained by steps; bad resumes are
clear errors, never a silent fresh start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _support.corpora import topic_sentences, write_lines
from safetensors.numpy import load_file

from hf_embeddings.cli import main as cli_main
from hf_embeddings.training.checkpoints import (
    EMBEDDING_TRAINER_STATE,
    CheckpointError,
    latest_checkpoint,
    resolve_checkpoint,
)

CHILD = Path(__file__).parent / "_support" / "_train_child.py"
TOPICS = [
    ["king", "queen", "prince", "crown", "throne", "royal"],
    ["river", "water", "boat", "bank", "stream", "lake"],
    ["music", "song", "piano", "violin", "guitar", "band"],
]
# about 6 steps per epoch, checkpoints every 4 steps: the kill at step 5 falls in the first epoch after
# checkpoint-4, the kill at 9 in the second epoch after checkpoint-8
CONFIGS = {
    "word2vec": {"vector_size": 12, "min_count": 1, "words_per_batch": 600, "epochs": 2},
    "glove": {"vector_size": 12, "min_count": 1, "entries_per_batch": 20, "epochs": 2, "window_size": 4},
    "nnlm": {"min_count": 1, "epochs": 2, "batch_size": 600, "hidden_size": 16, "embedding_dim": 12},
    "elmo": {"min_count": 1, "epochs": 2, "batch_size": 60},
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_lines(tmp_path_factory.mktemp("resume") / "corpus.txt", topic_sentences(TOPICS, 360, 10))


def run_child(tmp_path: Path, name: str, **spec) -> subprocess.CompletedProcess:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(
        [sys.executable, str(CHILD), str(path)], capture_output=True, text=True, env=env, timeout=600
    )


def weights(folder: Path) -> dict[str, np.ndarray]:
    return load_file(folder / "model.safetensors")


def epoch_losses(folder: Path) -> list[float]:
    log = json.loads((folder / "training_log.json").read_text(encoding="utf-8"))
    return [e["epoch_loss"] for e in log["epochs"]]


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(CONFIGS))
def test_killed_run_resumes_bitwise(family, corpus, tmp_path):
    common = dict(
        family=family, corpus=str(corpus), config=CONFIGS[family],
        training={"save_strategy": "steps", "save_steps": 4, "deterministic": True},
    )  # fmt: skip
    full = run_child(tmp_path, "full", output_dir=str(tmp_path / "full"), **common)
    assert full.returncode == 0, full.stderr[-3000:]
    assert not (tmp_path / "full.checkpoints").exists()  # the default place is removed once published

    out = tmp_path / "cut"
    killed = run_child(tmp_path, "killed", output_dir=str(out), kill_at_step=9, **common)
    assert killed.returncode == -9
    assert not out.exists()  # nothing that looks like a model
    checkpoints = tmp_path / "cut.checkpoints"
    assert latest_checkpoint(checkpoints).name == "checkpoint-8"  # outlives the kill, beside the output

    resumed = run_child(tmp_path, "resumed", output_dir=str(out), resume="latest", **common)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = weights(tmp_path / "full"), weights(out)
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    assert epoch_losses(out) == epoch_losses(tmp_path / "full")  # the cut epoch's loss carried over


@pytest.mark.slow
def test_checkpoint_dir_given_is_kept_and_cut_checkpoint_skipped(corpus, tmp_path):
    ckpt = tmp_path / "ckpt"
    common = dict(
        family="word2vec", corpus=str(corpus), config=CONFIGS["word2vec"], checkpoint_dir=str(ckpt),
        training={"save_strategy": "steps", "save_steps": 4, "deterministic": True},
    )  # fmt: skip
    killed = run_child(tmp_path, "killed", output_dir=str(tmp_path / "m"), kill_at_step=9, **common)
    assert killed.returncode == -9
    # a checkpoint cut short (its last state file never written) is not resumed from
    (ckpt / "checkpoint-8" / EMBEDDING_TRAINER_STATE).unlink()
    assert latest_checkpoint(ckpt).name == "checkpoint-4"
    with pytest.raises(CheckpointError, match="not a complete checkpoint"):
        resolve_checkpoint(ckpt / "checkpoint-8", ckpt)
    resumed = run_child(tmp_path, "resumed", output_dir=str(tmp_path / "m"), resume="latest", **common)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    full = run_child(
        tmp_path, "full", output_dir=str(tmp_path / "full"), **{**common, "checkpoint_dir": None}
    )
    assert full.returncode == 0, full.stderr[-3000:]
    a, b = weights(tmp_path / "full"), weights(tmp_path / "m")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert ckpt.is_dir()  # a folder the user named is theirs: kept


def test_resume_errors_are_clear(corpus, tmp_path, capsys):
    base = ["train", "word2vec", "--corpus", str(corpus), "--min-count", "1", "--epochs", "1", "--quiet"]
    code = cli_main(
        [*base, "--output-dir", str(tmp_path / "a"), "--resume-from-checkpoint", str(tmp_path / "nope")]
    )
    assert code == 2
    assert "nope is not a folder" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()

    code = cli_main([*base, "--output-dir", str(tmp_path / "b"), "--resume-from-checkpoint", "latest"])
    assert code == 2
    assert "no complete checkpoint in" in capsys.readouterr().err

    code = cli_main(
        [*base, "--output-dir", str(tmp_path / "c"), "--save-strategy", "steps", "--save-steps", "1"]
    )
    assert code == 0, capsys.readouterr().err
    assert not (tmp_path / "c.checkpoints").exists()


def test_checkpoint_of_another_run_is_refused(corpus, tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    base = [
        "train", "word2vec", "--corpus", str(corpus), "--min-count", "1", "--epochs", "1", "--quiet",
        "--words-per-batch", "600", "--checkpoint-dir", str(ckpt), "--save-strategy", "steps", "--save-steps", "2",
    ]  # fmt: skip
    assert cli_main([*base, "--output-dir", str(tmp_path / "a")]) == 0
    assert latest_checkpoint(ckpt) is not None
    code = cli_main(
        [*base, "--output-dir", str(tmp_path / "b"), "--seed", "7", "--resume-from-checkpoint", "latest"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "belongs to another run" in err and "seed 42 vs 7 now" in err


def test_deterministic_runs_agree_bitwise_with_several_threads(corpus):
    """--deterministic trains on one thread whatever torch's setting: two runs give the same weights."""
    import torch

    from hf_embeddings.text.corpus import load_corpus
    from hf_embeddings.training.fit import fit

    tokenized = load_corpus(str(corpus), min_count=1)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        runs = [
            fit(
                "word2vec",
                tokenized,
                {**CONFIGS["word2vec"], "min_count": 1},
                training={"deterministic": True},
            )
            for _ in range(2)
        ]
        assert torch.get_num_threads() == 2  # restored after each run
    finally:
        torch.set_num_threads(before)
    a, b = (r.base_model.embeddings.weight.detach() for r in runs)
    assert torch.equal(a, b)
