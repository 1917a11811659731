"""Latency of the `hf-embeddings` command line on a large table, next to gensim in a fresh interpreter.

Builds (once; reused from --cache-dir while the parameters match) a 400k x 300 word2vec folder with the
package's own converter (`hf_embeddings.hub.convert.import_vectors` on a word2vec binary file written by
`write_word2vec_format`) from structured random vectors (words drawn around 2,000 cluster centres, so
that neighbours mean something), and the same vectors saved by gensim (`KeyedVectors.save`). Then it
times, each in a fresh process, with the systems alternating run by run:

* `hf-embeddings --help` (the console script of this environment);
* `hf-embeddings query DIR WORD`;
* gensim: `KeyedVectors.load(path, mmap="r")` + `most_similar(WORD)` + print, in a fresh interpreter;
* reference: `python -m hf_embeddings.cli --help`, which imports the package eagerly (transformers and
  torch), as the console script did before it started from `hf_embeddings_cli`.

One untimed run of each first warms the page cache, so every system reads a table that is in memory.
Prints medians (of --repeats, 5 by default) and the ratios ours / gensim, checks that both answer the
same ten neighbours, and writes the raw runs to bench/results/DATE-cpu-cli-latency.json.

Measured 2026-12-06 (2 cores shared with other work, load average 4.3 -> 3.6 during the run; raw runs in
bench/results/2026-12-06-cpu-cli-latency.json), medians of 5:
    hf-embeddings --help                     0.078 s   (python -m hf_embeddings.cli --help: 9.3 s)
    hf-embeddings query DIR king             1.163 s   (runs 0.67-1.67 s)
    gensim load(mmap="r") + most_similar     3.037 s   -> ours / gensim 0.38x, the same ten neighbours

    python bench/cli_latency.py [--rows 400000] [--dim 300] [--word king] [--repeats 5]
    python bench/cli_latency.py --rows 20000 --repeats 3     # a quick sanity run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DATE = "2026-12-06"
#: a few real words (the query word among them) so that a query reads like one; the rest are w0000123
REAL_WORDS = ["king", "queen", "man", "woman", "prince", "princess", "paris", "france", "berlin", "germany"]
TARGETS = {"help": "< 0.5 s", "query": "< 1.5 s"}


# ------------------------------------------------------------------------------------------ the data
def clustered_vectors(rows: int, dim: int, seed: int) -> np.ndarray:
    """`rows` float32 vectors: 2,000 unit-variance centres, each row its centre plus noise of norm ~0.7x."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((2000, dim), dtype=np.float32)
    out = np.empty((rows, dim), dtype=np.float32)
    step = 50_000
    for start in range(0, rows, step):
        stop = min(start + step, rows)
        out[start:stop] = centres[rng.integers(0, len(centres), stop - start)]
        out[start:stop] += 0.7 * rng.standard_normal((stop - start, dim), dtype=np.float32)
    return out


def _words(rows: int) -> list[str]:
    return REAL_WORDS + [f"w{i:07d}" for i in range(rows - len(REAL_WORDS))]


def build(cache: Path, rows: int, dim: int, seed: int) -> tuple[Path, Path, dict]:
    """The folder and the gensim file for these parameters, built unless a previous run left them."""
    params = {"rows": rows, "dim": dim, "seed": seed, "vectors": "2000 centres + 0.7 noise, float32"}
    folder, gensim_file, stamp = cache / "folder", cache / "gensim" / "vectors.kv", cache / "build.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("params") == params:
        return folder, gensim_file, json.loads(stamp.read_text())
    from hf_embeddings.hub.convert import import_vectors
    from hf_embeddings.vectors.formats import to_gensim_keyed_vectors, write_word2vec_format

    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    words, vectors = _words(rows), clustered_vectors(rows, dim, seed)
    t0 = time.perf_counter()
    source = cache / "vectors.bin"
    write_word2vec_format(source, words, vectors, binary=True)
    import_vectors(source, folder, fmt="word2vec-binary")
    convert_s = time.perf_counter() - t0
    source.unlink()
    gensim_file.parent.mkdir()
    to_gensim_keyed_vectors(words, vectors).save(str(gensim_file))
    info = {"params": params, "convert_seconds": round(convert_s, 1)}
    stamp.write_text(json.dumps(info, indent=1))
    return folder, gensim_file, info


