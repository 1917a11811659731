"""How the vocabulary is chosen (`VocabularyRule`): gensim's `max_final_vocab` and a keep-words
`trim_rule`, side by side with gensim on the same sentences, through `load_corpus`, the Python API and
the CLI; the word-list reader fuzzed."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from _support.corpora import write_lines
from gensim.models import Word2Vec as GensimWord2Vec
from gensim.utils import RULE_DEFAULT, RULE_KEEP
from hypothesis import given
from hypothesis import strategies as st

from hf_embeddings.api import load, train
from hf_embeddings.cli import main
from hf_embeddings.errors import CorpusError
from hf_embeddings.text.corpus import load_corpus
from hf_embeddings.text.tokenization import (
    VocabularyRule,
    WordTokenizer,
    effective_min_count,
    keep_words_as_split,
    read_word_list,
)
from hf_embeddings.training.fit import OptionError

SPLIT = {"lowercase": True, "unicode_normalization": "NFKC", "split_punctuation": True}


def zipf_sentences(n_words: int, n_sentences: int, seed: int) -> list[str]:
    """Sentences over w0..w{n-1} with Zipf-like counts, so many counts tie (the hard case for the limit)."""
    rng = random.Random(seed)
    weights = [1.0 / (i + 1) for i in range(n_words)]
    words = [f"w{i}" for i in range(n_words)]
    return [" ".join(rng.choices(words, weights, k=rng.randint(1, 12))) for _ in range(n_sentences)]


def gensim_vocabulary(sentences, min_count, max_final_vocab=None, keep=()):
    keep = set(keep)

    def rule(word, count, min_count):
        return RULE_KEEP if word in keep else RULE_DEFAULT

    model = GensimWord2Vec(vector_size=4, min_count=min_count, max_final_vocab=max_final_vocab, workers=1)
    model.build_vocab([s.split() for s in sentences], trim_rule=rule if keep else None)
    return list(model.wv.index_to_key), model.effective_min_count


# ---------------------------------------------------------------------------------- gensim side by side
@pytest.mark.parametrize("max_final_vocab", [1, 5, 17, 40, 10_000])
@pytest.mark.parametrize("min_count", [1, 3])
def test_max_final_vocab_picks_gensims_words(max_final_vocab, min_count):
    sentences = zipf_sentences(60, 400, seed=max_final_vocab)
    expected, gensim_effective = gensim_vocabulary(sentences, min_count, max_final_vocab)
    if not expected:  # gensim allows an empty vocabulary; we refuse one with a message
        with pytest.raises(CorpusError, match="min_count"):
            load_corpus(sentences, min_count=min_count, max_final_vocab=max_final_vocab)
        return
    corpus = load_corpus(sentences, min_count=min_count, max_final_vocab=max_final_vocab)
    assert corpus.tokenizer.words == expected
    assert len(expected) <= max_final_vocab
    stats = corpus.tokenizer.vocab_stats
    assert stats["max_final_vocab"] == max_final_vocab and stats["min_count"] == min_count
    assert stats["effective_min_count"] == gensim_effective
    # the tokenizer-only path decides the same
    assert (
        WordTokenizer.train(sentences, min_count=min_count, max_final_vocab=max_final_vocab).words == expected
    )


@given(
    counts=st.lists(st.integers(1, 30), min_size=1, max_size=40),
    min_count=st.integers(1, 6),
    max_final_vocab=st.one_of(st.none(), st.integers(1, 45)),
    keep=st.sets(st.integers(0, 39), max_size=6),
    seed=st.integers(0, 3),
)
def test_rule_agrees_with_gensim_on_random_counts(counts, min_count, max_final_vocab, keep, seed):
    tokens = [f"t{i}" for i, c in enumerate(counts) for _ in range(c)]
    random.Random(seed).shuffle(tokens)
    sentences = [" ".join(tokens[i : i + 7]) for i in range(0, len(tokens), 7)]
    keep_words = [f"t{i}" for i in keep]
    expected, _ = gensim_vocabulary(sentences, min_count, max_final_vocab, keep_words)
    if not expected:
        with pytest.raises(CorpusError):
            load_corpus(
                sentences, min_count=min_count, max_final_vocab=max_final_vocab, keep_words=keep_words,
                use_cache=False,
            )  # fmt: skip
        return
    corpus = load_corpus(
        sentences,
        min_count=min_count,
        max_final_vocab=max_final_vocab,
        keep_words=keep_words,
        use_cache=False,
    )
    assert corpus.tokenizer.words == expected


def test_keep_words_are_kept_like_a_trim_rule():
    sentences = zipf_sentences(80, 300, seed=1)
    corpus = load_corpus(sentences, min_count=1)
    counts = dict(zip(corpus.tokenizer.words, corpus.tokenizer.word_counts[4:].tolist()))
    rare = [w for w, c in counts.items() if c <= 5]
    assert len(rare) >= 3
    keep = rare[:3] + ["wabsent"]  # a keep word missing from the corpus adds nothing
    expected, _ = gensim_vocabulary(sentences, 10, None, keep)
    ours = load_corpus(sentences, min_count=10, keep_words=keep)
    assert ours.tokenizer.words == expected
    assert set(rare[:3]) <= set(ours.tokenizer.words) and "wabsent" not in ours.tokenizer.words
    assert ours.tokenizer.vocab_stats["keep_words"]["count"] == 4
    # max_vocab_size still cuts after the rule: the most frequent words stay
    cut = load_corpus(sentences, min_count=10, keep_words=keep, max_vocab_size=5)
    assert cut.tokenizer.words == expected[:5]


def test_effective_min_count_is_gensims_formula():
    counts = np.array([9, 7, 7, 7, 3, 1])
    assert effective_min_count(counts, 1, 2) == 8  # 7s tie at the limit: all go
    assert effective_min_count(counts, 1, 4) == 4
    assert effective_min_count(counts, 5, 6) == 5  # never lowered
    assert effective_min_count(counts, 2, None) == 2


# ---------------------------------------------------------------------------------- keep-words input
def test_keep_words_are_written_as_the_tokenizer_writes_them(tmp_path):
    assert keep_words_as_split(["Paris", "ＡＢＣ"], SPLIT) == {"paris", "abc"}  # lowercased, NFKC
    assert keep_words_as_split(["Paris"], {**SPLIT, "lowercase": False}) == {"Paris"}
    with pytest.raises(CorpusError, match=r"keep_words\[1\]: \"don't\" is 3 tokens"):
        keep_words_as_split(["fine", "don't"], SPLIT)
    with pytest.raises(CorpusError, match=r"keep_words\[0\] is a int"):
        keep_words_as_split([3], SPLIT)
    listed = tmp_path / "keep.txt"
    listed.write_text("\ufeffParis\n\n  london  \n", encoding="utf-8")
    assert keep_words_as_split(listed, SPLIT) == {"paris", "london"}
    assert keep_words_as_split(str(listed), SPLIT) == {"paris", "london"}


@pytest.mark.parametrize(
    "content, message",
    [
        (b"one\nnew york\n", "keep.txt:2: one word per line expected, found 2"),
        (b"ok\n\xff\xfe\n", "keep.txt:2: not UTF-8 text"),
    ],
)
def test_word_list_errors_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "keep.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        read_word_list(path)


def test_missing_word_list(tmp_path):
    with pytest.raises(CorpusError, match="word list .*missing.txt: No such file"):
        read_word_list(tmp_path / "missing.txt")


@given(st.binary(max_size=300))
def test_word_list_reader_fuzz(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("wl") / "words.txt"
    path.write_bytes(data)
    try:
        found = read_word_list(path)
    except CorpusError as e:
        assert str(path) in str(e)
        return
    for word, where in found:
        assert word and not any(c.isspace() for c in word) and where.startswith(f"{path}:")


@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8), max_size=10))
def test_word_list_round_trip(tmp_path_factory, words):
    words = [w for w in words if w.split() == [w] and w[0] != "\ufeff"]
    path = tmp_path_factory.mktemp("wl") / "words.txt"
    path.write_bytes(("\n".join(words) + "\n").encode("utf-8"))
    assert [w for w, _ in read_word_list(path)] == [w for w in words]


# ---------------------------------------------------------------------------------- cache, API, CLI
def test_cache_key_and_stats_follow_the_rule(isolated_corpus_cache):
    sentences = zipf_sentences(50, 300, seed=2)
    first = load_corpus(sentences, min_count=2, max_final_vocab=10)
    again = load_corpus(sentences, min_count=2, max_final_vocab=10)
    other = load_corpus(sentences, min_count=2, max_final_vocab=20)
    kept = load_corpus(sentences, min_count=2, max_final_vocab=10, keep_words=["w49"])
    assert first.cache_dir == again.cache_dir
    assert len({first.cache_dir, other.cache_dir, kept.cache_dir}) == 3
    assert len(other.tokenizer) > len(first.tokenizer)
    assert "w49" in kept.tokenizer.words and "w49" not in first.tokenizer.words
    # a plain corpus keeps the cache key it had before these options existed
    plain = load_corpus(sentences, min_count=2).tokenizer.vocab_stats
    assert "max_final_vocab" not in plain and "keep_words" not in plain


def test_api_train_and_saved_stats(tmp_path):
    corpus = write_lines(tmp_path / "c.txt", zipf_sentences(60, 400, seed=3))
    keep = tmp_path / "keep.txt"
    keep.write_text("W59\n", encoding="utf-8")
    out = tmp_path / "m"
    train(
        "word2vec", str(corpus), out, config={"vector_size": 8, "epochs": 1, "min_count": 1, "max_final_vocab": 12,
        "keep_words": str(keep)}, device="cpu", show_progress=False,
    )  # fmt: skip
    _, tok = load(out)
    stats = json.loads((out / "word_counts.json").read_text())["stats"]
    assert stats["max_final_vocab"] == 12 and stats["keep_words"]["count"] == 1
    assert "w59" in tok.words and len(tok.words) <= 13
    card = (out / "README.md").read_text()
    assert "`max_final_vocab` = 12" in card and "1 words kept whatever their count" in card


def test_fit_refuses_a_rule_the_corpus_was_not_built_with():
    from hf_embeddings.training.fit import fit

    corpus = load_corpus(zipf_sentences(30, 100, seed=4), min_count=1)
    with pytest.raises(OptionError, match="max_final_vocab is a corpus option"):
        fit("word2vec", corpus, {"max_final_vocab": 5, "vector_size": 4})
    with pytest.raises(OptionError, match="keep_words is a corpus option"):
        fit("word2vec", corpus, {"keep_words": ["w1"], "vector_size": 4})


def test_cli_max_final_vocab_and_keep_words(tmp_path, capsys):
    corpus = write_lines(tmp_path / "c.txt", zipf_sentences(60, 400, seed=5))
    keep = tmp_path / "keep.txt"
    keep.write_text("w58\nw59\n", encoding="utf-8")
    out = tmp_path / "m"
    argv = [
        "train",
        "word2vec",
        "--corpus",
        str(corpus),
        "--output-dir",
        str(out),
        "--quiet",
        "--device",
        "cpu",
    ]
    rc = main([*argv, "--epochs", "1", "--vector-size", "8", "--min-count", "1", "--max-final-vocab", "10",
               "--keep-words", str(keep)])  # fmt: skip
    assert rc == 0
    _, tok = load(out)
    sentences = corpus.read_text().splitlines()
    expected, _ = gensim_vocabulary(sentences, 1, 10, ["w58", "w59"])
    assert tok.words == expected

    keep.write_text("w58\nnew york\n", encoding="utf-8")
    rc = main([*argv, "--overwrite", "--keep-words", str(keep)])
    captured = capsys.readouterr()
    assert rc == 2 and "Traceback" not in captured.err
    assert f"{keep}:2: one word per line expected" in captured.err


def test_update_vocab_adds_keep_words_below_min_count(tmp_path):
    first = write_lines(tmp_path / "a.txt", zipf_sentences(30, 200, seed=6))
    second = write_lines(tmp_path / "b.txt", zipf_sentences(30, 200, seed=7) + ["zebra", "okapi okapi"])
    base = tmp_path / "base"
    config = {"vector_size": 8, "epochs": 1, "min_count": 3}
    train("word2vec", str(first), base, config=config, device="cpu", show_progress=False)
    out = tmp_path / "grown"
    train(
        "word2vec", str(second), out, config={"min_count": 3, "keep_words": ["Zebra"]}, init_from=base,
        update_vocab=True, device="cpu", show_progress=False,
    )  # fmt: skip
    _, tok = load(out)
    assert "zebra" in tok.words and "okapi" not in tok.words  # kept by the list / below min_count
    with pytest.raises(OptionError, match="--keep-words chooses new words"):
        train("word2vec", str(second), tmp_path / "x", config={"keep_words": ["zebra"]}, init_from=base,
              device="cpu", show_progress=False)  # fmt: skip
    with pytest.raises(OptionError, match="--max-final-vocab sizes a new vocabulary"):
        train("word2vec", str(second), tmp_path / "x", config={"max_final_vocab": 5}, init_from=base,
              update_vocab=True, device="cpu", show_progress=False)  # fmt: skip


def test_building_a_cached_vocabulary_shows_each_step(capsys):
    load_corpus(zipf_sentences(30, 200, seed=8), min_count=1, show_progress=True)
    err = capsys.readouterr().err
    assert "tokenizing" in err and "numbering by frequency" in err


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_count": 0}, "min_count must be an integer >= 1"),
        ({"max_final_vocab": 0}, "max_final_vocab must be a positive integer"),
        ({"max_vocab_size": True}, "max_vocab_size must be a positive integer"),
    ],
)
def test_bad_rule_arguments(kwargs, message):
    with pytest.raises(CorpusError, match=message):
        VocabularyRule(**kwargs)
    with pytest.raises(CorpusError, match=message):
        load_corpus(["a b"], **{"min_count": 1, **kwargs})
