"""Peak memory and wall time against corpus size: `load_corpus`, one Word2Vec epoch, GloVe (counting + one
epoch), and NNLM / ELMo over a fixed number of steps, on gcide x1, x10 and x100.

The larger corpora are made on the fly from `shared/corpora/gcide.txt.xz` into a temporary folder (copy k
is gcide with its lines shuffled by seed k, so no two copies are the same text; x100 is about 395M words
and 2.1 GB of text) and deleted afterwards, with their token caches. Every measurement is a fresh
subprocess; it reports its peak resident set (VmHWM, which counts the file pages it mapped, and
ru_maxrss) and the resident set right after importing its libraries ("libs"), so both the total and
what the work itself added are visible. The training runs open the token cache that the `load_corpus`
run of the same corpus built. Settings: vocabulary min_count 5 capped at 30,000 words (as issue 17's
figures); Word2Vec skip-gram d 100, window 5, negative 5, 1 epoch; GloVe d 100, window 10, 1 epoch, for
each of `--glove-memory` GB budgets for counting (cooccur's -memory; 0.25 is reached at x1 already, so
its peaks compare like with like; at the default 4 the x1 count stays below the budget, which larger
corpora then fill: bounded, but above the x1 figure); NNLM and ELMo: the quickstart settings,
`--lm-steps` steps, held-out lines 0.02 / scale of the corpus (the same few thousand lines at every
scale, so the per-epoch evaluation costs the same). Wall times on a shared machine move with its load
(recorded before and after each run in the JSON).

Targets (issue 17): peak RSS at x10 <= 1.15x and at x100 <= 1.3x the x1 figure for every family; wall
time of load_corpus and of the Word2Vec epoch linear in the corpus (x10 within 10-12x).

    python bench/scale.py                      # x1, x10 and x100 (x100 takes hours on 2 cores)
    python bench/scale.py --scales 1,10        # skip x100
    python bench/scale.py --only load,word2vec # some of: load, word2vec, glove, nnlm, elmo

Writes bench/results/2026-12-06-cpu-scale.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GCIDE = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "gcide.txt.xz"
RESULTS = Path(__file__).resolve().parent / "results" / "2026-12-06-cpu-scale.json"
KINDS = ("load", "word2vec", "glove", "nnlm", "elmo")  # glove runs once per --glove-memory value
VOCAB = {"min_count": 5, "max_vocab_size": 30000}


# ---------------------------------------------------------------------------------------------- corpora
def make_corpus(folder: Path, scale: int) -> Path:
    """gcide x `scale` as a plain text file: copy 0 as it is, copy k with its lines shuffled by seed k."""
    import numpy as np

    lines = lzma.decompress(GCIDE.read_bytes()).splitlines(keepends=True)
    if lines and not lines[-1].endswith(b"\n"):
        lines[-1] += b"\n"
    path = folder / f"gcide-x{scale}.txt"
    with open(path, "wb") as f:
        for k in range(scale):
            order = np.random.default_rng(k).permutation(len(lines)) if k else range(len(lines))
            f.write(b"".join(lines[i] for i in order))
    return path


# ------------------------------------------------------------------------------------------ measurement
def _memory() -> dict:
    """VmHWM / VmRSS of this process in MB (Linux), and ru_maxrss."""
    import resource

    out = {"ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return out


def child(kind: str, path: str, cache: str, scale: int, options: dict) -> dict:
    """One measurement, in this (fresh) process."""
    import torch  # noqa: F401  (the libraries count as the baseline, not as the work)
    import transformers  # noqa: F401

    import hf_embeddings  # noqa: F401  (registers the families)
    from hf_embeddings.models.family import get_family
    from hf_embeddings.text.corpus import load_corpus
    from hf_embeddings.training.fit import fit

    if kind == "word2vec":
        from hf_embeddings.models.word2vec.kernels_word2vec import available

        available()  # numba's import is part of the libraries
    libs = _memory()
    t0 = time.perf_counter()
    corpus = load_corpus(path, cache_dir=cache, **VOCAB)
    info: dict = {"tokens": corpus.num_tokens, "lines": len(corpus)}
    if kind == "word2vec":
        config = {"vector_size": 100, "window": 5, "negative": 5, "epochs": 1}
        fit("word2vec", corpus, config=config, device="cpu", seed=0)
    elif kind.startswith("glove"):
        config = {"vector_size": 100, "window_size": 10, "epochs": 1, "memory": float(kind.split("@")[1])}
        result = fit("glove", corpus, config=config, device="cpu", seed=0, data_options={"cache": False})
        info["nnz"] = int(result.trainer.train_dataset.nnz)
    elif kind in ("nnlm", "elmo"):
        config = dict(get_family(kind).quickstart["config"])
        config.update(validation_fraction=0.02 / scale, epochs=1)
        fit(kind, corpus, config=config, training={"max_steps": options["lm_steps"]}, device="cpu", seed=0)
        info["steps"] = options["lm_steps"]
    return {"seconds": time.perf_counter() - t0, "libs": libs, "peak": _memory(), **info}


def measure(kind: str, path: Path, cache: Path, scale: int, options: dict) -> dict:
    cmd = [sys.executable, __file__, "--child", json.dumps([kind, str(path), str(cache), scale, options])]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    load_before = list(os.getloadavg())
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} x{scale} failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["load_average"] = {"before": load_before, "after": list(os.getloadavg())}
    peak, libs = result["peak"], result["libs"]
    result["peak_mb"] = peak.get("VmHWM", peak["ru_maxrss_mb"])
    result["above_libs_mb"] = result["peak_mb"] - libs.get("VmRSS", 0.0)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", default="1,10,100", help="comma-separated multiples of gcide")
    parser.add_argument("--only", default=",".join(KINDS), help="comma-separated: " + ", ".join(KINDS))
    parser.add_argument("--lm-steps", type=int, default=300)
    parser.add_argument("--glove-memory", default="0.25,4", help="comma-separated GB budgets (-memory)")
    parser.add_argument("--tmp", default=None, help="folder for the generated corpora (default: system temp)")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.child:
        print(json.dumps(child(*json.loads(a.child))))
        return
    scales = [int(s) for s in a.scales.split(",")]
    kinds = [k for k in a.only.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown measurements: {', '.join(sorted(unknown))}")
    options = {"lm_steps": a.lm_steps, "glove_memory": [float(m) for m in a.glove_memory.split(",")]}
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpu_count": os.cpu_count(),
        "load_average_before": list(os.getloadavg()),
        "settings": {**VOCAB, **options},
        "runs": {},
    }
    for scale in scales:
        folder = Path(tempfile.mkdtemp(prefix=f"hfe-scale-x{scale}-", dir=a.tmp))
        try:
            t0 = time.perf_counter()
            path = make_corpus(folder, scale)
            print(
                f"x{scale}: {path.stat().st_size / 2**20:,.0f} MB of text in {time.perf_counter() - t0:.0f} s"
            )
            cache = folder / "cache"
            glove = [f"glove@{m:g}" for m in options["glove_memory"]] if "glove" in kinds else []
            todo = ["load", *[k for k in kinds if k not in ("load", "glove")], *glove]
            for kind in todo:  # load (first) builds the cache the others read
                r = measure(kind, path, cache, scale, options)
                if kind in kinds or kind in glove:
                    report["runs"].setdefault(kind, {})[str(scale)] = r
                print(
                    f"  {kind:10s} peak {r['peak_mb']:7.0f} MB ({r['above_libs_mb']:6.0f} above libs)  "
                    f"{r['seconds']:8.1f} s  {r['tokens']:,} tokens",
                    flush=True,
                )
                _write(report, a.out)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    report["load_average_after"] = list(os.getloadavg())
    report["ratios"] = ratios(report["runs"], scales)
    _write(report, a.out)
    print_table(report["runs"], scales)


def ratios(runs: dict, scales: list[int]) -> dict:
    """Per family and scale: peak RSS, RSS above the libraries and wall time over the x1 (first) figures."""
    out = {}
    for kind, by_scale in runs.items():
        base = by_scale.get(str(scales[0]))
        if base is None:
            continue
        out[kind] = {
            s: {
                "peak": by_scale[s]["peak_mb"] / base["peak_mb"],
                "above_libs": by_scale[s]["above_libs_mb"] / max(base["above_libs_mb"], 1.0),
                "seconds": by_scale[s]["seconds"] / base["seconds"],
            }
            for s in by_scale
        }
    return out


def print_table(runs: dict, scales: list[int]) -> None:
    r = ratios(runs, scales)
    head = " | ".join(f"x{s} peak MB (above libs) / s" for s in scales)
    print(f"\n| family | {head} | peak ratio | time ratio |")
    print("|" + " --- |" * (len(scales) + 3))
    for kind, by_scale in runs.items():
        cells = [
            f"{by_scale[str(s)]['peak_mb']:,.0f} ({by_scale[str(s)]['above_libs_mb']:,.0f}) / "
            f"{by_scale[str(s)]['seconds']:,.1f}"
            if str(s) in by_scale
            else "-"
            for s in scales
        ]
        peak = ", ".join(
            f"x{s}: {r[kind][str(s)]['peak']:.2f}" for s in scales[1:] if str(s) in r.get(kind, {})
        )
        secs = ", ".join(
            f"x{s}: {r[kind][str(s)]['seconds']:.1f}" for s in scales[1:] if str(s) in r.get(kind, {})
        )
        print(f"| {kind.replace('@', ' --memory ')} | {' | '.join(cells)} | {peak} | {secs} |")


def _write(report: dict, out: str) -> None:
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
