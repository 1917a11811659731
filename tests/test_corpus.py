"""load_corpus: every source kind gives the same ids, sentence offsets, the on-disk token cache (hits, keys,
interrupted builds), splitting, OOV handling, a given tokenizer, and one-line errors for bad input."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import time
from collections import Counter

import datasets
import numpy as np
import pytest

import hf_embeddings.text.corpus as corpus_mod
from hf_embeddings import CorpusError, HFEmbeddingsError, WordTokenizer, load_corpus

LINES = [
    "The quick brown fox jumps over the lazy dog.",
    "The dog sleeps; the fox runs!",
    "",
    "A fox, a dog and a cat.",
    "Über-fast ﬁne cafés — “quoted” words…",
    "the end",
]
TEXT = "\n".join(LINES) + "\n"


def _reference(**kwargs):
    return load_corpus(LINES, min_count=1, use_cache=False, **kwargs)


def _assert_same(a, b):
    np.testing.assert_array_equal(np.asarray(a.ids), np.asarray(b.ids))
    np.testing.assert_array_equal(a.offsets, b.offsets)
    assert a.tokenizer.words == b.tokenizer.words
    np.testing.assert_array_equal(a.tokenizer.word_counts, b.tokenizer.word_counts)


def _raise(exc: BaseException):
    def fail(*args, **kwargs):
        raise exc

    return fail


def _cache_entries(root) -> list[str]:
    return sorted(os.listdir(root)) if os.path.isdir(root) else []


# ------------------------------------------------------------------------------------------- sources
def test_list_of_strings_ids_offsets_and_counts():
    c = _reference()
    tok = c.tokenizer
    words_per_line = [tok.pre_tokenize(line) for line in LINES]
    assert len(c) == len(LINES) == 6
    assert c.lengths.tolist() == [len(w) for w in words_per_line] == [10, 8, 0, 9, 13, 2]
    assert c.offsets.tolist() == [0, 10, 18, 18, 27, 40, 42]
    assert c.num_tokens == 42 and c.ids.dtype == np.int32 and len(c.ids) == 42
    for i, words in enumerate(words_per_line):
        assert c.decode(i) == words
        assert c.sentence(i).tolist() == tok.convert_tokens_to_ids(words)
    assert [s.tolist() for s in c.iter_sentences()] == [c.sentence(i).tolist() for i in range(len(c))]
    assert c.sentence_ids().tolist() == [i for i, n in enumerate(c.lengths) for _ in range(n)]
    # NFKC: the ligature becomes "fi", the ellipsis three full stops
    assert c.decode(4) == [
        "über",
        "-",
        "fast",
        "fine",
        "cafés",
        "—",
        "“",
        "quoted",
        "”",
        "words",
        ".",
        ".",
        ".",
    ]

    counts = Counter(w for ws in words_per_line for w in ws)
    # ".", "the": 5 each; a, dog, fox: 3 each; ties in reverse order of first appearance (gensim)
    assert tok.words[:5] == [".", "the", "a", "dog", "fox"]
    assert {w: int(tok.word_counts[i]) for i, w in enumerate(tok.words, start=4)} == dict(counts)
    assert c.stats["total_words"] == 42 and c.stats["num_sentences"] == 6
    assert c.cache_dir is None


def test_every_source_kind_gives_the_same_corpus(tmp_path):
    ref = _reference()
    (tmp_path / "plain.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "c.txt.gz").write_bytes(gzip.compress(TEXT.encode(), mtime=0))
    (tmp_path / "c.txt.bz2").write_bytes(bz2.compress(TEXT.encode()))
    (tmp_path / "c.txt.xz").write_bytes(lzma.compress(TEXT.encode()))
    folder = tmp_path / "folder"  # files are read in sorted path order, whatever order they were made in
    (folder / "b_sub").mkdir(parents=True)
    (folder / "c_last.txt").write_text("\n".join(LINES[4:]), encoding="utf-8")  # no final newline
    (folder / "b_sub" / "part.gz").write_bytes(gzip.compress(("\n".join(LINES[2:4]) + "\n").encode()))
    (folder / "a_first.txt").write_text("\n".join(LINES[:2]) + "\n", encoding="utf-8")
    (folder / ".hidden.txt").write_text("hidden words must not count\n", encoding="utf-8")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")

    sources = {
        "txt": tmp_path / "plain.txt",
        "txt-str": str(tmp_path / "plain.txt"),
        "gz": tmp_path / "c.txt.gz",
        "bz2": tmp_path / "c.txt.bz2",
        "xz": tmp_path / "c.txt.xz",
        "folder": folder,
        "folder-str": str(folder),
        "one-string": [TEXT],  # one string of many lines = many sentences
        "generator": (line for line in LINES),
        "dataset": datasets.Dataset.from_dict({"text": LINES, "id": list(range(len(LINES)))}),
        "dataset-other-name": datasets.Dataset.from_dict({"body": LINES, "n": [1.0] * len(LINES)}),
        "dataset-dict": datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": LINES})}),
        "iterable": datasets.Dataset.from_dict({"text": LINES}).to_iterable_dataset(),
    }
    for name, src in sources.items():
        got = load_corpus(src, min_count=1)
        try:
            _assert_same(got, ref)
        except AssertionError as e:
            raise AssertionError(f"source {name!r} differs") from e

    two = datasets.Dataset.from_dict({"title": ["x y z"] * len(LINES), "body": LINES})
    _assert_same(load_corpus(two, text_column="body", min_count=1), ref)
    assert load_corpus(two, text_column="title", min_count=1).tokenizer.words == ["z", "y", "x"]
    with pytest.raises(
        CorpusError, match=r"cannot tell which dataset column holds the text.*'title', 'body'"
    ):
        load_corpus(two, min_count=1)
    with pytest.raises(CorpusError, match="dataset has no column 'nope'"):
        load_corpus(two, text_column="nope", min_count=1)
    with pytest.raises(CorpusError, match="no 'train' split"):
        load_corpus(datasets.DatasetDict({"test": two}), min_count=1)


def test_dataset_text_column_is_part_of_the_cache_key():
    ds = datasets.Dataset.from_dict({"a": ["x y z", "x y"], "b": ["p q", "q r s"]})
    first = load_corpus(ds, text_column="a", min_count=1)
    second = load_corpus(ds, text_column="b", min_count=1)
    assert first.tokenizer.words == ["y", "x", "z"]
    assert second.tokenizer.words == ["q", "s", "r", "p"]
    assert first.cache_dir != second.cache_dir


def test_lines_split_at_newline_only(tmp_path):
    # form feed, NEL, LINE SEPARATOR and \x1c-\x1e are whitespace inside a line, not sentence breaks
    # (str.splitlines() would break there); \r\n endings give the same sentences as \n
    path = tmp_path / "odd.txt"
    path.write_bytes("one\x0ctwo three\r\nfour\x85five\u2028six\nseven\x1ceight\n\n".encode())
    c = load_corpus(path, min_count=1)
    assert len(c) == 4
    assert c.lengths.tolist() == [3, 3, 1, 0]
    assert c.decode(0) == ["one", "two", "three"]
    assert c.decode(2) == ["seven\x1ceight"]
    same = load_corpus(["one two three", "four five six", "seven\x1ceight", ""], min_count=1, use_cache=False)
    np.testing.assert_array_equal(c.offsets, same.offsets)
    assert [c.decode(i) for i in range(4)] == [same.decode(i) for i in range(4)]


@pytest.mark.parametrize("given_tokenizer", [False, True])
def test_a_line_longer_than_a_batch_is_streamed_in_pieces(tmp_path, monkeypatch, given_tokenizer):
    # text8 is one 100 MB line: it is cut at whitespace into batch-sized pieces that are never held whole,
    # and the pieces are joined back into one sentence
    rng = np.random.default_rng(0)
    vocab = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    long_line = " ".join(rng.choice(vocab, 400).tolist())
    text = (
        f"first line here\n{long_line}\tlast  words\nshort one\n{long_line}"  # the last line has no newline
    )
    path = tmp_path / "text8-like.txt"
    path.write_text(text)
    tok = load_corpus(path, min_count=1, use_cache=False).tokenizer if given_tokenizer else None
    whole = load_corpus(path, min_count=1, use_cache=False, tokenizer=tok)
    pieces = []
    real = corpus_mod._file_batches

    def spy(files, progress):
        for batch in real(files, progress):
            pieces.append((type(batch), [len(line) for line in batch]))
            yield batch

    monkeypatch.setattr(corpus_mod, "_BATCH_BYTES", 64)
    monkeypatch.setattr(corpus_mod, "_file_batches", spy)
    cut = load_corpus(path, min_count=1, use_cache=False, tokenizer=tok)
    assert sum(kind is corpus_mod._ContinuedLines for kind, _ in pieces) > 20  # the long lines were cut
    assert max(n for _, lengths in pieces for n in lengths) < 2 * 64 + 16  # and no piece is much longer
    assert cut.lengths.tolist() == [3, 402, 2, 400] == whole.lengths.tolist()
    np.testing.assert_array_equal(np.asarray(cut.ids), np.asarray(whole.ids))
    assert cut.tokenizer.get_vocab() == whole.tokenizer.get_vocab()
    assert cut.decode(1) == long_line.split() + ["last", "words"]


def test_a_cut_line_ending_a_file_does_not_run_into_the_next_file(tmp_path, monkeypatch):
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "a.txt").write_text("x " * 100)  # no newline; ends with the space the cut would use
    (folder / "b.txt").write_text("y z\n")
    monkeypatch.setattr(corpus_mod, "_BATCH_BYTES", 200)
    c = load_corpus(folder, min_count=1, use_cache=False)
    assert c.lengths.tolist() == [100, 2]


def test_bad_byte_in_a_cut_long_line_names_its_line_and_column(tmp_path, monkeypatch):
    path = tmp_path / "long.txt"
    path.write_bytes(b"ok\n" + b"word " * 100 + b"caf\xe9 x\n")
    monkeypatch.setattr(corpus_mod, "_BATCH_BYTES", 64)
    with pytest.raises(CorpusError, match=r"line 2: not valid UTF-8 \(byte 0xe9 at column 504\)"):
        load_corpus(path, min_count=1, use_cache=False)


def test_default_corpus():
    c = load_corpus(None)
    assert c.num_tokens >= 400_000
    assert len(c) > 10_000
    tok = c.tokenizer
    assert len(tok) > 5_000
    assert tok.words[:3] == ["the", "of", "and"]
    assert tok.word_counts[4] > tok.word_counts[5] > tok.word_counts[6] > 10_000
    assert tok.word_counts[4:].min() >= 5  # default min_count
    assert int(tok.word_counts.sum()) == c.num_tokens
    assert c.stats["distinct_words"] > len(tok.words)
    assert c.cache_dir is not None
    again = load_corpus("default")
    assert again.cache_dir == c.cache_dir
    _assert_same(again, c)


# ---------------------------------------------------------------------------------------------- cache
def test_second_load_is_served_from_the_cache(tmp_path, isolated_corpus_cache, monkeypatch):
    path = tmp_path / "c.txt"
    path.write_text(TEXT, encoding="utf-8")
    first = load_corpus(path, min_count=1)
    assert first.cache_dir is not None and first.cache_dir.parent == isolated_corpus_cache
    assert sorted(p.name for p in first.cache_dir.iterdir()) == [
        "ids.bin",
        "meta.json",
        "offsets.npy",
        "tokenizer",
    ]
    assert os.path.getsize(first.cache_dir / "ids.bin") == 42 * 4
    assert _cache_entries(isolated_corpus_cache) == [first.cache_dir.name]  # no temporary leftovers
    _assert_same(first, _reference())

    def no_tokenizing(*args, **kwargs):
        raise AssertionError("re-tokenized although the cache holds this corpus")

    monkeypatch.setattr(corpus_mod, "_encode_pass", no_tokenizing)
    second = load_corpus(path, min_count=1)
    assert second.cache_dir == first.cache_dir
    assert isinstance(second.ids, np.memmap)
    _assert_same(second, first)
    assert second.stats == first.stats


def test_cache_key_follows_the_file_and_the_options(tmp_path, isolated_corpus_cache):
    path = tmp_path / "c.txt"
    path.write_text(TEXT, encoding="utf-8")
    base = load_corpus(path, min_count=1)
    assert load_corpus(path, min_count=1).cache_dir == base.cache_dir
    variants = [
        load_corpus(path, min_count=2),
        load_corpus(path, min_count=1, max_vocab_size=5),
        load_corpus(path, min_count=1, lowercase=False),
        load_corpus(path, min_count=1, unicode_normalization="NFC"),
        load_corpus(path, min_count=1, split_punctuation=False),
        load_corpus(path, tokenizer=base.tokenizer),
    ]
    dirs = {base.cache_dir, *(v.cache_dir for v in variants)}
    assert len(dirs) == 7
    assert "The" in variants[2].tokenizer.words and "the" in variants[2].tokenizer.words
    assert len(variants[1].tokenizer.words) == 5

    path.write_text(TEXT + "zebra zebra\n", encoding="utf-8")
    changed = load_corpus(path, min_count=1)
    assert changed.cache_dir != base.cache_dir
    assert len(changed) == len(LINES) + 1 and "zebra" in changed.tokenizer.words
    assert len(_cache_entries(isolated_corpus_cache)) == 8

    other = tmp_path / "explicit-cache"
    explicit = load_corpus(path, min_count=1, cache_dir=other)
    assert explicit.cache_dir.parent == other
    _assert_same(explicit, changed)

    uncached = load_corpus(path, min_count=3, use_cache=False)
    assert uncached.cache_dir is None
    assert len(_cache_entries(isolated_corpus_cache)) == 8


def test_given_tokenizer_is_served_from_the_cache_too(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(TEXT, encoding="utf-8")
    tok = WordTokenizer.from_vocabulary(["fox", "dog", "the"])
    a = load_corpus(path, tokenizer=tok)
    b = load_corpus(path, tokenizer=tok)
    assert a.tokenizer is tok and b.tokenizer is tok and a.cache_dir == b.cache_dir
    np.testing.assert_array_equal(a.ids, b.ids)


def _count_builds(monkeypatch) -> list[int]:
    calls = []
    real = corpus_mod._encode_pass

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(corpus_mod, "_encode_pass", counting)
    return calls


@pytest.mark.parametrize("where", ["mid-tokenizing", "vocabulary", "saving"])
def test_interrupted_build_leaves_no_cache_entry(tmp_path, isolated_corpus_cache, monkeypatch, where):
    path = tmp_path / "c.txt"
    path.write_text(TEXT * 50, encoding="utf-8")
    monkeypatch.setattr(corpus_mod, "_BATCH_BYTES", 200)  # many batches
    with monkeypatch.context() as m:
        if where == "mid-tokenizing":
            real_add, seen = corpus_mod._IdSink.add, []

            def add(self, *args):
                seen.append(1)
                if len(seen) == 5:
                    raise KeyboardInterrupt
                real_add(self, *args)

            m.setattr(corpus_mod._IdSink, "add", add)
        elif where == "vocabulary":
            m.setattr(corpus_mod, "finalize_vocabulary", _raise(RuntimeError("boom")))
        else:  # disk full while finishing the offsets
            m.setattr(corpus_mod._IdSink, "finish", _raise(OSError(28, "No space left on device")))
        with pytest.raises((KeyboardInterrupt, RuntimeError, OSError)):
            load_corpus(path, min_count=1)
        assert _cache_entries(isolated_corpus_cache) == []  # neither a key folder nor a temporary one

    calls = _count_builds(monkeypatch)
    good = load_corpus(path, min_count=1)
    assert calls == [1]
    _assert_same(good, load_corpus(path, min_count=1, use_cache=False))
    assert len(good) == 50 * len(LINES)


@pytest.mark.parametrize(
    "damage",
    ["no-meta", "no-ids", "short-ids", "no-tokenizer", "bad-meta", "ids-out-of-range", "negative-id",
     "long-ids", "bad-offsets", "renamed-token"],
)  # fmt: skip
def test_damaged_cache_entry_is_rebuilt(tmp_path, monkeypatch, damage):
    path = tmp_path / "c.txt"
    path.write_text(TEXT, encoding="utf-8")
    first = load_corpus(path, min_count=1)
    folder = first.cache_dir
    del first
    if damage == "no-meta":  # what a build killed before its last step would look like
        (folder / "meta.json").unlink()
    elif damage == "no-ids":
        (folder / "ids.bin").unlink()
    elif damage == "short-ids":
        (folder / "ids.bin").write_bytes(b"\0" * 8)
    elif damage == "no-tokenizer":
        (folder / "tokenizer" / "tokenizer.json").unlink()
    elif damage in ("ids-out-of-range", "negative-id"):  # same size: a flipped bit, an edited cache
        ids = np.fromfile(folder / "ids.bin", dtype=np.int32)
        ids[len(ids) // 2] = 10**6 if damage == "ids-out-of-range" else -5
        ids.tofile(folder / "ids.bin")
    elif damage == "long-ids":
        with open(folder / "ids.bin", "ab") as f:
            f.write(b"\0" * 4)
    elif damage == "renamed-token":  # still valid JSON and ids: found by the cache fuzz test
        spec = folder / "tokenizer" / "tokenizer.json"
        spec.write_text(spec.read_text(encoding="utf-8").replace('"<pad>"', '"< ad>"'), encoding="utf-8")
    elif damage == "bad-offsets":
        offsets = np.load(folder / "offsets.npy")
        offsets[1], offsets[2] = offsets[2], offsets[1]
        np.save(folder / "offsets.npy", offsets)
    else:
        (folder / "meta.json").write_text("{not json")
    reference = _reference()
    calls = _count_builds(monkeypatch)
    again = load_corpus(path, min_count=1)
    assert calls == [1]  # rebuilt, not trusted
    assert again.cache_dir == folder
    _assert_same(again, reference)
    assert load_corpus(path, min_count=1).cache_dir == folder
    assert calls == [1]  # the repaired entry is used from then on


def test_an_edit_that_keeps_size_and_mtime_is_not_served_stale(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("cat dog\nbird fish\n", encoding="utf-8")
    st = path.stat()
    first = load_corpus(path, min_count=1)
    path.write_text("dog cat\nfish bird\n", encoding="utf-8")  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    again = load_corpus(path, min_count=1)
    assert again.cache_dir != first.cache_dir
    assert again.decode(0) == ["dog", "cat"] and again.decode(1) == ["fish", "bird"]


def test_a_byte_order_mark_is_not_part_of_the_first_word(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfcat dog\ncat\n")
    corpus = load_corpus(path, min_count=1, use_cache=False)
    assert corpus.decode(0) == ["cat", "dog"] and "\ufeffcat" not in corpus.tokenizer.get_vocab()


def test_an_empty_corpus_name_is_refused_not_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "other.txt").write_text("not meant as a corpus\n")
    for name in ("", "  "):
        with pytest.raises(CorpusError, match="empty name"):
            load_corpus(name, min_count=1)


def test_a_run_without_whitespace_is_refused_in_bounded_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "_BATCH_BYTES", 1024)
    monkeypatch.setattr(corpus_mod, "MAX_WORD_BYTES", 4096)
    path = tmp_path / "blob.txt.gz"
    with gzip.open(path, "wb") as f:  # small on disk, one huge "word" once decompressed
        f.write(b"ok line\n" + b"x" * 200_000 + b"\n")
    with pytest.raises(CorpusError, match=r"line 2: no space or tab in [\d,]+ bytes"):
        load_corpus(path, min_count=1, use_cache=False)


# ----------------------------------------------------------------------------------- split / OOV / tok
def test_split_partitions_sentences():
    lines = [f"s{i} " + " ".join(["w"] * (i % 5)) for i in range(101)]
    c = load_corpus(lines, min_count=1, use_cache=False)
    parts = c.split((0.6, 0.3, 0.1), seed=7)
    assert [len(p) for p in parts] == [61, 30, 10]  # round(cumsum * 101) boundaries
    keys = [[p.decode(i)[0] for i in range(len(p))] for p in parts]
    flat = [k for ks in keys for k in ks]
    assert len(flat) == len(set(flat)) == 101  # disjoint, and every sentence somewhere
    for p, ks in zip(parts, keys):
        assert ks == sorted(ks, key=lambda s: int(s[1:]))  # corpus order kept inside a part
        assert p.tokenizer is c.tokenizer and p.num_tokens == int(p.lengths.sum())
        for i, k in enumerate(ks):
            np.testing.assert_array_equal(p.sentence(i), c.sentence(int(k[1:])))
    assert sum(p.num_tokens for p in parts) == c.num_tokens
    again = c.split((0.6, 0.3, 0.1), seed=7)
    assert all(np.array_equal(a.ids, b.ids) for a, b in zip(parts, again))
    other = c.split((0.6, 0.3, 0.1), seed=8)
    assert not np.array_equal(other[0].ids, parts[0].ids)
    half, empty = c.split((0.5, 0.0))
    assert len(half) == 50 and len(empty) == 0 and empty.num_tokens == 0
    for bad in [(), (0.7, 0.5), (-0.1, 0.5)]:
        with pytest.raises(CorpusError, match="split fractions"):
            c.split(bad)


def test_oov_words_map_to_unk():
    c = load_corpus(["a a b", "a b c d", "e"], min_count=2, use_cache=False)
    assert c.tokenizer.words == ["a", "b"]
    assert c.ids.tolist() == [4, 4, 5, 4, 5, 0, 0, 0]
    assert c.lengths.tolist() == [3, 4, 1]  # positions kept
    assert c.tokenizer.word_counts.tolist() == [3, 0, 0, 0, 3, 2]
    assert c.decode(1) == ["a", "b", "<unk>", "<unk>"]


def test_given_tokenizer_ids_use_its_vocabulary():
    tok = load_corpus(["zeta alpha alpha", "beta"], min_count=1, use_cache=False).tokenizer
    assert tok.words == ["alpha", "beta", "zeta"]
    c = load_corpus(["Beta gamma ZETA", "alpha, alpha"], tokenizer=tok, use_cache=False)
    assert c.tokenizer is tok
    assert c.ids.tolist() == [5, 0, 6, 4, 0, 4]
    for i, line in enumerate(["Beta gamma ZETA", "alpha, alpha"]):
        assert c.sentence(i).tolist() == tok(line)["input_ids"]
    with pytest.raises(CorpusError, match="is empty"):
        load_corpus(["", "  "], tokenizer=tok, use_cache=False)


def test_words_spelled_like_special_tokens_are_those_tokens():
    # pre-tokenized corpora (PTB) contain "<unk>" and "</s>" as words
    lines = ["the <unk> sat </s>", "a <unk> dog the"]
    c = load_corpus(lines, min_count=1, split_punctuation=False, use_cache=False)
    tok = c.tokenizer
    assert tok.words == ["the", "dog", "a", "sat"]
    assert c.ids.tolist() == [4, 0, 7, 3, 6, 0, 5, 4]
    assert tok.word_counts[0] == 2
    for i, line in enumerate(lines):
        assert c.sentence(i).tolist() == tok(line)["input_ids"]
    np.testing.assert_array_equal(load_corpus(lines, tokenizer=tok, use_cache=False).ids, c.ids)


# --------------------------------------------------------------------------------------------- errors
def test_missing_unreadable_and_empty_sources(tmp_path):
    with pytest.raises(CorpusError, match=r"corpus not found: .*missing\.txt"):
        load_corpus(tmp_path / "missing.txt")
    with pytest.raises(CorpusError, match="corpus not found"):
        load_corpus(str(tmp_path / "missing-folder" / "x"))
    (tmp_path / "empty-folder").mkdir()
    with pytest.raises(CorpusError, match="contains no files"):
        load_corpus(tmp_path / "empty-folder")
    (tmp_path / "blank.txt").write_text("\n   \n\t\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"blank\.txt is empty: no words found"):
        load_corpus(tmp_path / "blank.txt", min_count=1)
    (tmp_path / "zero.txt").write_bytes(b"")
    with pytest.raises(CorpusError, match="is empty"):
        load_corpus(tmp_path / "zero.txt", min_count=1)
    with pytest.raises(CorpusError, match="is empty"):
        load_corpus([], min_count=1)
    with pytest.raises(CorpusError, match="corpus item 1 is a int, expected str"):
        load_corpus(["ok", 3])
    with pytest.raises(CorpusError, match="unsupported corpus type int"):
        load_corpus(42)


def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("some words here\n", encoding="utf-8")
    path.chmod(0)
    try:
        try:
            path.read_bytes()
        except PermissionError:
            pass
        else:
            pytest.skip("running as a user who can read mode-000 files (root)")
        with pytest.raises(CorpusError, match=r"secret\.txt"):
            load_corpus(path, min_count=1)
    finally:
        path.chmod(0o644)


def test_no_word_reaches_min_count(tmp_path):
    path = tmp_path / "rare.txt"
    path.write_text("fox dog fox cat fox\ndog\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_corpus(path, min_count=5)
    msg = str(info.value)
    assert "min_count=5" in msg and "'fox', occurs 3 times" in msg and "3 distinct words" in msg
    assert "rare.txt" in msg


@pytest.mark.parametrize("kind", ["txt", "gz", "late-batch"])
def test_non_utf8_names_file_and_line(tmp_path, monkeypatch, kind):
    good = "".join(f"good line {i}\n" for i in range(40))
    data = good.encode() + b"caf\xe9 latin-1 here\n" + b"more\n"
    if kind == "gz":
        path = tmp_path / "bad.txt.gz"
        path.write_bytes(gzip.compress(data, mtime=0))
    else:
        path = tmp_path / "bad.txt"
        path.write_bytes(data)
    if kind == "late-batch":
        monkeypatch.setattr(corpus_mod, "_BATCH_BYTES", 50)  # the bad line is in a later batch
    with pytest.raises(CorpusError) as info:
        load_corpus(path, min_count=1)
    msg = str(info.value)
    assert str(path) in msg and "line 41" in msg and "not valid UTF-8" in msg and "0xe9" in msg


@pytest.mark.parametrize("damage", ["crc", "deflate", "truncated", "not-gzip"])
def test_corrupt_gzip(tmp_path, damage):
    raw = bytearray(gzip.compress(TEXT.encode() * 20, mtime=0))
    if damage == "crc":
        raw[-8] ^= 0xFF
    elif damage == "deflate":
        raw[10] = 0xFF  # first byte of the deflate stream: invalid block type (zlib.error)
    elif damage == "truncated":
        raw = raw[: len(raw) // 2]
    else:
        raw = bytearray(b"plain text, not gzip\n")
    path = tmp_path / "broken.gz"
    path.write_bytes(bytes(raw))
    with pytest.raises(CorpusError, match=r"cannot read corpus file .*broken\.gz"):
        load_corpus(path, min_count=1)


@pytest.mark.parametrize("kind", ["bz2", "xz"])
def test_corrupt_bz2_xz(tmp_path, kind):
    raw = bytearray(bz2.compress(TEXT.encode() * 20) if kind == "bz2" else lzma.compress(TEXT.encode() * 20))
    for i in range(len(raw) // 2, len(raw) // 2 + 16):
        raw[i] ^= 0xFF
    path = tmp_path / f"broken.{kind}"
    path.write_bytes(bytes(raw))
    with pytest.raises(CorpusError, match=rf"cannot read corpus file .*broken\.{kind}"):
        load_corpus(path, min_count=1)


def test_bad_options():
    for bad in (0, -1, 2.5, "5"):
        with pytest.raises(CorpusError, match="min_count must be an integer >= 1"):
            load_corpus(LINES, min_count=bad)
    with pytest.raises(CorpusError, match="max_vocab_size must be a positive integer"):
        load_corpus(LINES, max_vocab_size=0)
    with pytest.raises(HFEmbeddingsError, match="unicode_normalization must be one of"):
        load_corpus(LINES, unicode_normalization="nfkc")


def test_hub_dataset_offline_fails_fast(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    for name in ("someuser/no-such-corpus-hfe", "no-such-corpus-hfe"):  # "owner/name" is a Hub id, not a path
        t0 = time.perf_counter()
        with pytest.raises(CorpusError) as info:
            load_corpus(name, min_count=1)
        assert time.perf_counter() - t0 < 15  # no network retries
        msg = str(info.value)
        assert f"cannot load Hub dataset {name!r}" in msg and "HF_HUB_OFFLINE" in msg
        assert "\n" not in msg


def test_path_like_strings_are_not_hub_ids(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("corpus.txt", "data/corpus.txt.gz", "./corpus", "a/b/c", "~/corpus"):
        with pytest.raises(CorpusError, match="corpus not found"):
            load_corpus(name)


def test_held_out_split():
    corpus = load_corpus([f"line {i} words here" for i in range(40)], min_count=1, use_cache=False)
    same, none = corpus.held_out(0.0)
    assert same is corpus and none is None
    train, held = corpus.held_out(0.25, seed=3)
    assert len(train) == 30 and len(held) == 10
    lines = sorted(tuple(p.decode(i)) for p in (train, held) for i in range(len(p)))
    assert lines == sorted(tuple(corpus.decode(i)) for i in range(len(corpus)))  # disjoint, complete
    again = corpus.held_out(0.25, seed=3)[1]
    assert [again.decode(i) for i in range(len(again))] == [held.decode(i) for i in range(len(held))]
