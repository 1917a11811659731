"""PPMI-SVD word vectors (Levy, Goldberg & Dagan 2015) on gcide, next to gensim skip-gram and our GloVe.

PPMI-SVD with Levy et al.'s recommended settings (symmetric window 2 with 1/distance weights, the
dynamic window's weights at this width; context-distribution smoothing 0.75; no shift, neg 1;
eigenvalue weighting 0.5; word + context vectors; d 500 as in the paper, randomized SVD with 5 power
iterations), trained through `hf_embeddings.training.fit.fit` exactly as `hf-embeddings train svd` does;
`--dims` adds rows at other sizes (default 500 and 100, gensim's size). Next to it in the same run:
gensim 4 skip-gram with the settings of bench/word2vec_vs_gensim.py (d 100, window 5, negative 5, sample
1e-3, 5 epochs, one worker per core) and our GloVe with those of bench/glove_quality.py (15 epochs;
`--no-glove` skips it: it takes minutes). All on the same token stream (min_count 5).

Per system: WordSim-353 and SimLex-999 Spearman, Google analogy accuracy with 3CosAdd and 3CosMul
(restrict_vocab 30000), from `hf_embeddings.evaluation`; wall time (ours: counting + PPMI + SVD, i.e. the
co-occurrence count and the whole `fit` call, Trainer set-up included; gensim: `train`, vocabulary
building excluded; GloVe: counting + training) and the peak RSS of the process (VmHWM: libraries and
corpus included; also shown above the RSS right after importing the libraries). Every run is a fresh
subprocess that saves its vectors; the driver evaluates them. Medians over --seeds; systems alternate
seed by seed. Targets (issue 22): WS-353 and SimLex >= gensim skip-gram - 0.02, total time <= gensim's,
peak RSS <= 2 GB. Timings on shared machines drift: the load average is printed with the results.

    python bench/svd_quality.py [FILE] [--seeds 1] [--dims 500,100] [--no-glove] [--json out.json]
    python bench/svd_quality.py --option window_size=5 --option eig=0   # another point of Levy's grid
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from glove_quality import MIN_COUNT as GLOVE_MIN_COUNT  # noqa: E402
from glove_quality import SETTINGS as GLOVE_SETTINGS  # noqa: E402
from word2vec_vs_gensim import SETTINGS as GENSIM_SETTINGS  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "gcide.txt.xz"
MIN_COUNT = GENSIM_SETTINGS["min_count"]
assert MIN_COUNT == GLOVE_MIN_COUNT == 5
#: Levy, Goldberg & Dagan (2015), section 7 and their best SVD configurations (vector_size from --dims)
SVD_SETTINGS = dict(
    window_size=2,
    distance_weighting="harmonic",
    cds=0.75,
    neg=1.0,
    eig=0.5,
    add_context=True,
    svd="randomized",
    n_iter=5,
)
GLOVE_EPOCHS = 15
GENSIM_EPOCHS = 5
METRICS = (
    ("wordsim353_spearman", "WS-353"),
    ("simlex999_spearman", "SimLex"),
    ("analogy_3cosadd", "3CosAdd"),
    ("analogy_3cosmul", "3CosMul"),
)
RSS_LIMIT_MB = 2048
TOLERANCE = 0.02


# ------------------------------------------------------------------------------------------- workers
def _rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _save_vectors(words, vectors, out: str) -> None:
    import numpy as np

    np.save(out + ".npy", np.asarray(vectors, dtype=np.float32))
    Path(out + ".words").write_text("\n".join(words), encoding="utf-8")


def _options(pairs) -> dict:
    out = {}
    for pair in pairs or []:
        key, _, value = pair.partition("=")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def run_svd(a) -> dict:
    import torch
    from transformers import TrainingArguments  # noqa: F401  (the Trainer stack: in the baseline RSS)

    from hf_embeddings import load_corpus
    from hf_embeddings.models.svd import FAMILY, config_from_corpus, cooccurrence_counts
    from hf_embeddings.training.fit import fit
    from hf_embeddings.training.trainer import EmbeddingTrainer  # noqa: F401  (as above)

    if a.threads:
        torch.set_num_threads(a.threads)
    baseline = _rss_mb()
    corpus = load_corpus(a.file, min_count=MIN_COUNT, show_progress=False)
    settings = {**SVD_SETTINGS, "vector_size": a.dim, **_options(a.option)}
    config = config_from_corpus(corpus, **settings)
    t0 = time.perf_counter()
    counts = cooccurrence_counts(corpus, config, cache=False)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = fit(
            FAMILY,
            corpus,
            config,
            data_options={"cooccurrence": counts},
            device=a.device,
            seed=a.seed,
            output_dir=tmp,
        )
    t2 = time.perf_counter()
    stats = result.trainer.train_dataset.stats
    model = result.model
    model.attach_tokenizer(corpus.tokenizer)
    _save_vectors(list(model.wv.index_to_key), model.wv.vectors, a.vectors)
    return dict(
        settings=settings,
        seconds=t2 - t0,
        count_seconds=t1 - t0,
        fit_seconds=t2 - t1,
        train_seconds=result.train_seconds,
        ppmi_seconds=stats["ppmi_seconds"],
        svd_seconds=stats["svd_seconds"],
        cooccurrence_nonzeros=stats["cooccurrence_nonzeros"],
        ppmi_nonzeros=stats["ppmi_nonzeros"],
        residual=stats["residual"],
        vocab_size=len(corpus.tokenizer),
        threads=torch.get_num_threads(),
        device=a.device,
        baseline_rss_mb=baseline,
    )


def run_glove(a) -> dict:
    import torch
    from transformers import TrainingArguments  # noqa: F401

    from hf_embeddings import load_corpus
    from hf_embeddings.models.glove import FAMILY, config_from_corpus, cooccurrence_for
    from hf_embeddings.training.fit import fit
    from hf_embeddings.training.trainer import EmbeddingTrainer  # noqa: F401

    if a.threads:
        torch.set_num_threads(a.threads)
    baseline = _rss_mb()
    corpus = load_corpus(a.file, min_count=MIN_COUNT, show_progress=False)
    config = config_from_corpus(corpus, epochs=GLOVE_EPOCHS, **GLOVE_SETTINGS)
    t0 = time.perf_counter()
    counts = cooccurrence_for(corpus, config, cache=False)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = fit(
            FAMILY,
            corpus,
            config,
            training={"logging_steps": 10**9},
            data_options={"cooccurrence": counts},
            device=a.device,
            seed=a.seed,
            output_dir=tmp,
        )
    t2 = time.perf_counter()
    model = result.model
    model.attach_tokenizer(corpus.tokenizer)
    _save_vectors(list(model.wv.index_to_key), model.wv.vectors, a.vectors)
    return dict(
        settings={**GLOVE_SETTINGS, "epochs": GLOVE_EPOCHS},
        seconds=t2 - t0,
        count_seconds=t1 - t0,
        train_seconds=result.train_seconds,
        threads=torch.get_num_threads(),
        baseline_rss_mb=baseline,
    )


def run_gensim(a) -> dict:
    from gensim.models import Word2Vec

    baseline = _rss_mb()
    with open(a.tokens, encoding="utf-8") as f:  # the driver's token stream, read into memory
        sentences = [[sys.intern(w) for w in line.split()] for line in f]
    workers = os.cpu_count() or 1
    model = Word2Vec(sg=1, workers=workers, seed=a.seed, epochs=GENSIM_EPOCHS, **GENSIM_SETTINGS)
    model.build_vocab(sentences)
    t = time.perf_counter()
    model.train(sentences, total_examples=model.corpus_count, epochs=GENSIM_EPOCHS)
    seconds = time.perf_counter() - t
    _save_vectors(list(model.wv.index_to_key), model.wv.vectors, a.vectors)
    return dict(
        settings={**GENSIM_SETTINGS, "sg": 1, "epochs": GENSIM_EPOCHS},
        seconds=seconds,
        workers=workers,
        baseline_rss_mb=baseline,
    )


# -------------------------------------------------------------------------------------------- driver
def _write_tokens(path: str, out: str) -> None:
    """The corpus as our tokenizer sees it (one line per sentence, OOV words dropped), for gensim."""
    from hf_embeddings import load_corpus

    corpus = load_corpus(path, min_count=MIN_COUNT, show_progress=False)
    tok = corpus.tokenizer
    ns = tok.num_special_tokens
    words = tok.convert_ids_to_tokens(list(range(len(tok))))
    with open(out, "w", encoding="utf-8") as f:
        for i in range(len(corpus)):
            f.write(" ".join(words[j] for j in corpus.sentence(i).tolist() if j >= ns) + "\n")


def _evaluate(out: str) -> dict:
    import numpy as np

    from hf_embeddings.evaluation import (
        builtin_benchmark_path,
        evaluate_static_embeddings,
        evaluate_word_analogies,
    )

    words = Path(out + ".words").read_text(encoding="utf-8").split("\n")
    kv = (words, np.load(out + ".npy"))
    r = evaluate_static_embeddings(kv, restrict_vocab=30000)
    cosmul = evaluate_word_analogies(
        kv, builtin_benchmark_path("google_analogy"), restrict_vocab=30000, method="3cosmul"
    )
    return {
        "wordsim353_spearman": r["wordsim353_spearman"],
        "simlex999_spearman": r["simlex999_spearman"],
        "analogy_3cosadd": r["google_analogy_accuracy"],
        "analogy_3cosmul": cosmul["accuracy"],
        "wordsim353_n_oov": r["wordsim353_n_oov"],
        "simlex999_n_oov": r["simlex999_n_oov"],
        "google_analogy_n_oov": r["google_analogy_n_oov"],
    }


def _spawn(system: str, seed: int, a, dim: int | None = None) -> dict:
    name = system if dim is None else f"{system}-d{dim}"
    vectors = os.path.join(a.tmp, f"{name}-{seed}")
    cmd = [sys.executable, __file__, a.file, "--worker", system, "--seed", str(seed), "--vectors", vectors]
    cmd += ["--tokens", a.tokens, "--threads", str(a.threads), "--device", a.device]
    cmd += ["--dim", str(dim or 0)] + [f"--option={o}" for o in a.option or []]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{name} seed {seed} failed (exit {proc.returncode})")
    res = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1][7:])
    res.update(_evaluate(vectors))
    res["above_libraries_mb"] = res["peak_rss_mb"] - res["baseline_rss_mb"]
    return res


def _median(runs: list[dict], key: str) -> float:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", nargs="?", default=str(DEFAULT))
    p.add_argument("--seeds", type=int, default=1, help="runs per system (medians reported)")
    p.add_argument("--dims", default="500,100", help="PPMI-SVD vector sizes; the first is the one checked")
    p.add_argument("--no-glove", action="store_true", help="skip our GloVe (15 epochs: minutes on 2 cores)")
    p.add_argument("--option", action="append", help="SvdConfig override, key=value (repeatable)")
    p.add_argument("--threads", type=int, default=0, help="torch threads for ours (0: torch's default)")
    p.add_argument("--device", default="cpu", help="ours: cpu or cuda")
    p.add_argument("--json", help="also write the runs and the summary to this file")
    p.add_argument("--worker", choices=["svd", "gensim", "glove"], help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--dim", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--vectors", help=argparse.SUPPRESS)
    p.add_argument("--tokens", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        res = {"svd": run_svd, "gensim": run_gensim, "glove": run_glove}[a.worker](a)
        res["peak_rss_mb"] = _rss_mb("VmHWM")
        print("RESULT " + json.dumps(res), flush=True)
        return

    dims = [int(d) for d in a.dims.split(",") if d.strip()]
    systems = [("gensim", None)] + [("svd", d) for d in dims] + ([] if a.no_glove else [("glove", None)])
    names = [s if d is None else f"{s}-d{d}" for s, d in systems]
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        a.tmp, a.tokens = tmp, os.path.join(tmp, "tokens.txt")
        _write_tokens(a.file, a.tokens)
        for seed in range(a.seeds):  # systems alternate seed by seed: a slow spell hits all alike
            for (system, dim), name in zip(systems, names):
                r = _spawn(system, seed, a, dim)
                runs[name].append(r)
                print(
                    f"  {name:9s} seed {seed}: "
                    + "  ".join(f"{label} {r[k]:.4f}" for k, label in METRICS)
                    + f"  {r['seconds']:.1f} s  peak RSS {r['peak_rss_mb']:,.0f} MB, load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    load_after = os.getloadavg()

    print(
        f"\n{Path(a.file).name}, median of {a.seeds} seed(s); {os.cpu_count()} CPU cores, load average "
        f"(1/5/15 min) {'/'.join(f'{x:.1f}' for x in load_before)} before, "
        f"{'/'.join(f'{x:.1f}' for x in load_after)} after"
    )
    header = f"{'':10s}" + "".join(f"{label:>9s}" for _, label in METRICS)
    print(header + f"{'seconds':>9s}{'peak RSS MB':>13s}{'above libs':>12s}{'OOV ws/sl/an':>15s}")
    for name in names:
        rs = runs[name]
        oov = f"{rs[0]['wordsim353_n_oov']}/{rs[0]['simlex999_n_oov']}/{rs[0]['google_analogy_n_oov']}"
        print(
            f"{name:10s}"
            + "".join(f"{_median(rs, k):9.4f}" for k, _ in METRICS)
            + f"{_median(rs, 'seconds'):9.1f}{_median(rs, 'peak_rss_mb'):13,.0f}"
            + f"{_median(rs, 'above_libraries_mb'):12,.0f}{oov:>15s}"
        )
    gensim = runs["gensim"]
    summary: dict = {}
    ok = True
    for dim, name in ((d, f"svd-d{d}") for d in dims):
        svd = runs[name]
        r = svd[0]
        print(
            f"\n{name}: counting {_median(svd, 'count_seconds'):.1f} s + fit {_median(svd, 'fit_seconds'):.1f} s "
            f"(PPMI {_median(svd, 'ppmi_seconds'):.1f} s, SVD {_median(svd, 'svd_seconds'):.1f} s); "
            f"{r['cooccurrence_nonzeros']:,} co-occurrence / {r['ppmi_nonzeros']:,} PPMI non-zeros over "
            f"{r['vocab_size']:,} ids, residual {r['residual']:.3f}, {r['threads']} torch thread(s)"
        )
        checks = {label: (_median(svd, key), _median(gensim, key) - TOLERANCE) for key, label in METRICS[:2]}
        ratio = _median(svd, "seconds") / _median(gensim, "seconds")
        paired = statistics.median(s["seconds"] / g["seconds"] for s, g in zip(svd, gensim))
        rss = _median(svd, "peak_rss_mb")
        line = []
        for label, (value, target) in checks.items():
            good = value >= target
            ok &= good if dim == dims[0] else True
            line.append(f"{label} {value:.4f} (target >= {target:.4f}: {'ok' if good else 'BELOW'})")
        good_time, good_rss = ratio <= 1.0, rss <= RSS_LIMIT_MB
        if dim == dims[0]:
            ok &= good_time and good_rss
        print("  " + "; ".join(line))
        print(
            f"  time {ratio:.2f}x gensim skip-gram's ({_median(svd, 'seconds'):.1f} s vs "
            f"{_median(gensim, 'seconds'):.1f} s; back-to-back {paired:.2f}x): {'ok' if good_time else 'SLOWER'}; "
            f"peak RSS {rss:,.0f} MB ({rss / _median(gensim, 'peak_rss_mb'):.2f}x gensim's): "
            f"{'ok' if good_rss else 'ABOVE 2 GB'}"
        )
        for key, _ in METRICS:
            summary.setdefault(name, {})[f"{key}_minus_gensim"] = _median(svd, key) - _median(gensim, key)
        summary[name].update(time_ratio=ratio, paired_time_ratio=paired, peak_rss_mb=rss)
    if "glove" in runs:
        glove = runs["glove"]
        print(
            f"\nGloVe: {_median(glove, 'seconds'):.1f} s ({_median(glove, 'count_seconds'):.1f} s counting), "
            f"{_median(glove, 'seconds') / _median(gensim, 'seconds'):.2f}x gensim skip-gram's time"
        )
    overrides = ", ".join(f"{k}={v}" for k, v in _options(a.option).items()) or "none"
    print(
        f"\ntargets (svd-d{dims[0]}, Levy's settings, overrides: {overrides}): {'all met' if ok else 'some missed'}"
    )
    if a.json:
        Path(a.json).write_text(
            json.dumps(
                {
                    "file": str(a.file),
                    "seeds": a.seeds,
                    "cpu_count": os.cpu_count(),
                    "load_average_before": load_before,
                    "load_average_after": load_after,
                    "svd_settings": {**SVD_SETTINGS, **_options(a.option)},
                    "runs": runs,
                    "summary": summary,
                    "targets_met": ok,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
