"""Hostile word-vector files (issue "Hardening"): non-finite values, truncated text, header allocation
bombs, huge lines, and property-based fuzzing of the three readers (word2vec text, word2vec binary,
GloVe text). Every bad file must raise our FormatError naming the file and line/entry, in bounded memory.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hf_embeddings.cli import main
from hf_embeddings.errors import FormatError, HFEmbeddingsError
from hf_embeddings.vectors.formats import (
    detect_vector_format,
    iter_glove_format,
    iter_word2vec_format,
    read_glove_format,
    read_word2vec_format,
    write_glove_format,
    write_word2vec_format,
)

BOM = b"\xef\xbb\xbf"


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def _raises(path: Path, reader, *needles: str, **kwargs) -> FormatError:
    with pytest.raises(FormatError) as err:
        reader(path, **kwargs)
    message = str(err.value)
    assert str(path) in message
    for needle in needles:
        assert needle in message, (needle, message)
    return err.value


# --------------------------------------------------------------------------- NaN / inf / overflow


@pytest.mark.parametrize(
    "token", [b"nan", b"NaN", b"inf", b"-inf", b"Infinity", b"1e999", b"-1e400", b"1e39"]
)
@pytest.mark.parametrize("fmt", ["word2vec", "glove"])
def test_text_non_finite_values_are_refused_unless_allowed(tmp_path: Path, fmt: str, token: bytes) -> None:
    rows = [b"a 0.5 1.5 2.5", b"b 0.25 " + token + b" 3.5", b"c 1 2 3"]
    path = tmp_path / "v.txt"
    path.write_bytes((b"3 3\n" if fmt == "word2vec" else b"") + b"\n".join(rows) + b"\n")
    read, iterate = (
        (read_word2vec_format, iter_word2vec_format)
        if fmt == "word2vec"
        else (read_glove_format, iter_glove_format)
    )
    line = 3 if fmt == "word2vec" else 2
    err = _raises(path, read, f"line {line}", "non-finite", "'b'", "value 2 of 3", "allow_non_finite")
    assert err.line == line and err.path == str(path)
    with pytest.raises(FormatError, match=f"line {line}: non-finite"):
        list(iterate(path))
    words, vectors = read(path, allow_non_finite=True)
    assert words == ["a", "b", "c"] and not np.isfinite(vectors[1, 1])
    assert np.isfinite(np.delete(vectors.ravel(), 4)).all()
    assert not np.isfinite([v for _, v in iterate(path, allow_non_finite=True)][1][1])
    if token == b"1e39":  # finite, only beyond float32: float64 holds it
        assert read(path, dtype=np.float64)[1][1, 1] == 1e39


@pytest.mark.parametrize("bits", [0x7FC00000, 0x7F800001, 0xFFFFFFFF, 0x7F800000, 0xFF800000])
def test_binary_nan_and_inf_bit_patterns_are_refused_unless_allowed(tmp_path: Path, bits: int) -> None:
    words = ["a", "bb", "ccc"]
    vectors = np.ones((3, 4), dtype=np.float32)
    vectors.view(np.uint32)[2, 1] = bits
    path = tmp_path / "v.bin"
    write_word2vec_format(path, words, vectors, binary=True)
    offset = len(b"3 4\n") + (1 + 1 + 16 + 1) + (2 + 1 + 16 + 1)
    err = _raises(
        path, read_word2vec_format, f"entry 3 (byte offset {offset})", "non-finite", "'ccc'", "value 2"
    )
    assert err.line is None
    with pytest.raises(FormatError, match="entry 3"):
        list(iter_word2vec_format(path))
    got_words, got = read_word2vec_format(path, allow_non_finite=True)
    assert got_words == words and np.array_equal(_bits(got), _bits(vectors))  # payload kept bit for bit


def test_non_finite_row_far_into_a_file_names_its_line(tmp_path: Path) -> None:
    """The check runs on blocks of rows; the row it names must still be the right one."""
    vectors = np.random.default_rng(1).standard_normal((5000, 7)).astype(np.float32)
    words = [f"w{i}" for i in range(len(vectors))]
    path = tmp_path / "v.txt"
    write_word2vec_format(path, words, vectors)
    lines = path.read_bytes().split(b"\n")
    lines[4321] = lines[4321].rsplit(b" ", 1)[0] + b" nan"  # row 4321 = word w4320
    lines.insert(100, b"")  # a blank line shifts the line numbers of later rows
    path.write_bytes(b"\n".join(lines))
    _raises(path, read_word2vec_format, "line 4323", "'w4320'", "value 7 of 7")
    binary = tmp_path / "v.bin"
    vectors[3999, 0] = np.inf
    write_word2vec_format(binary, words, vectors, binary=True)
    _raises(binary, read_word2vec_format, "entry 4000 (byte offset", "'w3999'")
    glove = tmp_path / "g.txt"
    write_glove_format(glove, words, vectors)
    _raises(glove, read_glove_format, "line 4000", "'w3999'")


def test_convert_import_refuses_non_finite_in_one_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "v.txt"
    path.write_bytes(b"2 3\na 1 2 3\nb 1 2 1e999\n")
    out = tmp_path / "out"
    assert main(["convert", "import", str(path), "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hf-embeddings: error: ")
    assert f"{path}, line 3" in err[0] and "--allow-non-finite" in err[0]
    assert not out.exists()
    assert main(["convert", "import", str(path), "--output-dir", str(out), "--allow-non-finite"]) == 0


# --------------------------------------------------------------------------- truncated text files

# GloVe-6B-style rows: every value written with the same number of digits
_ROWS = [
    b"the 0.4183 0.2497 -0.4124 0.1217",
    b"of 0.7085 0.5709 -0.4716 0.1805",
    b"and 0.2684 0.1431 -0.2787 0.0163",
]


@pytest.mark.parametrize("fmt", ["word2vec", "glove"])
def test_text_file_cut_inside_its_last_row_is_refused(tmp_path: Path, fmt: str) -> None:
    data = (b"3 4\n" if fmt == "word2vec" else b"") + b"\n".join(_ROWS) + b"\n"
    read = read_word2vec_format if fmt == "word2vec" else read_glove_format
    full_words, full = read(_write(tmp_path / "full.txt", data))
    path = tmp_path / "v.txt"
    last_line = len(data) - 1 - len(_ROWS[-1])
    for cut in range(last_line + 1, len(data) - 1):  # "0.01" where "0.0163" was, or mid-row
        path.write_bytes(data[:cut])
        _raises(path, read, "line")
    # complete last rows without the final newline are fine
    for ending in (b"", b" ", b"\r", b"\t "):
        path.write_bytes(data[:-1] + ending)
        words, got = read(path)
        assert words == full_words and np.array_equal(got, full)
    path.write_bytes((b"1 3\n" if fmt == "word2vec" else b"") + b"a 1 2 3")  # hand-made, no newline
    assert read(path)[0] == ["a"]


def test_file_cut_inside_its_last_number_names_the_cut(tmp_path: Path) -> None:
    path = tmp_path / "g.txt"
    path.write_bytes(b"\n".join(_ROWS)[:-2])  # ends in "0.01" where "0.0163" was
    err = _raises(path, read_glove_format, "line 3", "truncated", "'and'", "'0.01'")
    assert err.line == 3
    path.write_bytes(b"3 4\n" + b"\n".join(_ROWS)[:-7])  # "... -0.2787": the row is one value short
    _raises(path, read_word2vec_format, "line 4", "wrong number of values", "found 3")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- memory: subprocess under a cap

_CAPPED_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys, tracemalloc
    from hf_embeddings.errors import HFEmbeddingsError
    from hf_embeddings.vectors.formats import read_glove_format, read_word2vec_format

    def vm_size():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))

    cap = vm_size() + int(sys.argv[2])  # what is mapped now (libraries, numpy, torch) + a small allowance
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    readers = {"w2v": read_word2vec_format, "glove": read_glove_format}
    results = {}
    for name, reader, path, kwargs in json.loads(sys.argv[1]):
        tracemalloc.start()
        try:
            readers[reader](path, **kwargs)
            kind, ours, message = "ok", False, ""
        except BaseException as exc:  # noqa: BLE001 - the test wants to see what escapes
            kind, ours, message = type(exc).__name__, isinstance(exc, HFEmbeddingsError), str(exc)[:300]
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        results[name] = {"kind": kind, "ours": ours, "message": message, "peak": peak}
    print(json.dumps(results))
    """
)
_CAP_ALLOWANCE = 300 << 20  # a 24 MB line split into Python objects needs ~0.5 GB; our readers need < 10 MB


