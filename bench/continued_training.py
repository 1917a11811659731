"""Continued training with a growing vocabulary, ours next to gensim's, on gcide split in two halves.

For each system: (joint) skip-gram on the whole corpus, 5 epochs; (continued) 5 epochs on the first
half of the lines, then `update_vocab` continued training on the second half, 5 epochs (ours:
`train(..., init_from=FIRST, update_vocab=True)`, gensim: `build_vocab(second, update=True)` + `train`).
Settings: bench/word2vec_vs_gensim.py's (d 100, window 5, negative 5, sample 1e-3, min_count 5). Prints
WS-353 / SimLex Spearman and Google analogy accuracy (restrict_vocab 30000) of every run, and the gap
continued - joint per system. Target (issue 24): ours continued within 0.01 of ours joint, or, where
gensim's own continued training loses more than that, no worse than gensim's gap. Every run is a fresh
subprocess; the driver evaluates the saved vectors. Medians over --seeds.

`--split contiguous` (the default) cuts the file in the middle: gcide is a dictionary in alphabetical
order, so the second half is new text about other headwords (a shift of distribution, the hard case).
`--split interleaved` gives the even lines to the first half and the odd lines to the second: more text
of the same kind.

    python bench/continued_training.py [FILE] [--seeds 1] [--split contiguous|interleaved] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from word2vec_vs_gensim import OURS_SETTINGS, SETTINGS  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "gcide.txt.xz"
METRICS = (
    ("wordsim353_spearman", "WS-353"),
    ("simlex999_spearman", "SimLex"),
    ("google_analogy_accuracy", "analogy"),
)
EPOCHS = 5


def halves(source: Path, work: Path, split: str = "contiguous") -> tuple[Path, Path, Path]:
    from hf_embeddings.text.sources import open_compressed

    with open_compressed(source) as f:
        lines = f.read().decode("utf-8").splitlines()
    if split == "interleaved":
        first, second = lines[0::2], lines[1::2]
    else:
        mid = len(lines) // 2
        first, second = lines[:mid], lines[mid:]
    paths = (work / "all.txt", work / "first.txt", work / "second.txt")
    for path, part in zip(paths, (lines, first, second)):
        path.write_text("\n".join(part) + "\n", encoding="utf-8")
    return paths


def run_ours(mode: str, files: dict, out: str, seed: int, alpha: float | None = None) -> None:
    from hf_embeddings.api import train

    config = {**SETTINGS, **OURS_SETTINGS, "architecture": "skipgram", "epochs": EPOCHS}
    if mode == "joint":
        train("word2vec", files["all"], out, config=config, seed=seed, device="cpu", show_progress=False)
        return
    train(
        "word2vec",
        files["first"],
        out + "-first",
        config=config,
        seed=seed,
        device="cpu",
        show_progress=False,
    )
    train(
        "word2vec", files["second"], out, config={"epochs": EPOCHS, **({"alpha": alpha} if alpha else {})},
        init_from=out + "-first", update_vocab=True,
        seed=seed, device="cpu", show_progress=False,
    )  # fmt: skip


def run_gensim(mode: str, files: dict, out: str, seed: int, alpha: float | None = None) -> None:
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    settings = {**SETTINGS, "sg": 1, "workers": 2, "seed": seed, "epochs": EPOCHS}
    if mode == "joint":
        model = Word2Vec(LineSentence(files["all"]), **settings)
    else:
        model = Word2Vec(LineSentence(files["first"]), **settings)
        second = LineSentence(files["second"])
        model.build_vocab(second, update=True)
        rates = {"start_alpha": alpha, "end_alpha": model.min_alpha} if alpha else {}
        model.train(second, total_examples=model.corpus_count, epochs=EPOCHS, **rates)
    model.wv.save_word2vec_format(out + ".txt")


def evaluate(system: str, out: str) -> dict:
    from hf_embeddings.evaluation import evaluate_static_embeddings

    if system == "ours":
        from hf_embeddings.api import load

        model, tokenizer = load(out)
        model.attach_tokenizer(tokenizer)
        kv = model.wv
    else:
        from hf_embeddings.vectors.keyed_vectors import KeyedVectors

        kv = KeyedVectors.load_word2vec_format(out + ".txt")
    scores = evaluate_static_embeddings(kv)
    return {key: scores[key] for key, _ in METRICS}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", nargs="?", default=str(DEFAULT))
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--split", choices=("contiguous", "interleaved"), default="contiguous")
    p.add_argument(
        "--continue-alpha",
        type=float,
        help="starting learning rate of the continued run (both systems; default: the saved model's, 0.025)",
    )
    p.add_argument("--systems", default="ours,gensim")
    p.add_argument("--json")
    p.add_argument("--worker", nargs=4, metavar=("SYSTEM", "MODE", "FILES", "OUT"), help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        system, mode, files, out = a.worker
        (run_ours if system == "ours" else run_gensim)(mode, json.loads(files), out, a.seed, a.continue_alpha)
        return
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="hfe-continued-") as tmp:
        work = Path(tmp)
        all_, first, second = halves(Path(a.corpus), work, a.split)
        files = json.dumps({"all": str(all_), "first": str(first), "second": str(second)})
        for seed in range(a.seeds):
            for system in a.systems.split(","):
                for mode in ("joint", "continued"):
                    out = str(work / f"{system}-{mode}-{seed}")
                    extra = ["--continue-alpha", str(a.continue_alpha)] if a.continue_alpha else []
                    subprocess.run(
                        [sys.executable, __file__, "--worker", system, mode, files, out, "--seed", str(seed)]
                        + extra,
                        check=True,
                    )
                    scores = evaluate(system, out)
                    results.setdefault(f"{system}/{mode}", []).append(scores)
                    print(system, mode, seed, json.dumps(scores), flush=True)
    summary = {
        k: {m: statistics.median(r[m] for r in runs) for m, _ in METRICS} for k, runs in results.items()
    }
    print(f"\n{'system':8s} {'metric':8s} {'joint':>8s} {'continued':>10s} {'gap':>8s}")
    for system in a.systems.split(","):
        for key, name in METRICS:
            j, c = summary[f"{system}/joint"][key], summary[f"{system}/continued"][key]
            print(f"{system:8s} {name:8s} {j:8.3f} {c:10.3f} {c - j:+8.3f}")
    if a.json:
        record = {
            "split": a.split,
            "seeds": a.seeds,
            "continue_alpha": a.continue_alpha,
            "runs": results,
            "medians": summary,
        }
        Path(a.json).write_text(json.dumps(record, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
