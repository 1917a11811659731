"""Several processes through torch.distributed (gloo, CPU): `torchrun` on one node and two launchers on
127.0.0.1 as two nodes. Every rank exits 0, one complete folder is written (by the main process), the
vocabulary is the single-process one, the static families recover planted neighbours, the language
models reach a held-out perplexity close to one process's, and a killed multi-process run resumes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _support.corpora import topic_sentences, write_lines
from safetensors.numpy import load_file

from hf_embeddings.api import load

pytestmark = pytest.mark.slow

CHILD = Path(__file__).parent / "_support" / "_train_child.py"
TOPICS = [
    ["king", "queen", "prince", "crown", "throne", "royal", "castle", "palace"],
    ["river", "water", "boat", "bank", "stream", "lake", "shore", "fish"],
    ["music", "song", "piano", "violin", "guitar", "band", "drum", "choir"],
]
CONFIGS = {
    # 7,200 words in 7 spans of 1,100 for one process; 2 processes share them out as 8 of 900
    "word2vec": {"vector_size": 16, "min_count": 1, "words_per_batch": 1100, "epochs": 5, "window": 3},
    "glove": {"vector_size": 16, "min_count": 1, "entries_per_batch": 64, "epochs": 20, "window_size": 4},
    "nnlm": {"min_count": 1, "epochs": 2, "hidden_size": 32, "embedding_dim": 16, "validation_fraction": 0.1},
    "elmo": {"min_count": 1, "epochs": 1, "validation_fraction": 0.1},
}
#: per-process batch of the language models with N processes = one process's batch / N (same steps)
LM_BATCH = {"nnlm": "batch_size", "elmo": "batch_size"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_lines(tmp_path_factory.mktemp("dist") / "corpus.txt", topic_sentences(TOPICS, 600, 12))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def write_spec(tmp_path: Path, name: str, **spec) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def single(tmp_path: Path, name: str, **spec) -> subprocess.CompletedProcess:
    path = write_spec(tmp_path, name, **spec)
    return subprocess.run(
        [sys.executable, str(CHILD), str(path)], capture_output=True, text=True, env=env(), timeout=900
    )


def torchrun(tmp_path: Path, name: str, *, nproc: int = 2, **spec) -> subprocess.CompletedProcess:
    path = write_spec(tmp_path, name, **spec)
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", str(nproc),
        "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{free_port()}", str(CHILD), str(path),
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=900)


def ranks(stdout: str) -> dict[str, int]:
    """rank -> vocabulary size, from the lines the child prints at its end."""
    found = {}
    for line in stdout.splitlines():
        if line.startswith('{"rank"'):
            record = json.loads(line)
            found[record["rank"]] = record["vocab"]
    return found


def vocabulary(folder: Path) -> dict:
    return json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]


def heldout_perplexity(folder: Path) -> float:
    log = json.loads((folder / "training_log.json").read_text(encoding="utf-8"))
    return [e for e in log["log_history"] if "eval_perplexity" in e][-1]["eval_perplexity"]


@pytest.mark.parametrize("family", sorted(CONFIGS))
def test_two_processes_train_one_folder(family, corpus, tmp_path):
    config = CONFIGS[family]
    one = single(
        tmp_path, "one", family=family, corpus=str(corpus), output_dir=str(tmp_path / "one"), config=config
    )
    assert one.returncode == 0, one.stderr[-3000:]
    two_config = dict(config)
    if family in LM_BATCH:  # same global batch, so the same number of steps and tokens
        from hf_embeddings.models.family import get_family

        default = get_family(family).config_class().batch_size
        two_config["batch_size"] = default // 2
    two = torchrun(
        tmp_path,
        "two",
        family=family,
        corpus=str(corpus),
        output_dir=str(tmp_path / "two"),
        config=two_config,
    )
    assert two.returncode == 0, (two.stdout[-2000:], two.stderr[-4000:])
    assert ranks(two.stdout) == {
        "0": len(vocabulary(tmp_path / "one")),
        "1": len(vocabulary(tmp_path / "one")),
    }
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("two")) == ["two", "two.json"]
    assert vocabulary(tmp_path / "two") == vocabulary(tmp_path / "one")

    model, _ = load(tmp_path / "two")  # complete and strict-loadable
    log = json.loads((tmp_path / "two" / "training_log.json").read_text(encoding="utf-8"))
    one_log = json.loads((tmp_path / "one" / "training_log.json").read_text(encoding="utf-8"))
    # the epoch records add up every process's share of the corpus: exactly the corpus for Word2Vec,
    # whose spans are shared out evenly; the language models' DataLoader may pad the last round
    if "epoch_words" in one_log["epochs"][0]:
        words_two, words_one = log["epochs"][0]["epoch_words"], one_log["epochs"][0]["epoch_words"]
        if family == "word2vec":
            assert words_two == words_one
        assert words_one <= words_two <= words_one * 1.15
    assert (one_log["processes"], log["processes"]) == (1, 2)
    if family in ("word2vec", "glove"):
        # replicas exchanged their updates every SYNC_WORDS words per process (Word2Vec), or at the interval
        # picked from the first steps' timings (GloVe)
        from hf_embeddings.models.word2vec import SYNC_WORDS

        interval = SYNC_WORDS // CONFIGS["word2vec"]["words_per_batch"]
        expected = range(interval, interval + 1) if family == "word2vec" else range(1, 65)
        assert one_log["replica_sync_interval"] is None and log["replica_sync_interval"] in expected
        for word in ("king", "river", "piano"):
            topic = next(t for t in TOPICS if word in t)
            found = [w for w, _ in model.wv.most_similar(word, topn=3)]
            assert all(w in topic for w in found), (word, found)
    else:
        ppl_one, ppl_two = heldout_perplexity(tmp_path / "one"), heldout_perplexity(tmp_path / "two")
        assert ppl_two == pytest.approx(ppl_one, rel=0.1), (ppl_one, ppl_two)


def test_command_line_under_torchrun_reports_once(corpus, tmp_path):
    """`torchrun ... hf-embeddings train`: every rank exits 0 and only the main process prints its line
    (and would push with --push-to-hub)."""
    cli = Path(sys.executable).with_name("hf-embeddings")
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
        "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{free_port()}", str(cli), "train", "word2vec",
        "--corpus", str(corpus), "--output-dir", str(tmp_path / "out"), "--min-count", "1", "--epochs", "1",
        "--vector-size", "16", "--quiet", "--device", "cpu",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("saved word2vec to") == 1, done.stdout[-2000:]
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_two_nodes_on_loopback(corpus, tmp_path):
    """Two launchers with --nnodes 2 that rendezvous over 127.0.0.1, one process each, as two machines
    (exchanging their updates every 2 steps, as asked)."""
    spec = write_spec(
        tmp_path, "spec", family="word2vec", corpus=str(corpus), output_dir=str(tmp_path / "model"),
        config=CONFIGS["word2vec"], replica_sync=2,
    )  # fmt: skip
    endpoint = f"127.0.0.1:{free_port()}"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
        "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", "two-nodes", str(CHILD), str(spec),
    ]  # fmt: skip
    nodes = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
        for _ in range(2)
    ]
    outputs = [node.communicate(timeout=900) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], [err[-3000:] for _, err in outputs]
    seen = {}
    for out, _ in outputs:
        seen.update(ranks(out))
    assert set(seen) == {"0", "1"} and len(set(seen.values())) == 1
    model, _ = load(tmp_path / "model")
    assert all(w in TOPICS[0] for w, _ in model.wv.most_similar("king", topn=3))
    log = json.loads((tmp_path / "model" / "training_log.json").read_text(encoding="utf-8"))
    assert (log["processes"], log["replica_sync_interval"]) == (2, 2)


def test_killed_multiprocess_run_resumes_bitwise(corpus, tmp_path):
    common = dict(
        family="word2vec", corpus=str(corpus), config={**CONFIGS["word2vec"], "epochs": 2},
        training={"save_strategy": "steps", "save_steps": 3, "deterministic": True},
    )  # fmt: skip
    full = torchrun(tmp_path, "full", output_dir=str(tmp_path / "full"), **common)
    assert full.returncode == 0, full.stderr[-3000:]
    killed = torchrun(tmp_path, "killed", output_dir=str(tmp_path / "cut"), kill_at_step=5, **common)
    assert killed.returncode != 0 and not (tmp_path / "cut").exists()
    checkpoint = tmp_path / "cut.checkpoints" / "checkpoint-3"
    assert {p.name for p in checkpoint.glob("rng_state_*.pth")} == {"rng_state_0.pth", "rng_state_1.pth"}
    resumed = torchrun(tmp_path, "resumed", output_dir=str(tmp_path / "cut"), resume="latest", **common)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = (
        load_file(tmp_path / "full" / "model.safetensors"),
        load_file(tmp_path / "cut" / "model.safetensors"),
    )
    assert all(np.array_equal(a[k], b[k]) for k in a)


def _exchange(rank: int, init: str, out: str) -> None:
    """One rank of `test_replica_exchange_sums_updates_in_chunks` (module level: spawned processes import it)."""
    import torch

    from hf_embeddings.training.distributed import ReplicaSync

    torch.distributed.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    try:
        table = torch.nn.Embedding(10, 3, sparse=True)
        torch.nn.init.constant_(table.weight, 0.0)
        sync = ReplicaSync(every=1)
        sync.CHUNK = 4  # 30 values: 8 exchanges, the last one short
        sync.on_train_begin(None, None, None, model=table, optimizer=None)
        with torch.no_grad():
            table.weight[rank::2] += rank + 1.0  # rank 0 moves the even rows, rank 1 the odd ones
            table.weight[0, 0] += 10.0  # both move one value
        sync.sync()
        torch.save(table.weight.detach().clone(), out)
    finally:
        torch.distributed.destroy_process_group()


def test_replica_exchange_sums_updates_in_chunks(tmp_path):
    """Both replicas end with the start plus every rank's update, exchanged through a buffer smaller than
    the table (W <- W_sync + sum_r (W_r - W_sync))."""
    import torch
    import torch.multiprocessing as mp

    init = f"file://{tmp_path / 'rendezvous'}"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_exchange, args=(r, init, str(tmp_path / f"rank{r}.pt"))) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    expected = torch.zeros(10, 3)
    expected[0::2] += 1.0
    expected[1::2] += 2.0
    expected[0, 0] += 20.0
    for r in range(2):
        assert torch.equal(torch.load(tmp_path / f"rank{r}.pt"), expected)