@pytest.fixture(scope="module")
def capped(tmp_path_factory) -> dict:
    """Read each hostile file in one subprocess whose address space is capped (RLIMIT_AS), so a
    regression fails the test instead of eating the machine; returns what each read did."""
    if not sys.platform.startswith("linux"):
        pytest.skip("RLIMIT_AS and /proc/self/status are Linux")
    d = tmp_path_factory.mktemp("capped")
    bomb = b"600000000 300\n" + b"a " + bytes(range(59))  # 75 bytes claiming 600M x 300
    assert len(bomb) == 75
    files = {
        "bomb.bin": bomb,
        "bomb.bin.gz": gzip.compress(bomb),
        "bomb.txt": b"600000000 300\na 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1.0 1.1 1.2 1.3 1.4 1.5 1.6 1.7 1.8 1.9\n",
        "claim.bin": b"50000 300\n" + b"a " + bytes(64),  # a 60 MB claim: would fit under the cap
        "claim.txt.gz": gzip.compress(b"50000 300\na 1\n"),
        "long_first.txt": b"a " + b"0.1 " * (6 << 20) + b"\n",  # one 24 MB GloVe row
        "long_second.txt": b"a 0.1 0.2 0.3\nb " + b"0.1 " * (6 << 20) + b"\n",
        "long_w2v.txt": b"2 3\na 0.1 0.2 0.3\nb " + b"0.1 " * (6 << 20) + b"\n",
    }
    for name, data in files.items():
        (d / name).write_bytes(data)
    scenarios = [
        ("bomb_bin", "w2v", str(d / "bomb.bin"), {}),
        ("bomb_bin_gz", "w2v", str(d / "bomb.bin.gz"), {}),
        ("bomb_txt", "w2v", str(d / "bomb.txt"), {}),
        ("claim_bin", "w2v", str(d / "claim.bin"), {"binary": True}),
        ("claim_txt_gz", "w2v", str(d / "claim.txt.gz"), {"binary": False}),
        ("long_first", "glove", str(d / "long_first.txt"), {}),
        ("long_first_dim", "glove", str(d / "long_first.txt"), {"dim": 3}),
        ("long_second", "glove", str(d / "long_second.txt"), {}),
        ("long_w2v", "w2v", str(d / "long_w2v.txt"), {"binary": False}),
    ]
    proc = subprocess.run(
        [sys.executable, "-c", _CAPPED_SCRIPT, json.dumps(scenarios), str(_CAP_ALLOWANCE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", ["bomb_bin", "bomb_bin_gz", "bomb_txt", "claim_bin", "claim_txt_gz"])
def test_header_claims_are_not_allocated_before_the_data_is_there(capped: dict, name: str) -> None:
    """A 75-byte file whose header claims 600M x 300 (720 GB) is refused where it falls short of the
    claim, without allocating for it (plain files: checked against the size; compressed: the array
    grows with the rows read)."""
    got = capped[name]
    assert got["ours"], got
    assert "cannot allocate" not in got["message"], got  # the old reader tried np.empty(claim)
    assert any(s in got["message"] for s in ("file ends after", "wrong number of values")), got
    assert got["peak"] < 16 << 20, got  # bytes traced by tracemalloc, numpy arrays included


@pytest.mark.parametrize("name", ["long_first", "long_first_dim", "long_second", "long_w2v"])
def test_a_huge_line_is_refused_in_bounded_memory(capped: dict, name: str) -> None:
    """One 24 MB row (the issue: 60 MB took 2.1 GB RSS) is refused as too long for its dimension
    before it is split, under an address-space cap of +300 MB."""
    got = capped[name]
    assert got["ours"], got
    assert "longer than" in got["message"] and "line" in got["message"], got
    assert got["peak"] < 16 << 20, got


def test_glove_first_row_limit_points_to_dim(tmp_path: Path) -> None:
    path = tmp_path / "g.txt"
    path.write_bytes(b"a " + b"1 " * (600 << 10) + b"\n")  # 1.2 MB first row of 600K values
    _raises(path, read_glove_format, "line 1", "longer than", "dim=")
    words, got = read_glove_format(path, dim=600 << 10)
    assert words == ["a"] and got.shape == (1, 600 << 10)


def test_compressed_file_grows_its_array_with_the_rows_read(tmp_path: Path, monkeypatch) -> None:
    from hf_embeddings.vectors.formats import word2vec

    monkeypatch.setattr(word2vec, "_FIRST_ALLOCATION_BYTES", 64)  # force many doublings
    vectors = np.random.default_rng(4).standard_normal((1000, 5)).astype(np.float32)
    words = [f"w{i}" for i in range(len(vectors))]
    for binary in (False, True):
        path = tmp_path / f"v{int(binary)}.gz"
        write_word2vec_format(path, words, vectors, binary=binary)
        got_words, got = read_word2vec_format(path)
        assert got_words == words and np.array_equal(_bits(got), _bits(vectors)) and got.shape == (1000, 5)
        assert read_word2vec_format(path, limit=37)[1].shape == (37, 5)


# --------------------------------------------------------------------------- fuzzing

_ALPHABET = "abcxyzAZ09_-.'éüΩ日本ß€\x00\x7f"
_TOKENS = [b"nan", b"inf", b"-inf", b"1e999", b"1e39", b"\n", b" ", b"\r\n", b"\t", b"\xff", b"\xe6", BOM]
_TOKENS += [b"\x1f\x8b", b"-", b"e", b"0", b".", b"9" * 12 + b" ", b"\n\n", b"a", b"the", b"99999999999"]

_WORDS = st.lists(
    st.builds(lambda a, b: a + b, st.sampled_from("abcdefgéΩ日"), st.text(_ALPHABET, max_size=6)),
    min_size=1,
    max_size=6,
    unique=True,
)
_EDIT = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 1 << 16), st.integers(0, 255)),
    st.tuples(st.just("digit"), st.integers(0, 1 << 16), st.integers(0, 9)),
    st.tuples(
        st.just("insert"),
        st.integers(0, 1 << 16),
        st.sampled_from(_TOKENS) | st.binary(min_size=1, max_size=6),
    ),
    st.tuples(st.just("delete"), st.integers(0, 1 << 16), st.integers(1, 12)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 16), st.just(0)),
)
_FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _edit(data: bytes, edits: list[tuple]) -> tuple[bytes, int]:
    """Apply the edits; returns the new bytes and how many leading bytes are certainly the original's."""
    buf = bytearray(data)
    intact = len(buf)
    for op, pos, arg in edits:
        pos %= len(buf) + 1
        intact = min(intact, pos)
        if op == "set" and pos < len(buf):
            buf[pos] = arg
        elif op == "digit" and pos < len(buf) and 48 <= buf[pos] <= 57:
            buf[pos] = ord("0") + arg
        elif op == "insert":
            buf[pos:pos] = arg
        elif op == "delete":
            del buf[pos : pos + arg]
        elif op == "truncate":
            del buf[pos:]
    return bytes(buf), intact


