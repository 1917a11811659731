"""Bounded-memory data paths (issue 17): each new construction equals the whole-corpus one it replaces.

The corpus is read through `ArrayReader` / `SentenceIndex`, shuffles are `SeededPermutation`s, split parts
share their parent's ids, and batches are cut per item from the token cache; these tests compare them
with the reference constructions over whole arrays on small corpora (memory itself is measured by
bench/scale.py, never here).
"""

from __future__ import annotations

import pickle

import datasets
import numpy as np
import pytest
import torch

import hf_embeddings.models.word2vec.data_word2vec as w2v_data
import hf_embeddings.text.corpus as corpus_mod
from hf_embeddings.models.elmo.data_elmo import SentenceBatches, sentence_spans
from hf_embeddings.models.glove.cooccurrence import count_cooccurrences
from hf_embeddings.models.nnlm.data_nnlm import NGramBatches, ngram_windows
from hf_embeddings.models.word2vec.data_word2vec import Word2VecBatches, Word2VecSpans, _split_long_sentences
from hf_embeddings.text.corpus import (
    ArrayReader,
    CorpusPart,
    SeededPermutation,
    SentenceIndex,
    TokenizedCorpus,
    load_corpus,
)


def _zipf_lines(n: int, seed: int = 0, max_len: int = 40, vocab: int = 2000) -> list[str]:
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocab + 1)
    p /= p.sum()
    words = np.array([f"w{i}" for i in range(vocab)])
    return [" ".join(words[rng.choice(vocab, size=rng.integers(0, max_len), p=p)]) for _ in range(n)]


@pytest.fixture(scope="module")
def lines() -> list[str]:
    out = _zipf_lines(1500)
    out[7] = " ".join(_zipf_lines(1, seed=9, max_len=600)[0].split()[:500] or ["w1"])  # one long line
    return out


@pytest.fixture(params=["memory", "cache"])
def corpus(request, lines, tmp_path) -> TokenizedCorpus:
    """The same corpus in memory and as a memory-mapped cache (ArrayReader's two paths)."""
    if request.param == "memory":
        return load_corpus(lines, min_count=3, use_cache=False)
    c = load_corpus(lines, min_count=3, cache_dir=tmp_path)
    assert isinstance(c.ids, np.memmap) and isinstance(c.offsets, np.memmap)
    return c


# ------------------------------------------------------------------------------------------- primitives
@pytest.mark.parametrize("n", [1, 2, 3, 5, 16, 17, 1000, 65537])
def test_seeded_permutation_is_a_bijection(n):
    k = np.arange(n)
    for seed in (0, 1, [3, 4]):
        p = SeededPermutation(n, seed)(k)
        assert p.dtype == np.int64 and np.array_equal(np.sort(p), k)
        assert np.array_equal(SeededPermutation(n, seed)(k), p)  # a function of the seed alone
    if n >= 16:
        assert not np.array_equal(SeededPermutation(n, 0)(k), SeededPermutation(n, 1)(k))
    assert int(SeededPermutation(n, 5)(n - 1)) == SeededPermutation(n, 5)(k)[-1]  # pointwise
    with pytest.raises(IndexError):
        SeededPermutation(n, 0)(np.array([n]))


def test_array_reader_reads_like_slicing(tmp_path):
    data = np.arange(10_000, dtype=np.int32) * 7 - 5
    path = tmp_path / "a.bin"
    data.tofile(path)
    whole = np.memmap(path, dtype=np.int32, mode="r")
    for array, expected in ((whole, data), (whole[123:4567], data[123:4567]), (data, data)):
        reader = ArrayReader(array)
        assert reader.file_backed == isinstance(array, np.memmap)
        np.testing.assert_array_equal(reader.read(10, 300), expected[10:300])
        np.testing.assert_array_equal(reader.read(-5, 10**9), expected)  # clipped
        idx = np.array([[0, 5], [len(expected) - 1, 17]])
        np.testing.assert_array_equal(reader.take(idx), expected[idx])
        far = np.random.default_rng(0).integers(0, len(expected), 300)  # runs merged and apart
        np.testing.assert_array_equal(reader.take(far), expected[far])
        starts = np.array([len(expected) - 3, 0, 17, 2000, 17])  # past the end: the last element again
        rows = np.minimum(starts[:, None] + np.arange(6), len(expected) - 1)
        np.testing.assert_array_equal(reader.rows(starts, 6), expected[rows])
        np.testing.assert_array_equal(np.concatenate([c for _, c in reader.chunks(999)]), expected)
        again = pickle.loads(pickle.dumps(reader))  # a DataLoader worker's copy reopens the file
        np.testing.assert_array_equal(again.take(idx), expected[idx])