# ------------------------------------------------------------------------------------------ timing
def _run(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


GENSIM_QUERY = (
    "import sys\n"
    "from gensim.models import KeyedVectors\n"
    "kv = KeyedVectors.load(sys.argv[1], mmap='r')\n"
    "for w, s in kv.most_similar(sys.argv[2], topn=10):\n"
    "    print(f'  {w:20s} {s:.4f}')\n"
)


def commands(folder: Path, gensim_file: Path, word: str) -> dict[str, list[str]]:
    script = Path(sys.executable).with_name("hf-embeddings")
    if not script.is_file():
        raise SystemExit(f"no console script at {script}: install the package (pip install -e .)")
    return {
        "help": [str(script), "--help"],
        "query": [str(script), "query", str(folder), word],
        "gensim_query": [sys.executable, "-c", GENSIM_QUERY, str(gensim_file), word],
        "eager_help": [sys.executable, "-m", "hf_embeddings.cli", "--help"],
    }


def _neighbours(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines() if line.startswith("  ")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=400_000)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--word", default="king")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--cache-dir", type=Path, default=ROOT / "outputs" / "bench-cli-latency")
    p.add_argument(
        "--out", type=Path, help=f"results file (default bench/results/{DATE}-cpu-cli-latency.json)"
    )
    a = p.parse_args()

    cache = a.cache_dir / f"{a.rows}x{a.dim}-seed{a.seed}"
    t0 = time.perf_counter()
    folder, gensim_file, build_info = build(cache, a.rows, a.dim, a.seed)
    print(f"table {a.rows:,} x {a.dim}: {folder} (ready in {time.perf_counter() - t0:.1f} s)")
    cmds = commands(folder, gensim_file, a.word)
    load_before = os.getloadavg()
    outputs = {name: _run(cmd)[1] for name, cmd in cmds.items()}  # warm-up: page cache, .pyc files
    ours, theirs = _neighbours(outputs["query"]), _neighbours(outputs["gensim_query"])
    runs: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(a.repeats):
        for name, cmd in cmds.items():  # systems alternate, so background load hits them alike
            runs[name].append(_run(cmd)[0])
    load_after = os.getloadavg()

    med = {name: statistics.median(times) for name, times in runs.items()}
    ratios = {
        "query / gensim_query": med["query"] / med["gensim_query"],
        "help / gensim_query": med["help"] / med["gensim_query"],
        "eager_help / help": med["eager_help"] / med["help"],
    }
    print(f"medians of {a.repeats} fresh processes (s):")
    for name in cmds:
        target = f"  target {TARGETS[name]}" if name in TARGETS else ""
        print(f"  {name:14s} {med[name]:6.3f}   runs {', '.join(f'{t:.3f}' for t in runs[name])}{target}")
    for name, value in ratios.items():
        print(f"  {name:22s} {value:.2f}x")
    print(f"same ten neighbours of {a.word!r} as gensim, in the same order: {ours == theirs}")
    result = {
        "date": DATE,
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
        "build": build_info,
        "word": a.word,
        "repeats": a.repeats,
        "commands": {name: " ".join(cmd) for name, cmd in cmds.items()},
        "runs_seconds": runs,
        "median_seconds": med,
        "ratios": ratios,
        "targets": TARGETS,
        "neighbours": {"ours": ours, "gensim": theirs, "same": ours == theirs},
        "load_average_before": load_before,
        "load_average_after": load_after,
    }
    out = a.out or RESULTS / f"{DATE}-cpu-cli-latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