def _row_ends(data: bytes, words: list[str], dim: int, fmt: str) -> list[int]:
    """Byte offset just past each row of the original file (its newline included)."""
    if fmt == "binary":
        pos, ends = data.index(b"\n") + 1, []
        for word in words:
            pos += len(word.encode()) + 1 + 4 * dim + 1
            ends.append(pos)
        return ends
    ends = [i + 1 for i, c in enumerate(data) if c == 10]
    return ends[1:] if fmt == "text" else ends


def _shape_claimed(data: bytes, fmt: str) -> tuple[int, int]:
    """(rows, dim) the edited file itself claims: its header, or its non-blank lines (GloVe)."""
    if fmt != "glove":
        first = data.split(b"\n", 1)[0]
        n, d = (first[3:] if first.startswith(BOM) else first).split()
        return int(n), int(d)
    lines = data.split(b"\n")
    if lines[0].startswith(BOM):
        lines[0] = lines[0][3:]
    rows = [line for line in lines if line.split()]
    return len(rows), len(rows[0].split()) - 1


def _fuzz(
    scratch: Path, fmt: str, words: list[str], vectors: np.ndarray, edits: list, counts: Counter
) -> None:
    base = scratch / f"base.{fmt}"
    if fmt == "glove":
        write_glove_format(base, words, vectors)
        read, iterate, kwargs = read_glove_format, iter_glove_format, {}
    else:
        write_word2vec_format(base, words, vectors, binary=fmt == "binary")
        read, iterate, kwargs = read_word2vec_format, iter_word2vec_format, {"binary": fmt == "binary"}
    original = base.read_bytes()
    got_words, got = read(base, **kwargs)  # the unedited file reads back exactly
    assert got_words == words and np.array_equal(_bits(got), _bits(vectors))
    data, intact = _edit(original, edits)
    path = scratch / f"edited.{fmt}"
    path.write_bytes(data)
    try:
        detect_vector_format(path)
    except HFEmbeddingsError:
        pass
    try:
        got_words, got = read(path, **kwargs)
    except HFEmbeddingsError as exc:
        counts["raised our error"] += 1
        assert str(path) in str(exc)
        with pytest.raises(HFEmbeddingsError):  # the streaming reader refuses the same file
            list(iterate(path, **kwargs))
        return
    except BaseException:
        counts["other"] += 1
        raise
    counts["read"] += 1
    assert got.dtype == np.float32 and got.shape == _shape_claimed(data, fmt)
    assert len(got_words) == len(got) and len(set(got_words)) == len(got_words)
    assert all(isinstance(w, str) and w for w in got_words)
    assert np.isfinite(got).all()
    untouched = sum(end <= intact for end in _row_ends(original, words, vectors.shape[1], fmt))
    assert got_words[:untouched] == words[:untouched]
    if untouched:
        assert np.array_equal(_bits(got[:untouched]), _bits(vectors[:untouched]))
    streamed = list(iterate(path, **kwargs))
    assert [w for w, _ in streamed] == got_words
    assert all(np.array_equal(_bits(v), _bits(got[i])) for i, (_, v) in enumerate(streamed))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A folder for the fuzzed files: in memory (/dev/shm) where there is one, since the writers fsync."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="hfe-fuzz-", dir=shm))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("fuzz")