def test_sentence_index_locates_every_unit(corpus):
    offsets = np.asarray(corpus.offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    units = np.where(lengths > 0, lengths + 1, 0)
    index = SentenceIndex(corpus, lambda n: np.where(n > 0, n + 1, 0), block=8)
    assert index.total == units.sum() and index.num_tokens == lengths.sum()
    assert index.max_length == lengths.max()
    k = np.arange(index.total)
    rows, rank, start, length = index.locate(k)
    expected_rows = np.repeat(np.arange(len(lengths)), units)
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_array_equal(rank, k - np.repeat(np.cumsum(units) - units, units))
    np.testing.assert_array_equal(start, offsets[expected_rows])
    np.testing.assert_array_equal(length, lengths[expected_rows])
    listed = np.concatenate([r for r, _, _ in index.sentences(chunk=100)])
    np.testing.assert_array_equal(listed, np.flatnonzero(units))


# ------------------------------------------------------------------------------------------ load_corpus
def test_vocabulary_and_ids_do_not_depend_on_batching(lines, tmp_path, monkeypatch):
    text = tmp_path / "c.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    whole = load_corpus(text, min_count=2, use_cache=False)
    monkeypatch.setattr(corpus_mod, "_BATCH_BYTES", 300)  # hundreds of batches, words merged batch by batch
    for cached in (
        load_corpus(text, min_count=2, cache_dir=tmp_path / "cache"),
        load_corpus(text, min_count=2, use_cache=False),
    ):
        assert cached.tokenizer.words == whole.tokenizer.words
        np.testing.assert_array_equal(cached.tokenizer.word_counts, whole.tokenizer.word_counts)
        np.testing.assert_array_equal(cached.ids, whole.ids)
        np.testing.assert_array_equal(cached.offsets, whole.offsets)
        assert cached.stats["distinct_words"] == whole.stats["distinct_words"]
    # the offsets written line by line are an ordinary .npy file
    folder = next(p for p in (tmp_path / "cache").iterdir() if (p / "offsets.npy").is_file())
    np.testing.assert_array_equal(np.load(folder / "offsets.npy"), whole.offsets)


def test_streaming_dataset_picks_text_column_and_is_cached(lines, tmp_path, monkeypatch):
    path = tmp_path / "d.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    builds = []
    real = corpus_mod._encode_pass
    monkeypatch.setattr(corpus_mod, "_encode_pass", lambda *a, **k: builds.append(1) or real(*a, **k))
    stream = datasets.load_dataset("text", data_files=str(path), split="train", streaming=True)
    assert stream.features is None
    reference = load_corpus(lines, min_count=3, use_cache=False)
    first = load_corpus(stream, min_count=3)
    second = load_corpus(stream, min_count=3)
    assert builds == [1, 1] and first.cache_dir is not None and second.cache_dir == first.cache_dir
    np.testing.assert_array_equal(second.ids, reference.ids)
    assert second.tokenizer.words == reference.tokenizer.words
    # a stream with no files behind it is read every time, its only string column found from a row
    rows = [{"n": i, "body": line} for i, line in enumerate(lines)]
    generated = datasets.IterableDataset.from_generator(lambda: iter(rows))
    assert generated.features is None
    c = load_corpus(generated, min_count=3)
    assert c.cache_dir is None and builds == [1, 1, 1]
    np.testing.assert_array_equal(c.ids, reference.ids)


# ------------------------------------------------------------------------------------------ split parts
def test_split_parts_share_the_parent_ids(corpus):
    train, held = corpus.held_out(0.2, seed=5)
    assert isinstance(train, CorpusPart) and train.subset_of()[0] is corpus
    assert train.num_tokens + held.num_tokens == corpus.num_tokens
    assert train._arrays is None and held._arrays is None  # counted without gathering anything
    rows = [np.flatnonzero(p.contains(np.arange(len(corpus)))) for p in (train, held)]
    assert len(rows[0]) == len(train) and len(rows[1]) == len(held)
    assert not set(rows[0]) & set(rows[1]) and len(rows[0]) + len(rows[1]) == len(corpus)
    for part, r in zip((train, held), rows):
        np.testing.assert_array_equal(part.ids, np.concatenate([corpus.sentence(int(i)) for i in r]))
        np.testing.assert_array_equal(part.lengths, np.diff(np.asarray(corpus.offsets))[r])


# ---------------------------------------------------------------------------------------------- word2vec
@pytest.mark.parametrize("max_sentence_length", [10000, 45])
def test_word2vec_spans_equal_the_whole_corpus_construction(corpus, monkeypatch, max_sentence_length):
    monkeypatch.setattr(w2v_data, "RAW_BLOCK", 64)  # spans start and end inside blocks
    ids = np.asarray(corpus.ids)
    keep = ids >= corpus.tokenizer.num_special_tokens
    ref_ids, ref_sent = ids[keep], corpus.sentence_ids()[keep]
    split = int(corpus.lengths.max()) > max_sentence_length
    if split:
        ref_sent = _split_long_sentences(ref_sent, max_sentence_length)
    for words in (37, 1000, 10**6):
        ds = Word2VecSpans(corpus, architecture="skipgram", window=5, negative=5, sample=1e-3,
                           ns_exponent=0.75, max_sentence_length=max_sentence_length,
                           words_per_batch=words)  # fmt: skip
        assert ds.num_words == len(ref_ids) and len(ds) == -(-len(ref_ids) // words)
        for k in range(len(ds)):
            item = ds[k]
            lo = k * words
            np.testing.assert_array_equal(item["tokens"].numpy(), ref_ids[lo : lo + words])
            got, want = item["sentence_ids"].numpy(), ref_sent[lo : lo + words]
            if split:  # labels numbered within the span: the same changes
                np.testing.assert_array_equal(got[1:] != got[:-1], want[1:] != want[:-1])
            else:
                np.testing.assert_array_equal(got, want)


def test_word2vec_tensor_batches_are_a_function_of_seed_epoch_and_index(corpus):
    options = dict(architecture="skipgram", window=3, negative=2, sample=1e-3, ns_exponent=0.75,
                   words_per_batch=500, seed=4)  # fmt: skip
    a, b = Word2VecBatches(corpus, **options), Word2VecBatches(corpus, **options)
    b.set_epoch(1)
    b.set_epoch(0)
    for k in (len(a) - 1, 0, 3):
        assert all(torch.equal(a[k][key], b[k][key]) for key in a[k])


# ------------------------------------------------------------------------------------------------- NNLM
def test_nnlm_batches_equal_the_stream_windows(corpus):
    for part in (corpus, *corpus.held_out(0.1, seed=2)):
        reference = ngram_windows(part, 3)
        ordered = NGramBatches(part, 3, batch_size=97, shuffle=False)
        got = np.concatenate([ordered[k]["input_ids"].numpy() for k in range(len(ordered))])
        np.testing.assert_array_equal(got, reference)
        shuffled = NGramBatches(part, 3, batch_size=97, seed=1)
        got = np.concatenate([shuffled[k]["input_ids"].numpy() for k in range(len(shuffled))])
        assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, reference.tolist()))
    again = NGramBatches(corpus, 3, batch_size=97, seed=1)
    again.set_epoch(2)
    again.set_epoch(0)
    assert torch.equal(again[5]["input_ids"], NGramBatches(corpus, 3, batch_size=97, seed=1)[5]["input_ids"])


