"""GloVe co-occurrence counting: speed, non-zeros and peak memory, against Stanford `cooccur.c`'s figure.

Counts the co-occurrences of a corpus file (default: the gcide benchmark corpus) with the reference demo's
settings (window 10, symmetric, 1/d weighting, min_count 5) and prints tokens/s, non-zeros and the peak RSS
of the counting. Each run is a fresh subprocess; the token ids come from `load_corpus`'s cache, built
first (its time is printed separately, measured cold in a fresh cache when --cold is given).

The C tool is not installed here: its figure is quoted from ../shared/corpora/README.md (5.5 s for 9.4M
non-zeros on gcide, 2 cores, measured on a machine of this kind). That figure includes reading the text
and hashing its words; the count-only figure below starts from token ids (tokenizing is shared with
every family and cached), so the cold figure (tokenize + vocabulary + count) is printed as well.

    python bench/glove_cooccur.py [FILE] [--window 10] [--left-only] [--memory 4.0] [--repeats 3] [--cold]
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
REFERENCE = {
    "seconds": 5.5,
    "nnz": 9.4e6,
    "source": "../shared/corpora/README.md (Stanford cooccur.c, 2 cores)",
}


def _rss_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(a) -> dict:
    from hf_embeddings import load_corpus
    from hf_embeddings.models.glove import count_cooccurrences

    t = time.perf_counter()
    corpus = load_corpus(a.file, min_count=a.min_count, show_progress=False)
    load_seconds = time.perf_counter() - t
    base = _rss_mb("VmRSS")
    try:  # reset the high-water mark, so VmHWM is the counting's peak
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    stats: dict = {}
    t = time.perf_counter()
    cooc = count_cooccurrences(
        corpus, window_size=a.window, symmetric=not a.left_only, memory=a.memory, stats=stats
    )
    seconds = time.perf_counter() - t
    return {
        "load_seconds": load_seconds,
        "seconds": seconds,
        "nnz": cooc.nnz,
        "raw_tokens": corpus.num_tokens,
        "kept_tokens": cooc.num_tokens,
        "vocab_size": len(corpus.tokenizer),
        "rss_before_mb": base,
        "peak_rss_mb": _rss_mb("VmHWM"),
        "chunks": stats["chunks"],
        "spills": stats["spills"],
    }


def _spawn(a, cache: str | None) -> dict:
    cmd = [sys.executable, __file__, a.file, "--worker", "--window", str(a.window), "--memory", str(a.memory)]
    cmd += ["--min-count", str(a.min_count)] + (["--left-only"] if a.left_only else [])
    env = dict(os.environ, **({"HF_EMBEDDINGS_CACHE": cache} if cache else {}))
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads([ln for ln in out.splitlines() if ln.startswith("RESULT ")][-1][len("RESULT ") :])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", nargs="?", default=str(DEFAULT))
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--left-only", action="store_true", help="left context only (cooccur.c -symmetric 0)")
    p.add_argument("--memory", type=float, default=4.0, help="soft limit in GB (cooccur.c -memory)")
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3, help="count-only runs (median reported)")
    p.add_argument(
        "--cold", action="store_true", help="also time tokenize + vocabulary + count in a fresh cache"
    )
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        print("RESULT " + json.dumps(worker(a)), flush=True)
        return

    print(
        f"corpus {a.file}: window {a.window} {'left-only' if a.left_only else 'symmetric'}, 1/d weights, "
        f"min_count {a.min_count}, memory {a.memory} GB, {os.cpu_count()} CPU cores, load {os.getloadavg()[0]:.1f}"
    )
    cold = None
    if a.cold:
        with tempfile.TemporaryDirectory() as cache:
            cold = _spawn(a, cache)
    else:
        _spawn(a, None)  # make sure the token cache exists; not timed
    runs = [_spawn(a, None) for _ in range(a.repeats)]
    r = runs[0]
    sec = statistics.median(x["seconds"] for x in runs)
    peak = statistics.median(x["peak_rss_mb"] for x in runs)
    print(
        f"  tokens: {r['raw_tokens']:,} raw, {r['kept_tokens']:,} in vocabulary ({r['vocab_size']:,} ids); "
        f"{r['chunks']} chunks, {r['spills']} spills"
    )
    each = ", ".join(f"{x['seconds']:.2f}" for x in runs)
    print(
        f"  count (from cached token ids): {sec:.2f} s median of {len(runs)} [{each}], "
        f"{r['raw_tokens'] / sec:,.0f} tokens/s"
    )
    print(f"  non-zeros: {r['nnz']:,}")
    print(
        f"  peak RSS while counting: {peak:,.0f} MB (process RSS before counting {r['rss_before_mb']:,.0f} MB, "
        f"increase {peak - r['rss_before_mb']:,.0f} MB)"
    )
    if cold:
        total = cold["load_seconds"] + cold["seconds"]
        print(
            f"  cold: tokenize + vocabulary {cold['load_seconds']:.2f} s + count {cold['seconds']:.2f} s = {total:.2f} s"
        )
    print(
        f"\nreference (not run here, quoted from {REFERENCE['source']}): {REFERENCE['seconds']} s, "
        f"{REFERENCE['nnz'] / 1e6:.1f}M non-zeros; target <= 2x = {2 * REFERENCE['seconds']} s"
    )
    print(
        f"  ours / reference time: count-only {sec / REFERENCE['seconds']:.2f}x"
        + (f", cold {(cold['load_seconds'] + cold['seconds']) / REFERENCE['seconds']:.2f}x" if cold else "")
    )


if __name__ == "__main__":
    main()
