"""Two processes x one thread (torchrun, gloo) against one process x two threads, per family, same run.

Static families (Word2Vec skip-gram with bench/word2vec_vs_gensim.py's settings, 5 epochs; GloVe with
bench/glove_quality.py's, `--glove-epochs`, 15 by default like glove.c's benchmark) train on the whole of
gcide: WS-353 / SimLex Spearman and Google analogy accuracy (restrict_vocab 30000) from
`hf_embeddings.evaluation`. Language models (NNLM, ELMo tiny) train one epoch on the first `--lm-fraction`
of gcide's lines (a tenth by default) and report the held-out perplexity on the same held-out lines
(`validation_fraction` 0.05, the same seed in both modes); the 2-process run uses half the per-process
batch so that both see the same number of tokens per step and the same number of steps.

Throughput: corpus words per second of training (`training_log.json` epochs, summed over ranks; GloVe:
co-occurrence entries per second of its epochs) and the ratio 2x1 / 1x2. Targets (issue 18): quality
within 0.01 (static) or 2% perplexity (LMs) of one process; throughput ratio >= 0.9. Every run is a fresh
subprocess or torchrun launch; the driver evaluates the saved folders. Each family runs `--repeats` pairs
(the order alternating; pair k runs both modes with seed SEED + k, since one thread per process makes a
2-process run repeat itself exactly) and the table shows medians, the throughput ratio being the median
of the pairs' ratios: timings on shared machines drift, and the load average is printed with the
results.

`--device cuda` compares one GPU (one process) with every GPU of the machine (one process each, NCCL);
NCCL refuses two processes on one GPU, so on a one-GPU machine only the one-GPU figures are measured and
the multi-GPU command is printed.

    python bench/distributed.py [FILE] [--families word2vec,glove,nnlm,elmo] [--repeats 3] [--device cpu|cuda]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from glove_quality import MIN_COUNT as GLOVE_MIN_COUNT  # noqa: E402
from glove_quality import SETTINGS as GLOVE_SETTINGS  # noqa: E402
from word2vec_vs_gensim import OURS_SETTINGS as W2V_OURS  # noqa: E402
from word2vec_vs_gensim import SETTINGS as W2V_SETTINGS  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "gcide.txt.xz"
METRICS = (
    ("wordsim353_spearman", "WS-353"),
    ("simlex999_spearman", "SimLex"),
    ("google_analogy_accuracy", "analogy"),
)


def family_config(family: str, a) -> dict:
    if family == "word2vec":
        extra = {"words_per_batch": a.words_per_batch} if a.words_per_batch else {}
        return {**W2V_SETTINGS, **W2V_OURS, "architecture": "skipgram", "epochs": 5, **extra}
    if family == "glove":
        return {**GLOVE_SETTINGS, "min_count": GLOVE_MIN_COUNT, "epochs": a.glove_epochs}
    if family == "nnlm":
        return {"min_count": 5, "epochs": 1, "validation_fraction": 0.05}
    return {"min_count": 5, "epochs": 1, "validation_fraction": 0.05}  # the family's training size (tiny)


def child(spec_path: str) -> None:
    """One training run (a rank of it under torchrun): the folder is written by rank 0."""
    from hf_embeddings.api import train

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    train(
        spec["family"], spec["corpus"], spec["output_dir"], config=spec["config"], device=spec.get("device", "cpu"),
        show_progress=False, overwrite=True, seed=spec["seed"], replica_sync=spec.get("replica_sync", "auto"),
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(mode: str, spec: dict, work: Path, processes: int = 1) -> None:
    """One run: a plain process (`processes` 1) or a torchrun launch of `processes` on this node. On a CPU
    the cores are shared out: 2 threads for one process, 1 thread each for two."""
    path = work / f"{spec['family']}-{mode}.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    me = str(Path(__file__).resolve())
    threads = (
        {"OMP_NUM_THREADS": "2" if processes == 1 else "1"} if spec.get("device", "cpu") == "cpu" else {}
    )
    env = {**os.environ, **threads}
    if processes == 1:
        cmd = [sys.executable, me, "--child", str(path)]
    else:
        cmd = [
            sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", str(processes),
            "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{free_port()}", me, "--child", str(path),
        ]  # fmt: skip
    done = subprocess.run(cmd, env={**env, "TOKENIZERS_PARALLELISM": "false"}, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{spec['family']} {mode} failed:\n{done.stderr[-4000:]}")


def measure(folder: Path, family: str) -> dict:
    log = json.loads((folder / "training_log.json").read_text(encoding="utf-8"))
    epochs = log["epochs"]
    seconds = sum(e["epoch_seconds"] for e in epochs)
    out = {"train_seconds": log["train_seconds"], "epoch_seconds": seconds}
    if log.get("replica_sync_interval") is not None:
        out["replica_sync_interval"] = log["replica_sync_interval"]
    words = sum(e.get("epoch_words", 0) for e in epochs)
    out["words_per_second"] = words / seconds if words else None
    if family in ("word2vec", "glove"):
        from hf_embeddings.api import load
        from hf_embeddings.evaluation import evaluate_static_embeddings

        model, tokenizer = load(folder)
        model.attach_tokenizer(tokenizer)
        out.update(evaluate_static_embeddings(model.wv))
    else:
        evals = [e for e in log["log_history"] if "eval_perplexity" in e]
        out["heldout_perplexity"] = evals[-1]["eval_perplexity"]
    return out


def lm_corpus(source: Path, fraction: float, work: Path) -> Path:
    from hf_embeddings.text.sources import open_compressed

    with open_compressed(source) as f:
        lines = f.read().decode("utf-8").splitlines()
    part = work / "lm-part.txt"
    part.write_text("\n".join(lines[: int(len(lines) * fraction)]) + "\n", encoding="utf-8")
    return part


def median_row(runs: list[dict]) -> dict:
    """Per-key median over the repeats (numbers only)."""
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return {k: statistics.median(r[k] for r in runs if r.get(k) is not None) for k in keys}


def throughput_ratio(one: dict, two: dict) -> float:
    """2x1 / 1x2 throughput: words per second, or (GloVe) the inverse ratio of epoch seconds."""
    if one.get("words_per_second"):
        return two["words_per_second"] / one["words_per_second"]
    return one["epoch_seconds"] / two["epoch_seconds"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", nargs="?", default=str(DEFAULT))
    p.add_argument("--families", default="word2vec,glove,nnlm,elmo")
    p.add_argument("--glove-epochs", type=int, default=15)
    p.add_argument("--lm-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="pairs of runs per family (order alternates); medians are shown",
    )
    p.add_argument(
        "--replica-sync",
        default="auto",
        help="word2vec/glove: steps between the processes' exchanges (auto: the family's default)",
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--words-per-batch", type=int, help="word2vec: corpus words per step and process")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        return child(a.child)
    if a.device == "cpu":
        one, many, n = "1x2", "2x1", 2
    else:
        import torch

        n = torch.cuda.device_count()
        one, many = "1gpu", f"{n}gpu"
        if n < 2:
            many = None
            print(
                f"{n} GPU: one-GPU figures only (NCCL needs one GPU per process). On a machine with N GPUs:\n"
                "  torchrun --nproc-per-node N $(which hf-embeddings) train FAMILY --corpus C --output-dir D",
                flush=True,
            )
    results = {}
    with tempfile.TemporaryDirectory(prefix="hfe-dist-bench-") as tmp:
        work = Path(tmp)
        small = None
        for family in a.families.split(","):
            corpus = a.corpus
            if family in ("nnlm", "elmo"):
                small = small or lm_corpus(Path(a.corpus), a.lm_fraction, work)
                corpus = str(small)
            modes = [m for m in (one, many) if m]
            runs = {m: [] for m in modes}
            ratios = []
            for repeat in range(a.repeats):
                # alternate which mode goes first, so a drift in the machine's speed favours neither
                for mode in modes if repeat % 2 == 0 else modes[::-1]:
                    config = family_config(family, a)
                    if mode == many and family in ("nnlm", "elmo"):
                        from hf_embeddings.models.family import get_family

                        batch = config.get("batch_size") or get_family(family).config_class().batch_size
                        config["batch_size"] = batch // n
                    out = work / f"{family}-{mode}"
                    spec = dict(
                        family=family, corpus=corpus, output_dir=str(out), config=config, seed=a.seed + repeat,
                        device=a.device,
                    )  # fmt: skip
                    if family in ("word2vec", "glove"):
                        spec["replica_sync"] = a.replica_sync
                    launch(mode, spec, work, processes=n if mode == many else 1)
                    runs[mode].append(measure(out, family))
                    print(family, mode, f"repeat {repeat + 1}", json.dumps(runs[mode][-1]), flush=True)
                if many:
                    ratios.append(throughput_ratio(runs[one][-1], runs[many][-1]))
            results[family] = {m: median_row(runs[m]) for m in modes}
            results[family].update(
                throughput_ratio=statistics.median(ratios) if ratios else None,
                throughput_ratios=ratios,
                runs=runs,
            )
    if a.device == "cpu":
        legend = "1x2 = one process, two threads; 2x1 = two processes (gloo)"
    else:
        legend = f"{one} = one process on one GPU; {many or 'no multi-GPU run'} = one process per GPU (NCCL)"
    print(f"\nload average {os.getloadavg()[0]:.1f}; {legend}; medians of {a.repeats} runs each")
    if many is None:
        for family, row in results.items():
            print(family, json.dumps(row[one]))
        if a.json:
            Path(a.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
        return
    print(f"{'family':9s} {'metric':22s} {one:>10s} {many:>10s} {'diff/ratio':>10s}")
    for family, row in results.items():
        first, second = row[one], row[many]
        if family in ("word2vec", "glove"):
            for key, name in METRICS:
                x, y = first[key], second[key]
                print(f"{family:9s} {name:22s} {x:10.3f} {y:10.3f} {y - x:+10.3f}")
        else:
            ppl1, ppl2 = first["heldout_perplexity"], second["heldout_perplexity"]
            print(f"{family:9s} {'held-out perplexity':22s} {ppl1:10.1f} {ppl2:10.1f} {ppl2 / ppl1:10.3f}")
        r = row["throughput_ratio"]
        if first.get("words_per_second"):
            x, y = first["words_per_second"], second["words_per_second"]
            print(f"{family:9s} {'words/s':22s} {x:10.0f} {y:10.0f} {r:10.2f}")
        else:
            x, y = first["epoch_seconds"], second["epoch_seconds"]
            print(f"{family:9s} {'epoch seconds':22s} {x:10.1f} {y:10.1f} {r:10.2f}")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
