"""GloVe quality and training speed on gcide with the Stanford demo's settings, against the C tool's figures.

Settings (demo.sh): vector size 100, window 10 symmetric with 1/d weights, min_count 5, x_max 10, alpha
0.75, learning rate 0.05, 15 iterations, word vectors W + W~. Training goes through `transformers.Trainer`
(`EmbeddingTrainer`, by `hf_embeddings.training.fit.fit`) exactly as `hf-embeddings train glove` does.
Prints per epoch the seconds, non-zeros/s and glove.c's cost; then WordSim-353 / SimLex-999 Spearman and
Google analogy accuracy (3CosAdd, restrict_vocab 30000) from `hf_embeddings.evaluation`, against the
reference and its target (every figure >= reference - 0.01, epoch time <= ~14 s on 2 cores).

The reference is quoted from ../shared/corpora/README.md (Stanford GloVe C, 2 threads, same settings and
file; not run here). Timings on shared machines drift: the load average is printed with the results.

    python bench/glove_quality.py [FILE] [--epochs 15] [--entries-per-batch N] [--threads N] [--seeds 1]
    python bench/glove_quality.py --device cuda      # the same on a GPU (its default batch size)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "gcide.txt.xz"
SETTINGS = dict(
    vector_size=100, window_size=10, symmetric=True, x_max=10.0, alpha=0.75, learning_rate=0.05, combine="sum"
)
MIN_COUNT = 5
METRICS = (
    ("wordsim353_spearman", "WS-353", (0.394, 0.398)),
    ("simlex999_spearman", "SimLex-999", (0.217, 0.219)),
    ("google_analogy_accuracy", "analogy", (0.057, 0.058)),
)
REFERENCE_EPOCH_SECONDS = 14.0


def worker(a) -> dict:
    import torch

    from hf_embeddings import load_corpus
    from hf_embeddings.evaluation import evaluate_static_embeddings
    from hf_embeddings.models.glove import FAMILY, config_from_corpus, cooccurrence_for
    from hf_embeddings.training.fit import fit

    if a.threads:
        torch.set_num_threads(a.threads)
    corpus = load_corpus(a.file, min_count=MIN_COUNT, show_progress=False)
    t = time.perf_counter()
    config = config_from_corpus(
        corpus, epochs=a.epochs, entries_per_batch=a.entries_per_batch or None, **SETTINGS
    )
    cooccurrence = cooccurrence_for(corpus, config, cache=False)
    count_seconds = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        result = fit(
            FAMILY,
            corpus,
            config,
            training={"logging_steps": 10**9},
            data_options={"cooccurrence": cooccurrence, "adagrad_mode": a.adagrad_mode},
            device=a.device,
            seed=a.seed,
            output_dir=tmp,
        )
    model, data = result.model, result.trainer.train_dataset
    model.attach_tokenizer(corpus.tokenizer)
    results = evaluate_static_embeddings(model.wv, restrict_vocab=30000)
    return {
        "nnz": data.nnz,
        "entries_per_batch": data.entries_per_batch,
        "threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name() if a.device.startswith("cuda") else "cpu",
        "count_seconds": count_seconds,
        "train_seconds": result.train_seconds,
        "epochs": [{k: h[k] for k in ("epoch_seconds", "epoch_loss_per_item")} for h in result.epoch_history],
        **{k: results[k] for k, _, _ in METRICS},
        **{k: results[k] for k in ("wordsim353_n_oov", "simlex999_n_oov", "google_analogy_n_oov")},
    }


def _spawn(a, seed: int) -> dict:
    cmd = [
        sys.executable,
        __file__,
        a.file,
        "--worker",
        "--seed",
        str(seed),
        "--epochs",
        str(a.epochs),
        "--entries-per-batch",
        str(a.entries_per_batch),
        "--threads",
        str(a.threads),
        "--adagrad-mode",
        a.adagrad_mode,
        "--device",
        a.device,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"seed {seed} failed")
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", nargs="?", default=str(DEFAULT))
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--entries-per-batch", type=int, default=0, help="0: the family's CPU default")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, one per core)")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--adagrad-mode", choices=["stale", "fresh"], default="fresh", help="see GloVeAdaGrad")
    p.add_argument("--device", default="cpu", help="cpu | cuda")
    p.add_argument("--json", help="also write the runs to this file")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        print("RESULT " + json.dumps(worker(a)), flush=True)
        return

    load_before = os.getloadavg()[0]
    runs = []
    for seed in range(a.seeds):
        r = _spawn(a, seed)
        runs.append(r)
        per_epoch = [e["epoch_seconds"] for e in r["epochs"]]
        print(
            f"seed {seed}: {r['nnz']:,} non-zeros (counted in {r['count_seconds']:.1f} s), "
            f"{r['entries_per_batch']:,} entries/step, {r['device']}, {r['threads']} torch thread(s), peak RSS {r['peak_rss_mb']:,.0f} MB"
        )
        for i, e in enumerate(r["epochs"]):
            print(
                f"  epoch {i + 1:2d}: {e['epoch_seconds']:6.1f} s  {r['nnz'] / e['epoch_seconds']:>10,.0f} non-zeros/s"
                f"  cost {e['epoch_loss_per_item']:.5f}"
            )
        print(
            "  "
            + "  ".join(f"{label} {r[k]:.4f}" for k, label, _ in METRICS)
            + f"  (median epoch {statistics.median(per_epoch):.1f} s)",
            flush=True,
        )
    print(
        f"\n{Path(a.file).name}, {a.epochs} epochs, median of {len(runs)} seed(s); {os.cpu_count()} CPU cores, "
        f"load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after"
    )
    print(f"{'':14s}{'ours':>9s}{'reference':>15s}{'target':>9s}")
    ok = True
    for key, label, (lo, hi) in METRICS:
        ours = statistics.median(r[key] for r in runs)
        good = ours >= lo - 0.01
        ok &= good
        print(
            f"{label:14s}{ours:9.4f}{f'{lo:.3f}-{hi:.3f}':>15s}{f'>={lo - 0.01:.3f}':>9s}  {'ok' if good else 'BELOW'}"
        )
    epoch = statistics.median(e["epoch_seconds"] for r in runs for e in r["epochs"])
    good = epoch <= REFERENCE_EPOCH_SECONDS
    ok &= good
    print(
        f"{'epoch seconds':14s}{epoch:9.1f}{f'~{REFERENCE_EPOCH_SECONDS:.0f}':>15s}{'<=~14':>9s}  {'ok' if good else 'SLOWER'}"
    )
    print(
        f"{'non-zeros/s':14s}{runs[0]['nnz'] / epoch:9,.0f}{f'~{9.4e6 / REFERENCE_EPOCH_SECONDS:,.0f}':>15s}"
    )
    print("reference: Stanford GloVe C, 2 threads, quoted from ../shared/corpora/README.md (not run here)")
    print("all targets met" if ok else "some targets missed")
    if a.json:
        Path(a.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