FUZZ_COUNTS: dict[str, Counter] = {}


@pytest.mark.parametrize("fmt", ["text", "binary", "glove"])
def test_fuzzed_files_raise_our_error_or_read_consistently(scratch: Path, fmt: str) -> None:
    """Random byte edits, insertions, deletions and truncations of small valid files (written by our
    writers): the read either raises our error class naming the file, or returns unique words and finite
    vectors of the shape the file claims, equal to the original for the rows before the first edit."""
    counts = FUZZ_COUNTS.setdefault(fmt, Counter())

    @_FUZZ
    @given(
        words=_WORDS,
        dim=st.integers(1 if fmt != "binary" else 2, 5),
        edits=st.lists(_EDIT, min_size=1, max_size=3),
        data=st.data(),
    )
    def run(words: list[str], dim: int, edits: list, data) -> None:
        vectors = data.draw(
            arrays(
                np.float32,
                (len(words), dim),
                elements=st.floats(width=32, allow_nan=False, allow_infinity=False),
            )
        )
        _fuzz(scratch, fmt, words, vectors, edits, counts)

    run()
    print(f"fuzz {fmt}: {dict(counts)}")
    assert counts["other"] == 0
    assert counts["raised our error"] > 0 and counts["read"] > 0


def test_imported_vectors_split_text_like_the_vectors_were_trained(tmp_path, capsys):
    """`convert import` infers lowercasing and punctuation splitting from the vocabulary (all lower case
    -> lowercase; ',' and '.' are words -> split them off), and the flags override it."""
    from hf_embeddings.api import load
    from hf_embeddings.cli import main

    lower = tmp_path / "lower.txt"
    lower.write_text("5 2\nparis 1 0\nfrance 0 1\n, 0.5 0.5\n. 0.1 0.2\nnew_york 1 1\n", encoding="utf-8")
    assert main(["convert", "import", str(lower), "--output-dir", str(tmp_path / "a")]) == 0
    _, tok = load(tmp_path / "a")
    assert tok.convert_ids_to_tokens(tok("Paris, France.")["input_ids"]) == ["paris", ",", "france", "."]
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("3 2\nParis 1 0\nparis 0 1\nFrance 1 1\n", encoding="utf-8")
    assert main(["convert", "import", str(mixed), "--output-dir", str(tmp_path / "b")]) == 0
    _, tok = load(tmp_path / "b")
    assert tok.convert_ids_to_tokens(tok("Paris paris France")["input_ids"]) == ["Paris", "paris", "France"]
    argv = ["convert", "import", str(lower), "--output-dir", str(tmp_path / "c"), "--no-lowercase"]
    assert main([*argv, "--no-split-punctuation"]) == 0
    _, tok = load(tmp_path / "c")
    assert tok.convert_ids_to_tokens(tok("Paris, france.")["input_ids"]) == ["<unk>", "<unk>"]
    capsys.readouterr()
