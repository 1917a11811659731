"""Tests for hf_embeddings.vectors.formats: exact round trips, gensim interop, detection and bad files."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from pathlib import Path

import numpy as np
import pytest

from hf_embeddings.errors import FormatError, HFEmbeddingsError
from hf_embeddings.vectors.formats import (
    detect_vector_format,
    iter_glove_format,
    iter_word2vec_format,
    read_glove_format,
    read_word2vec_format,
    to_gensim_keyed_vectors,
    write_glove_format,
    write_word2vec_format,
)

WORDS = ["the", "café", "naïve", "日本", "über-long_token", "a", "Ωmega", "x1"]


def _vectors(n: int = len(WORDS), dim: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    if n >= 3 and dim >= 4:
        # values whose decimal form is easy to get wrong
        vectors[0, :4] = [1e-45, 3.4028235e38, -0.0, np.float32(1) / np.float32(3)]
        vectors[1, :3] = [0.1, 16777217.0, -1.1754944e-38]
    return vectors


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def _binary_record(word: str, vector: np.ndarray, newline: bool = True) -> bytes:
    return word.encode() + b" " + np.asarray(vector, dtype="<f4").tobytes() + (b"\n" if newline else b"")


def _w2v_text(rows: list[str], header: str | None) -> bytes:
    lines = ([header] if header is not None else []) + rows
    return ("\n".join(lines) + "\n").encode()


def _text_rows(words: list[str], vectors: np.ndarray) -> list[str]:
    return [w + " " + " ".join(repr(float(x)) for x in v) for w, v in zip(words, vectors)]


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("binary", [False, True])
def test_round_trip_is_exact(tmp_path: Path, binary: bool) -> None:
    vectors = _vectors()
    path = tmp_path / ("v.bin" if binary else "v.txt")
    write_word2vec_format(path, WORDS, vectors, binary=binary)
    words, got = read_word2vec_format(path)
    assert words == WORDS
    assert _same_bits(got, vectors)
    words, got = read_word2vec_format(path, binary=binary)  # explicit mode agrees with detection
    assert words == WORDS and _same_bits(got, vectors)
    assert [w for w, _ in iter_word2vec_format(path)] == WORDS
    assert all(np.array_equal(v, vectors[i]) for i, (_, v) in enumerate(iter_word2vec_format(path)))


def test_text_round_trip_many_random_floats(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**32, size=(500, 40), dtype=np.uint64).astype(np.uint32)
    vectors = bits.view(np.float32).copy()
    vectors[~np.isfinite(vectors)] = 1.5
    words = [f"w{i}" for i in range(len(vectors))]
    write_word2vec_format(tmp_path / "v.txt", words, vectors)
    write_glove_format(tmp_path / "g.txt", words, vectors)
    assert _same_bits(read_word2vec_format(tmp_path / "v.txt")[1], vectors)
    assert _same_bits(read_glove_format(tmp_path / "g.txt")[1], vectors)


def test_float64_text_round_trip(tmp_path: Path) -> None:
    vectors = np.random.default_rng(3).standard_normal((4, 5))
    write_word2vec_format(tmp_path / "v.txt", WORDS[:4], vectors)
    _, got = read_word2vec_format(tmp_path / "v.txt", dtype=np.float64)
    assert got.dtype == np.float64 and np.array_equal(got, vectors)


def test_glove_round_trip_and_iter(tmp_path: Path) -> None:
    vectors = _vectors()
    path = tmp_path / "glove.txt"
    write_glove_format(path, WORDS, vectors)
    assert path.read_bytes().split(b"\n", 1)[0].startswith(b"the ")  # no header
    words, got = read_glove_format(path)
    assert words == WORDS and _same_bits(got, vectors)
    words, got = read_word2vec_format(path, no_header=True)
    assert words == WORDS and _same_bits(got, vectors)
    assert [w for w, _ in iter_glove_format(path, limit=2)] == WORDS[:2]


def test_glove_reads_many_blocks(tmp_path: Path) -> None:
    vectors = np.random.default_rng(5).standard_normal((3000, 3)).astype(np.float32)
    words = [f"w{i}" for i in range(len(vectors))]
    write_glove_format(tmp_path / "g.txt", words, vectors)
    got_words, got = read_glove_format(tmp_path / "g.txt")
    assert got_words == words and _same_bits(got, vectors)


@pytest.mark.parametrize("binary", [False, True])
def test_limit(tmp_path: Path, binary: bool) -> None:
    vectors = _vectors()
    path = tmp_path / "v"
    write_word2vec_format(path, WORDS, vectors, binary=binary)
    words, got = read_word2vec_format(path, limit=3)
    assert words == WORDS[:3] and _same_bits(got, vectors[:3])
    words, got = read_word2vec_format(path, limit=100)
    assert words == WORDS and got.shape == vectors.shape
    words, got = read_word2vec_format(path, limit=0)
    assert words == [] and got.shape == (0, vectors.shape[1])
    with pytest.raises(ValueError):
        read_word2vec_format(path, limit=-1)


def test_limit_does_not_read_past_the_requested_rows(tmp_path: Path) -> None:
    rows = _text_rows(WORDS[:2], _vectors()[:2, :3]) + ["broken row"]
    (tmp_path / "v.txt").write_bytes(_w2v_text(rows, "3 3"))
    words, _ = read_word2vec_format(tmp_path / "v.txt", limit=2)
    assert words == WORDS[:2]


@pytest.mark.parametrize(("suffix", "opener"), [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)])
@pytest.mark.parametrize("binary", [False, True])
def test_compressed_files(tmp_path: Path, suffix: str, opener, binary: bool) -> None:
    vectors = _vectors()
    plain = tmp_path / "plain"
    write_word2vec_format(plain, WORDS, vectors, binary=binary)
    path = tmp_path / ("v" + suffix)
    with opener(path, "wb") as f:
        f.write(plain.read_bytes())
    assert detect_vector_format(path) == ("word2vec_binary" if binary else "word2vec_text")
    words, got = read_word2vec_format(path)
    assert words == WORDS and _same_bits(got, vectors)
    # our writer compresses by suffix, and the result reads back the same
    ours = tmp_path / ("ours" + suffix)
    write_word2vec_format(ours, WORDS, vectors, binary=binary)
    with opener(ours, "rb") as f:
        assert f.read() == plain.read_bytes()


def test_compressed_without_suffix_is_sniffed(tmp_path: Path) -> None:
    vectors = _vectors()
    write_word2vec_format(tmp_path / "v.txt", WORDS, vectors)
    path = tmp_path / "vectors.data"
    path.write_bytes(gzip.compress((tmp_path / "v.txt").read_bytes()))
    assert _same_bits(read_word2vec_format(path)[1], vectors)


def test_corrupt_compressed_file(tmp_path: Path) -> None:
    write_word2vec_format(tmp_path / "v.txt", WORDS, _vectors(dim=50))
    data = gzip.compress((tmp_path / "v.txt").read_bytes())
    path = tmp_path / "v.txt.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match="compressed") as err:
        read_word2vec_format(path)
    assert str(path) in str(err.value)


# --------------------------------------------------------------------------- binary layouts & detection


@pytest.mark.parametrize("newline", [True, False])
def test_binary_with_and_without_newline_after_vectors(tmp_path: Path, newline: bool) -> None:
    vectors = _vectors()
    body = b"".join(_binary_record(w, v, newline) for w, v in zip(WORDS, vectors))
    path = tmp_path / "v.bin"
    path.write_bytes(f"{len(WORDS)} {vectors.shape[1]}\n".encode() + body)
    assert detect_vector_format(path) == "word2vec_binary"
    words, got = read_word2vec_format(path)
    assert words == WORDS and _same_bits(got, vectors)


def test_binary_spanning_many_read_chunks(tmp_path: Path) -> None:
    vectors = np.random.default_rng(2).standard_normal((3000, 100)).astype(np.float32)  # ~1.2 MB > 1 chunk
    words = [f"word{i}" for i in range(len(vectors))]
    write_word2vec_format(tmp_path / "v.bin", words, vectors, binary=True)
    got_words, got = read_word2vec_format(tmp_path / "v.bin")
    assert got_words == words and _same_bits(got, vectors)


def test_detect_vector_format(tmp_path: Path) -> None:
    vectors = _vectors(dim=1)  # 1-d is the hardest case for the text/binary heuristic
    for dim_vectors in (vectors, _vectors()):
        write_word2vec_format(tmp_path / "b", WORDS, dim_vectors, binary=True)
        write_word2vec_format(tmp_path / "t", WORDS, dim_vectors)
        write_glove_format(tmp_path / "g", WORDS, dim_vectors)
        assert detect_vector_format(tmp_path / "b") == "word2vec_binary"
        assert detect_vector_format(tmp_path / "t") == "word2vec_text"
        assert detect_vector_format(tmp_path / "g") == "glove_text"
    (tmp_path / "junk").write_bytes(b"hello world\n")
    with pytest.raises(FormatError, match="not a word-vector file"):
        detect_vector_format(tmp_path / "junk")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(FormatError, match="empty"):
        detect_vector_format(tmp_path / "empty")


def test_c_tool_text_style_trailing_spaces_and_crlf(tmp_path: Path) -> None:
    vectors = _vectors(n=2, dim=3)
    rows = [r + " " for r in _text_rows(WORDS[:2], vectors)]  # word2vec.c writes "%lf " per value
    (tmp_path / "v.txt").write_bytes(_w2v_text(rows, "2 3").replace(b"\n", b"\r\n"))
    words, got = read_word2vec_format(tmp_path / "v.txt")
    assert words == WORDS[:2] and _same_bits(got, vectors)


def test_glove_words_with_spaces(tmp_path: Path) -> None:
    path = tmp_path / "g.txt"
    path.write_bytes(b"the 0.5 1.5\nat name@domain.com 2.5 3.5\n. . . 4 5\n")
    words, got = read_glove_format(path)
    assert words == ["the", "at name@domain.com", ". . ."]
    assert np.array_equal(got, np.array([[0.5, 1.5], [2.5, 3.5], [4, 5]], dtype=np.float32))


# --------------------------------------------------------------------------- gensim interop


def _gensim_kv(words: list[str], vectors: np.ndarray):
    gensim_models = pytest.importorskip("gensim.models")
    kv = gensim_models.KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    return kv


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_reads_our_files(tmp_path: Path, binary: bool) -> None:
    gensim_models = pytest.importorskip("gensim.models")
    vectors = _vectors()
    path = tmp_path / "ours"
    write_word2vec_format(path, WORDS, vectors, binary=binary)
    kv = gensim_models.KeyedVectors.load_word2vec_format(path, binary=binary)
    assert list(kv.index_to_key) == WORDS
    assert _same_bits(np.asarray(kv.vectors), vectors)


@pytest.mark.parametrize("binary", [False, True])
def test_we_read_gensim_files(tmp_path: Path, binary: bool) -> None:
    vectors = _vectors()
    kv = _gensim_kv(WORDS, vectors)
    path = tmp_path / "gensim"
    kv.save_word2vec_format(str(path), binary=binary)
    assert detect_vector_format(path) == ("word2vec_binary" if binary else "word2vec_text")
    words, got = read_word2vec_format(path)
    assert words == WORDS and _same_bits(got, vectors)


def test_glove_matches_gensim_no_header(tmp_path: Path) -> None:
    gensim_models = pytest.importorskip("gensim.models")
    vectors = _vectors()
    kv = _gensim_kv(WORDS, vectors)
    path = tmp_path / "glove.txt"
    kv.save_word2vec_format(str(path), write_header=False)
    assert detect_vector_format(path) == "glove_text"
    words, got = read_glove_format(path)
    loaded = gensim_models.KeyedVectors.load_word2vec_format(path, no_header=True)
    assert words == list(loaded.index_to_key) == WORDS
    assert _same_bits(got, np.asarray(loaded.vectors)) and _same_bits(got, vectors)


def test_gensim_shipped_glove_file() -> None:
    gensim = pytest.importorskip("gensim")
    from gensim.models import KeyedVectors

    path = Path(gensim.__file__).parent / "test" / "test_data" / "test_glove.txt"
    if not path.exists():
        pytest.skip("gensim test data not installed")
    words, got = read_glove_format(path)
    kv = KeyedVectors.load_word2vec_format(path, no_header=True)
    assert words == list(kv.index_to_key)
    assert np.array_equal(got, kv.vectors)
    assert detect_vector_format(path) == "glove_text"


def test_to_gensim_keyed_vectors() -> None:
    pytest.importorskip("gensim")
    vectors = _vectors()
    counts = list(range(len(WORDS), 0, -1))
    kv = to_gensim_keyed_vectors(WORDS, vectors, counts=counts)
    assert list(kv.index_to_key) == WORDS and _same_bits(np.asarray(kv.vectors), vectors)
    assert kv.get_vecattr("café", "count") == counts[1]
    kv = to_gensim_keyed_vectors(WORDS, vectors, counts=dict(zip(WORDS, counts)))
    assert kv.get_vecattr("日本", "count") == counts[3]
    with pytest.raises(HFEmbeddingsError, match="duplicate word 'a'"):
        to_gensim_keyed_vectors(["a", "b", "a"], np.zeros((3, 2)))


# --------------------------------------------------------------------------- bad files


def _raises(path: Path, *needles: str, reader=read_word2vec_format, **kwargs) -> FormatError:
    with pytest.raises(FormatError) as err:
        reader(path, **kwargs)
    message = str(err.value)
    assert str(path) in message
    assert "None" not in message  # expected/found are always given together
    for needle in needles:
        assert needle in message, (needle, message)
    return err.value


def test_missing_or_garbled_header(tmp_path: Path) -> None:
    path = tmp_path / "v.txt"
    path.write_bytes(_w2v_text(_text_rows(["a"], _vectors(n=1, dim=3)), None))
    _raises(path, "line 1", "header", binary=False)
    _raises(path, "line 1", "header")  # auto-detect finds GloVe text and still names the header problem
    path.write_bytes(b"ten 3\na 1 2 3\n")
    _raises(path, "line 1", "expected 'N D' header", "'ten 3'", binary=False)
    for header in ("0 3", "3 0", "-1 3"):
        path.write_bytes(f"{header}\na 1 2 3\n".encode())
        _raises(path, "line 1", "positive", binary=False)


@pytest.mark.parametrize("binary", [False, True])
def test_header_declares_more_vectors_than_the_file_has(tmp_path: Path, binary: bool) -> None:
    words = [f"w{i}" for i in range(9)]
    vectors = _vectors(n=9, dim=4)
    path = tmp_path / "v"
    write_word2vec_format(path, words, vectors, binary=binary)
    data = path.read_bytes()
    path.write_bytes(b"10 4\n" + data.split(b"\n", 1)[1])
    _raises(path, "header declares 10 vectors, file ends after 9")


@pytest.mark.parametrize("binary", [False, True])
def test_header_declares_fewer_vectors_than_the_file_has(tmp_path: Path, binary: bool) -> None:
    path = tmp_path / "v"
    write_word2vec_format(path, WORDS, _vectors(), binary=binary)
    path.write_bytes(f"{len(WORDS) - 1} 6\n".encode() + path.read_bytes().split(b"\n", 1)[1])
    _raises(path, f"header declares {len(WORDS) - 1} vectors but")
    assert read_word2vec_format(path, limit=len(WORDS) - 1)[0] == WORDS[:-1]


def test_truncated_binary_vector(tmp_path: Path) -> None:
    path = tmp_path / "v.bin"
    write_word2vec_format(path, WORDS, _vectors(), binary=True)
    path.write_bytes(path.read_bytes()[:-10])  # cut the last vector short
    err = _raises(
        path, f"entry {len(WORDS)}", "truncated vector", "'x1'", "expected 24 bytes, found 15 bytes"
    )
    assert f"file ends after {len(WORDS) - 1}" in str(err)


def test_binary_with_wrong_dimension_in_header(tmp_path: Path) -> None:
    path = tmp_path / "v.bin"
    vectors = np.full((3, 4), 1.0, dtype=np.float32)
    write_word2vec_format(path, ["a", "b", "c"], vectors, binary=True)
    path.write_bytes(b"3 5\n" + path.read_bytes().split(b"\n", 1)[1])
    _raises(path, "entry 2", "dimension", binary=True)


def test_text_row_with_wrong_number_of_values(tmp_path: Path) -> None:
    rows = _text_rows(WORDS[:3], _vectors(n=3, dim=4))
    rows[1] += " 0.5"
    path = tmp_path / "v.txt"
    path.write_bytes(_w2v_text(rows, "3 4"))
    err = _raises(path, "line 3", "wrong number of values", "'café'", "expected 4", "found 5")
    assert err.line == 3 and err.path == str(path)
    rows[1] = "café 1 2"
    path.write_bytes(_w2v_text(rows, "3 4"))
    _raises(path, "line 3", "found 2")


def test_non_numeric_value(tmp_path: Path) -> None:
    path = tmp_path / "v.txt"
    path.write_bytes(b"2 3\na 1 2 3\nb 1 two 3\n")
    _raises(path, "line 3", "non-numeric value", "'b'", "'two'")
    glove = tmp_path / "g.txt"
    glove.write_bytes(b"a 1 2 3\nb 1 2 3e\n")
    _raises(glove, "line 2", "non-numeric", "'3e'", reader=read_glove_format)


@pytest.mark.parametrize("binary", [False, True])
def test_non_utf8_word(tmp_path: Path, binary: bool) -> None:
    vectors = _vectors(n=3, dim=4)
    path = tmp_path / "v"
    bad = "日本".encode()[:-1]  # a word cut mid-character, as word2vec.c does
    if binary:
        records = [_binary_record(w, v) for w, v in zip(["a", "PLACEHOLDER", "c"], vectors)]
        records[1] = bad + b" " + vectors[1].astype("<f4").tobytes() + b"\n"
        path.write_bytes(b"3 4\n" + b"".join(records))
    else:
        rows = [r.encode() for r in _text_rows(["a", "PLACEHOLDER", "c"], vectors)]
        rows[1] = rows[1].replace(b"PLACEHOLDER", bad)
        path.write_bytes(b"3 4\n" + b"\n".join(rows) + b"\n")
    _raises(path, "entry 2" if binary else "line 3", "not valid UTF-8", "unicode_errors")
    words, got = read_word2vec_format(path, unicode_errors="replace")
    assert words[1] == "日\ufffd" and _same_bits(got, vectors)
    words, _ = read_word2vec_format(path, unicode_errors="ignore")
    assert words == ["a", "日", "c"]


@pytest.mark.parametrize("fmt", ["text", "binary", "glove"])
def test_duplicate_words(tmp_path: Path, fmt: str) -> None:
    words = ["a", "b", "c", "b"]
    vectors = _vectors(n=4, dim=3)
    path = tmp_path / "v"
    if fmt == "binary":
        path.write_bytes(b"4 3\n" + b"".join(_binary_record(w, v) for w, v in zip(words, vectors)))
        _raises(path, "duplicate word 'b'", "entry 2 and entry 4")
    elif fmt == "text":
        path.write_bytes(_w2v_text(_text_rows(words, vectors), "4 3"))
        _raises(path, "duplicate word 'b'", "line 3 and line 5")
    else:
        path.write_bytes(_w2v_text(_text_rows(words, vectors), None))
        _raises(path, "duplicate word 'b'", "line 2 and line 4", reader=read_glove_format)


def test_ragged_glove_rows(tmp_path: Path) -> None:
    path = tmp_path / "g.txt"
    path.write_bytes(b"a 1 2 3\nb 1 2\nc 1 2 3\n")
    err = _raises(
        path,
        "line 2",
        "ragged row",
        "'b'",
        "expected 3 values (from line 1)",
        "found 2",
        reader=read_glove_format,
    )
    assert err.expected == "3 values (from line 1)" and err.found == "2"
    path.write_bytes(b"a 1 2 3\nb 1 2 3 4\n")  # one value too many is not a word with spaces
    _raises(path, "line 2", "ragged row", "found 4", reader=read_glove_format)
    path.write_bytes(b"a 1 2\nb 1 2 3\n")
    _raises(path, "line 2", "expected 2 values (dim=)", reader=read_glove_format, dim=2)


def test_glove_reader_rejects_word2vec_header(tmp_path: Path) -> None:
    path = tmp_path / "v.txt"
    write_word2vec_format(path, WORDS, _vectors())
    _raises(path, "line 1", "read_word2vec_format", reader=read_glove_format)


def test_glove_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "g.txt"
    path.write_bytes(b"\n\n")
    _raises(path, "no vectors", reader=read_glove_format)


# --------------------------------------------------------------------------- writers


def test_atomic_write_leaves_no_file_when_a_word_is_bad(tmp_path: Path) -> None:
    words = [f"w{i}" for i in range(3000)]
    words[2500] = "two words"  # found only after >2 blocks of rows have been written
    vectors = np.zeros((3000, 4), dtype=np.float32)
    for binary in (False, True):
        target = tmp_path / "v.bin"
        with pytest.raises(HFEmbeddingsError, match="'two words'"):
            write_word2vec_format(target, words, vectors, binary=binary)
        assert not target.exists()
        assert os.listdir(tmp_path) == []  # the temporary file is gone too


def test_atomic_write_keeps_previous_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "g.txt"
    write_glove_format(target, ["a", "b"], np.ones((2, 2)))
    before = target.read_bytes()
    with pytest.raises(HFEmbeddingsError, match="duplicate word 'a' at positions 0 and 2"):
        write_glove_format(target, ["a", "b", "a"], np.ones((3, 2)))
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["g.txt"]


def test_writer_validation(tmp_path: Path) -> None:
    path = tmp_path / "v.txt"
    with pytest.raises(HFEmbeddingsError, match="3 words but 2 vectors"):
        write_word2vec_format(path, ["a", "b", "c"], np.zeros((2, 3)))
    with pytest.raises(HFEmbeddingsError, match="whitespace"):
        write_word2vec_format(path, ["a", "tab\there"], np.zeros((2, 3)))
    with pytest.raises(HFEmbeddingsError, match="2-d"):
        write_word2vec_format(path, ["a"], np.zeros(3))
    with pytest.raises(HFEmbeddingsError, match="not a str"):
        write_word2vec_format(path, ["a", 3], np.zeros((2, 3)))
    assert not path.exists()


# --------------------------------------------------------------------------- leading rows


@pytest.mark.parametrize("kind", ["binary", "text", "glove", "gzip-binary"])
def test_leading_rows_read_in_place(tmp_path: Path, kind: str) -> None:
    """`leading_rows` zero rows come first and the file's rows follow, bit for bit (one array: a caller's
    special rows cost no copy of the table); a bad value after them is still named by its entry/line."""
    vectors = _vectors(n=50)
    words = [f"w{i}" for i in range(50)]
    path = tmp_path / ("v.bin.gz" if kind == "gzip-binary" else "v.txt")  # .gz: an array that grows
    if kind == "glove":
        write_glove_format(path, words, vectors)
        read = read_glove_format
    else:
        write_word2vec_format(path, words, vectors, binary=kind != "text")
        read = read_word2vec_format
    got_words, table = read(path, leading_rows=4)
    assert got_words == words and table.shape == (54, vectors.shape[1])
    assert not table[:4].any() and _same_bits(table[4:], vectors)
    assert _same_bits(read(path)[1], vectors)  # leading_rows=0: as before
    with pytest.raises(ValueError, match="leading_rows"):
        read(path, leading_rows=-1)
    if kind != "binary":
        return
    bad = vectors.copy()
    bad[37, 2] = np.nan
    write_word2vec_format(path, words, bad, binary=True)
    with pytest.raises(FormatError, match=r"entry 38 .*'w37'"):
        read_word2vec_format(path, leading_rows=4)
