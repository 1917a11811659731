"""Word2Vec training: hf_embeddings (transformers Trainer) vs gensim 4, same corpus, same settings.

Both train on the same token stream (the corpus file tokenized by hf_embeddings' `load_corpus`, out-of-
vocabulary words dropped, which gensim's `min_count` would do anyway) with d=100, window 5, negative 5,
sample 1e-3, min_count 5, alpha 0.025 -> 1e-4 over all epochs; gensim uses one worker per CPU core.
Per architecture it prints WordSim-353 and SimLex-999 Spearman, Google-analogy accuracy (3CosAdd,
restrict_vocab 30000), with OOV counts, all from `hf_embeddings.evaluation` (gensim-identical numbers),
training words/s (raw corpus words x epochs / training wall time, vocabulary building and evaluation
excluded), the ratio ours / gensim, and the peak RSS of each run. Every run is a fresh subprocess
that trains and saves its vectors (peak RSS: its VmHWM); the driver evaluates them. Peak RSS is shown
in all and above the RSS the worker had right after importing its libraries ("above libs": torch +
transformers + the Trainer stack weigh about 460 MB before any data is touched, numba for the CPU kernel
another 115 MB, gensim about 115 MB), so both the total and what training itself costs are visible. On a
CPU ours trains with the compiled kernel over plain corpus spans (no DataLoader worker); on a GPU with
the batched tensor path. Figures are medians over --seeds; the two systems alternate seed by seed,
and the median ratio of back-to-back runs is printed too. `--device cuda` trains ours on the GPU
(gensim stays on the CPU); `--option key=value` overrides a Word2VecConfig field of ours (e.g.
sub_batch_words=8192; on a GPU `gpu_kernel=triton` or `gpu_kernel=torch` picks the fused Triton kernel or
the tensor ops, "auto" by default: Triton when installed; the kernel used is printed and stored as `kernel`,
and the Triton kernels are compiled before the clock starts, as numba's are cached). Ours starts from gensim
4's initialisation (init_scale=1.0, input vectors uniform in +-1/d; `--option init_scale=0.5` for our
default, word2vec.c's; `--gensim-init-scale 0.5` starts gensim there too).

Measured 2026-11-26 (2 cores, gcide, 5 epochs, median of 3 seeds, systems alternating; raw runs in
bench/results/2026-11-26-cpu-word2vec-spans.json):
    skipgram  ours 0.536 / 0.325 / 0.159, 534k words/s; gensim 0.533 / 0.319 / 0.160, 340k words/s: 1.57x
    cbow      ours 0.446 / 0.212 / 0.104, 1.08M words/s; gensim 0.456 / 0.215 / 0.107, 918k words/s: 1.18x
    (back-to-back ratios 1.46x and 1.16x; peak RSS 664 vs 203 MB, 150 vs 91 MB above the libraries)
One H100 (ours only, `--device cuda --systems ours --arch both --seeds 3`; gensim stays the CPU figures
above; raw runs in bench/results/2026-11-26-h100-b/):
    1,048,576 words per step: skipgram 0.548 / 0.335 / 0.160, 12.4M words/s; cbow 0.457 / 0.226 / 0.103,
    13.5M words/s (at 262,144 words per step: 11.2M and 9.4M words/s, similar quality). The default since,
    with the rate decaying across a step's sub-batches (added after these runs; the same algorithm on a
    CPU, `--option cpu_kernel=torch --option sub_batch_words=16384 --words-per-batch 1048576`, 1 seed:
    skipgram 0.535 / 0.326 / 0.167, cbow 0.451 / 0.223 / 0.098).

    python bench/word2vec_vs_gensim.py [FILE] [--arch both|skipgram|cbow] [--epochs 5] [--seeds 1]
    python bench/word2vec_vs_gensim.py --quick          # 1 epoch, 1 seed: a fast sanity run
    python bench/word2vec_vs_gensim.py --device cuda --systems ours --seeds 3   # GPU throughput + quality
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "gcide.txt.xz"
SETTINGS = dict(vector_size=100, window=5, negative=5, sample=1e-3, min_count=5, alpha=0.025, min_alpha=1e-4)
# gensim 4 starts the input vectors uniform in +-1/d (KeyedVectors prep_vectors); our default is word2vec.c's
# +-0.5/d; started there, gensim itself loses CBOW analogy accuracy on gcide (--gensim-init-scale 0.5,
# 3 seeds: 0.101 vs 0.107): same settings, same start
OURS_SETTINGS = dict(init_scale=1.0)
METRICS = (
    ("wordsim353_spearman", "WS353 rho"),
    ("simlex999_spearman", "SimLex rho"),
    ("google_analogy_accuracy", "analogy acc"),
)


# ------------------------------------------------------------------------------------------- workers
def _save_vectors(words: list[str], vectors, out: str) -> None:
    """Workers only save the vectors (so their peak RSS is training's); the driver evaluates them."""
    import numpy as np

    np.save(out + ".npy", np.asarray(vectors, dtype=np.float32))
    Path(out + ".words").write_text("\n".join(words), encoding="utf-8")


def _evaluate(out: str) -> dict:
    import numpy as np

    from hf_embeddings.evaluation import evaluate_static_embeddings

    words = Path(out + ".words").read_text(encoding="utf-8").split("\n")
    r = evaluate_static_embeddings((words, np.load(out + ".npy")), restrict_vocab=30000)
    keep = [m for m, _ in METRICS] + ["wordsim353_n_oov", "simlex999_n_oov", "google_analogy_n_oov"]
    return {k: r[k] for k in keep}


def run_ours(path: str, arch: str, epochs: int, seed: int, a) -> dict:
    import torch
    from transformers import TrainingArguments  # noqa: F401  (the Trainer stack: counted in the baseline RSS)

    from hf_embeddings import load_corpus
    from hf_embeddings.models.word2vec import FAMILY, config_from_corpus, uses_cpu_kernel
    from hf_embeddings.models.word2vec.modeling_word2vec import resolve_gpu_kernel
    from hf_embeddings.training.fit import fit, resolve_device
    from hf_embeddings.training.trainer import EmbeddingTrainer  # noqa: F401  (as above)

    if a.threads:
        torch.set_num_threads(a.threads)
    device = resolve_device(a.device)
    if device == "cpu":
        from hf_embeddings.models.word2vec import kernels_word2vec  # noqa: F401  (imports numba)
    baseline = _rss_mb()  # the libraries alone (torch, transformers, the Trainer stack, numba on a CPU)
    corpus = load_corpus(path, min_count=SETTINGS["min_count"], show_progress=False)
    settings = {k: v for k, v in SETTINGS.items() if k != "min_count"}
    options = {**OURS_SETTINGS, **_options(a.option)}
    cfg = config_from_corpus(corpus, architecture=arch, epochs=epochs, **settings, **options)
    kernel = "numba" if uses_cpu_kernel(cfg, device) else resolve_gpu_kernel(cfg, device)
    if kernel == "triton":
        _warm_up_triton(cfg, device)
    result = fit(
        FAMILY,
        corpus,
        cfg,
        training={"logging_steps": 10**9},
        data_options={"words_per_batch": a.words_per_batch} if a.words_per_batch else None,
        device=device,
        seed=seed,
        output_dir=os.path.join(a.tmp, "out"),
    )
    model = result.model
    model.attach_tokenizer(corpus.tokenizer)
    _save_vectors(list(model.wv.index_to_key), model.wv.vectors, a.vectors)
    out = dict(
        train_seconds=result.train_seconds,
        raw_words=corpus.num_tokens,
        threads=torch.get_num_threads(),
        device=device if device == "cpu" else torch.cuda.get_device_name(0),
        baseline_rss_mb=baseline,
        options=options,
        kernel=kernel,
        words_per_batch=result.trainer.train_dataset.words_per_batch,
        epoch_loss_per_item=[h["epoch_loss_per_item"] for h in result.epoch_history],
    )
    return out


def _warm_up_triton(cfg, device: str) -> None:
    """Compile the Triton kernels for this run's shapes (one tiny batch on scratch tables), so that training
    time is training: triton keeps compiled kernels on disk, but the first run on a machine would pay it."""
    import torch

    from hf_embeddings.models.word2vec.kernels_triton import train_blocks

    B, U, K, D = cfg.block_size, cfg.block_size + 2 * cfg.window, cfg.block_negatives, cfg.vector_size
    g = torch.Generator(device=device).manual_seed(0)

    def ids(*shape: int) -> torch.Tensor:
        return torch.randint(0, 16, shape, device=device, generator=g)

    pairs = torch.ones(4, U, B, dtype=torch.bool, device=device)
    tables = [torch.zeros(16, D, device=device) for _ in range(2)]
    train_blocks(
        *tables, ids(4, U), pairs, ids(4, B), ids(4, K), skipgram=cfg.architecture == "skipgram",
        cbow_mean=cfg.cbow_mean, learning_rate=0.01, learning_rate_end=0.005, max_row_step=cfg.max_row_step,
    )  # fmt: skip
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def run_gensim(path: str, arch: str, epochs: int, seed: int, a) -> dict:
    from gensim.models import Word2Vec

    baseline = _rss_mb()
    # the token stream written by `_write_tokens`; read into memory (gensim's fastest iterable input)
    with open(a.tokens, encoding="utf-8") as f:
        sentences = [[sys.intern(w) for w in line.split()] for line in f]
    raw_words = int(Path(a.tokens + ".raw_words").read_text())
    workers = a.gensim_workers or os.cpu_count() or 1
    model = Word2Vec(sg=int(arch == "skipgram"), workers=workers, seed=seed, epochs=epochs, **SETTINGS)
    model.build_vocab(sentences)
    if a.gensim_init_scale != 1.0:  # gensim 4 starts at +-1/d; e.g. 0.5 for word2vec.c's / our default start
        model.wv.vectors *= a.gensim_init_scale
    t = time.perf_counter()
    model.train(sentences, total_examples=model.corpus_count, epochs=epochs)
    seconds = time.perf_counter() - t
    _save_vectors(list(model.wv.index_to_key), model.wv.vectors, a.vectors)
    out = dict(train_seconds=seconds, raw_words=raw_words, workers=workers, baseline_rss_mb=baseline)
    return out


def _write_tokens(path: str, out: str) -> None:
    """Write the corpus as our tokenizer sees it (one sentence per line, OOV words dropped) for gensim."""
    from hf_embeddings import load_corpus

    corpus = load_corpus(path, min_count=SETTINGS["min_count"], show_progress=False)
    tok = corpus.tokenizer
    ns = tok.num_special_tokens
    words = tok.convert_ids_to_tokens(list(range(len(tok))))
    with open(out, "w", encoding="utf-8") as f:
        for i in range(len(corpus)):
            f.write(" ".join(words[j] for j in corpus.sentence(i).tolist() if j >= ns) + "\n")
    Path(out + ".raw_words").write_text(str(corpus.num_tokens))


def _options(pairs: list[str] | None) -> dict:
    """--option key=value (JSON values) -> Word2VecConfig overrides."""
    out = {}
    for pair in pairs or []:
        key, _, value = pair.partition("=")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mb() -> float:
    """Peak resident set of this process since it was exec'd (VmHWM). `ru_maxrss` of a child would also
    count the parent's pages between fork and exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -------------------------------------------------------------------------------------------- driver
def _spawn(system: str, arch: str, seed: int, a) -> dict:
    cmd = [sys.executable, __file__, a.file, "--worker", system, "--arch", arch, "--seed", str(seed)]
    cmd += [
        "--epochs",
        str(a.epochs),
        "--threads",
        str(a.threads or 0),
        "--gensim-workers",
        str(a.gensim_workers or 0),
        "--gensim-init-scale",
        str(a.gensim_init_scale),
    ]
    vectors = os.path.join(a.tmp, f"{system}-{arch}-{seed}")
    cmd += ["--device", a.device] + [f"--option={o}" for o in a.option or []]
    cmd += [
        "--words-per-batch",
        str(a.words_per_batch or 0),
        "--tmp",
        a.tmp,
        "--tokens",
        a.tokens,
        "--vectors",
        vectors,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    stdout = proc.stdout.read()
    proc.stdout.close()
    proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"{system} {arch} seed {seed} failed (exit {proc.returncode})")
    line = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")][-1]
    res = json.loads(line[len("RESULT ") :])
    res.update(_evaluate(vectors))
    res["words_per_second"] = res["raw_words"] * a.epochs / res["train_seconds"]
    res["training_rss_mb"] = res["peak_rss_mb"] - res["baseline_rss_mb"]
    return res


def _median(runs: list[dict], key: str) -> float:
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", nargs="?", default=str(DEFAULT))
    p.add_argument("--arch", choices=["both", "skipgram", "cbow"], default="both")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seeds", type=int, default=1, help="runs per system and architecture (medians reported)")
    p.add_argument("--quick", action="store_true", help="1 epoch, 1 seed")
    p.add_argument("--threads", type=int, default=0, help="torch threads for ours (0: torch's default)")
    p.add_argument("--gensim-workers", type=int, default=0, help="gensim workers (0: one per core)")
    p.add_argument(
        "--gensim-init-scale", type=float, default=1.0, help="scale gensim's +-1/d starting vectors by this"
    )
    p.add_argument("--words-per-batch", type=int, default=0, help="ours (0: the family default)")
    p.add_argument("--device", default="cpu", help="ours: cpu, cuda or auto")
    p.add_argument(
        "--option", action="append", help="Word2VecConfig override for ours, key=value (repeatable)"
    )
    p.add_argument("--systems", default="ours,gensim", help="comma-separated subset of ours,gensim")
    p.add_argument("--json", help="also write all runs to this file")
    p.add_argument("--worker", choices=["ours", "gensim"], help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--tmp", default=None, help=argparse.SUPPRESS)
    p.add_argument("--tokens", default=None, help=argparse.SUPPRESS)
    p.add_argument("--vectors", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.quick:
        a.epochs, a.seeds = 1, 1
    if a.worker:
        arch = a.arch
        fn = run_ours if a.worker == "ours" else run_gensim
        res = fn(a.file, arch, a.epochs, a.seed, a)
        res["peak_rss_mb"] = _peak_rss_mb()
        print("RESULT " + json.dumps(res), flush=True)
        return

    import tempfile

    archs = ["skipgram", "cbow"] if a.arch == "both" else [a.arch]
    systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    everything = {}
    with tempfile.TemporaryDirectory() as tmp:
        a.tmp = tmp
        a.tokens = os.path.join(tmp, "tokens.txt")
        if "gensim" in systems:
            _write_tokens(a.file, a.tokens)
        for arch in archs:
            for system in systems:
                everything[(arch, system)] = []
            # systems alternate seed by seed, so that a slow spell of a shared machine hits both alike
            for seed in range(a.seeds):
                for system in systems:
                    r = _spawn(system, arch, seed, a)
                    everything[(arch, system)].append(r)
                    print(
                        f"  {arch:8s} {system:6s} seed {seed}: "
                        + "  ".join(f"{label} {r[k]:.4f}" for k, label in METRICS)
                        + f"  {r['words_per_second']:,.0f} words/s  peak RSS {r['peak_rss_mb']:,.0f} MB"
                        + f" (libraries {r['baseline_rss_mb']:,.0f} MB)"
                        + (f"  kernel {r['kernel']}" if "kernel" in r else ""),
                        flush=True,
                    )
    print(f"\ncorpus {a.file}, {a.epochs} epoch(s), median of {a.seeds} seed(s), {os.cpu_count()} CPU cores")
    if "ours" in systems:
        first = everything[(archs[0], "ours")][0]
        print(f"ours on {first['device']}, options {first['options']}, kernel {first.get('kernel')}")
    header = f"{'':10s}{'':8s}" + "".join(f"{label:>13s}" for _, label in METRICS)
    header += f"{'OOV ws/sl/an':>16s}{'words/s':>12s}{'peak RSS MB':>13s}{'above libs':>12s}"
    for arch in archs:
        print("\n" + header)
        for system in systems:
            runs = everything[(arch, system)]
            r0 = runs[0]
            oov = f"{r0['wordsim353_n_oov']}/{r0['simlex999_n_oov']}/{r0['google_analogy_n_oov']}"
            print(
                f"{arch:10s}{system:8s}"
                + "".join(f"{_median(runs, k):13.4f}" for k, _ in METRICS)
                + f"{oov:>16s}{_median(runs, 'words_per_second'):12,.0f}{_median(runs, 'peak_rss_mb'):13,.0f}"
                + f"{_median(runs, 'training_rss_mb'):12,.0f}"
            )
        if set(systems) >= {"ours", "gensim"}:
            ours, gen = everything[(arch, "ours")], everything[(arch, "gensim")]
            diffs = "".join(f"{_median(ours, k) - _median(gen, k):+13.4f}" for k, _ in METRICS)
            ratio = _median(ours, "words_per_second") / _median(gen, "words_per_second")
            paired = statistics.median(
                o["words_per_second"] / g["words_per_second"] for o, g in zip(ours, gen)
            )
            print(f"{arch:10s}{'diff':8s}{diffs}{'':16s}{ratio:11.2f}x  (ours / gensim words/s)")
            print(f"{'':18s}speed ratio of back-to-back runs (same seed): median {paired:.2f}x")
            mem = _median(ours, "peak_rss_mb") / _median(gen, "peak_rss_mb")
            mem_train = _median(ours, "training_rss_mb") / _median(gen, "training_rss_mb")
            print(
                f"{'':18s}peak RSS ours / gensim: {mem:.2f}x in all, {mem_train:.2f}x above the libraries' own"
            )
    if a.json:
        with open(a.json, "w") as f:
            json.dump({f"{arch}/{system}": runs for (arch, system), runs in everything.items()}, f, indent=1)


if __name__ == "__main__":
    main()