# ------------------------------------------------------------------------------------------------- ELMo
def test_elmo_batches_cover_every_piece_once_in_pools(corpus):
    for part in (corpus, corpus.held_out(0.2, seed=1)[0]):
        starts, lengths = sentence_spans(part, 30)
        ids = np.asarray(part.ids)
        expected = sorted(tuple(ids[s : s + n]) for s, n in zip(starts, lengths))
        ds = SentenceBatches(part, batch_size=4, max_length=30, seed=2)
        assert ds.num_pieces == len(lengths) and ds.num_words == lengths.sum()
        seen = []
        for k in range(len(ds)):
            batch = ds[k]
            mask = batch["attention_mask"].bool()
            seen += [tuple(row[m].tolist()) for row, m in zip(batch["labels"], mask)]
            lens = mask.sum(1)
            assert int(batch["num_words"]) == int(lens.sum())
        assert sorted(seen) == expected
        assert sorted(ds.order().tolist()) == list(range(len(lengths)))
        ev = SentenceBatches(part, batch_size=16, max_length=30, shuffle=False)
        np.testing.assert_array_equal(ev.starts, starts)  # in the part's own coordinates for a plain corpus
        if not isinstance(part, CorpusPart):
            break


# ------------------------------------------------------------------------------------------------ GloVe
def test_cooccurrences_of_a_cache_and_of_a_part(corpus):
    whole = count_cooccurrences(corpus, window_size=4)
    plain = TokenizedCorpus(
        np.asarray(corpus.ids).copy(), np.asarray(corpus.offsets).copy(), corpus.tokenizer
    )
    reference = count_cooccurrences(plain, window_size=4)
    for a, b in (
        (whole.rows, reference.rows),
        (whole.cols, reference.cols),
        (whole.values, reference.values),
    ):
        np.testing.assert_array_equal(a, b)
    part = corpus.held_out(0.3, seed=0)[1]
    mine = count_cooccurrences(part, window_size=4)
    theirs = count_cooccurrences(TokenizedCorpus(part.ids, part.offsets, part.tokenizer), window_size=4)
    np.testing.assert_array_equal(mine.values, theirs.values)
