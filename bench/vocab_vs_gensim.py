"""Vocabulary building speed: hf_embeddings.load_corpus vs gensim's Word2Vec.build_vocab, same file.

Both read the (compressed) file from scratch; ours also tokenizes the whole corpus into the id array
(what training then uses), gensim only counts. Prints the median of --repeats runs and the ratio.

    python bench/vocab_vs_gensim.py [FILE] [--min-count 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "gcide.txt.xz"


def ours(path: str, min_count: int) -> tuple[float, int]:
    from hf_embeddings import load_corpus

    t = time.perf_counter()
    corpus = load_corpus(path, min_count=min_count, use_cache=False)
    return time.perf_counter() - t, len(corpus.tokenizer.words)


def ours_cached(path: str, min_count: int, cache: str) -> tuple[float, int]:
    from hf_embeddings import load_corpus

    load_corpus(path, min_count=min_count, cache_dir=cache)
    t = time.perf_counter()
    corpus = load_corpus(path, min_count=min_count, cache_dir=cache)
    return time.perf_counter() - t, len(corpus.tokenizer.words)


def gensim_build_vocab(path: str, min_count: int) -> tuple[float, int]:
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    t = time.perf_counter()
    model = Word2Vec(min_count=min_count)
    model.build_vocab(corpus_iterable=LineSentence(path))
    return time.perf_counter() - t, len(model.wv)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", nargs="?", default=str(DEFAULT))
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as cache:
        for name, fn in (
            ("hf_embeddings load_corpus (vocab + token ids)", lambda: ours(a.file, a.min_count)),
            ("hf_embeddings load_corpus, cached", lambda: ours_cached(a.file, a.min_count, cache)),
            ("gensim 4 build_vocab (LineSentence)", lambda: gensim_build_vocab(a.file, a.min_count)),
        ):
            runs = [fn() for _ in range(a.repeats)]
            rows[name] = (statistics.median(r[0] for r in runs), runs[0][1])
    print(f"file: {a.file}  min_count: {a.min_count}  median of {a.repeats}")
    for name, (sec, vocab) in rows.items():
        print(f"{name:48s} {sec:7.2f} s   vocabulary {vocab}")
    ours_s = rows["hf_embeddings load_corpus (vocab + token ids)"][0]
    gensim_s = rows["gensim 4 build_vocab (LineSentence)"][0]
    print(f"speed ratio ours/gensim (higher is better): {gensim_s / ours_s:.2f}x")


if __name__ == "__main__":
    main()
