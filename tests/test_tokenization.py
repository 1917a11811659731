"""WordTokenizer: vocabulary order and counts (gensim parity), save/reload through AutoTokenizer,
normalisation options, and the fast splitting path that must agree with the Rust pipeline exactly."""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter

import numpy as np
import pytest
from tokenizers import normalizers, pre_tokenizers
from transformers import AutoTokenizer, TokenizersBackend

import hf_embeddings  # noqa: F401  (registers the tokenizer with AutoTokenizer)
from hf_embeddings.errors import HFEmbeddingsError
from hf_embeddings.text.corpus import load_corpus
from hf_embeddings.text.tokenization import SPECIAL_TOKENS, WordTokenizer, build_backend, fast_splitter

TEXTS = [
    "The cat sat on the mat.",
    "The dog sat on the log!",
    "A cat and a dog, and the bird.",
    "Birds fly; cats don't.",
]


def _rust_words(backend, line: str) -> list[str]:
    """Words of `line` as the Rust pipeline splits them (the reference the fast path must match)."""
    text = backend.normalizer.normalize_str(line) if backend.normalizer is not None else line
    return [w for w, _ in backend.pre_tokenizer.pre_tokenize_str(text)]


def _tie_heavy_corpus(seed: int = 3) -> list[list[str]]:
    rng = random.Random(seed)
    vocab = [f"w{i:02d}" for i in range(80)]
    return [[rng.choice(vocab) for _ in range(rng.randrange(1, 8))] for _ in range(150)]


# ------------------------------------------------------------------------------------------ vocabulary
def test_special_tokens_take_ids_0_to_3_then_words_by_frequency():
    tok = WordTokenizer.train(TEXTS, min_count=1)
    assert (
        tok.convert_ids_to_tokens([0, 1, 2, 3]) == list(SPECIAL_TOKENS) == ["<unk>", "<pad>", "<s>", "</s>"]
    )
    assert (tok.unk_token_id, tok.pad_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2, 3)
    assert tok.num_special_tokens == 4
    words = tok.words
    assert len(tok) == 4 + len(words)
    assert tok.convert_tokens_to_ids(words) == list(range(4, 4 + len(words)))

    counts = Counter(w for line in TEXTS for w in tok.pre_tokenize(line))
    assert words[0] == "the" and counts["the"] == 5
    got = tok.word_counts
    assert got.dtype == np.int64 and got.shape == (len(tok),)
    assert got[:4].tolist() == [0, 0, 0, 0]  # every word kept: nothing is <unk>
    assert {w: int(got[i]) for i, w in enumerate(words, start=4)} == dict(counts)
    # descending frequency
    assert all(counts[a] >= counts[b] for a, b in itertools.pairwise(words))
    assert tok.vocab_stats["total_words"] == sum(counts.values()) == 32
    assert tok.vocab_stats["num_sentences"] == 4
    assert tok.vocab_stats["distinct_words"] == len(counts)


def test_ties_are_ordered_as_gensim_orders_them():
    # "a" and "b" both occur twice: gensim puts the later first-seen word first
    tok = WordTokenizer.train(["a b c", "b a"], min_count=1)
    assert tok.words == ["b", "a", "c"]


@pytest.mark.parametrize("min_count", [1, 2, 3, 5])
def test_vocabulary_order_and_counts_equal_gensim(min_count):
    gensim_models = pytest.importorskip("gensim.models")
    sentences = _tie_heavy_corpus()
    freq = Counter(Counter(w for s in sentences for w in s).values())
    assert max(freq.values()) >= 10  # many words share a count: the tie order matters

    model = gensim_models.Word2Vec(min_count=min_count, vector_size=4, workers=1)
    model.build_vocab(sentences)
    tok = WordTokenizer.train([" ".join(s) for s in sentences], min_count=min_count)

    assert tok.words == model.wv.index_to_key
    for i, w in enumerate(tok.words, start=4):
        assert tok.word_counts[i] == model.wv.get_vecattr(w, "count")
    dropped = sum(c for w, c in Counter(w for s in sentences for w in s).items() if c < min_count)
    assert tok.word_counts[0] == dropped


def test_min_count_drops_rare_words_to_unk():
    texts = ["a a a b b c", "a b d"]  # a:4 b:3 c:1 d:1
    tok = WordTokenizer.train(texts, min_count=2)
    assert tok.words == ["a", "b"]
    assert tok.word_counts.tolist() == [2, 0, 0, 0, 4, 3]  # <unk> holds c + d
    assert tok("c d a")["input_ids"] == [0, 0, 4]
    assert tok.vocab_stats["min_count"] == 2
    assert tok.vocab_stats["distinct_words"] == 4


def test_max_vocab_size_keeps_the_n_most_frequent():
    sentences = [" ".join(s) for s in _tie_heavy_corpus()]
    full = WordTokenizer.train(sentences, min_count=1)
    for n in (1, 7, 30):
        tok = WordTokenizer.train(sentences, min_count=1, max_vocab_size=n)
        assert tok.words == full.words[:n]
        np.testing.assert_array_equal(tok.word_counts[4:], full.word_counts[4 : 4 + n])
        assert tok.word_counts[0] == full.word_counts[4 + n :].sum()
        assert tok.vocab_stats["max_vocab_size"] == n
    # min_count applies first, then the size limit
    tok = WordTokenizer.train(sentences, min_count=4, max_vocab_size=1000)
    assert tok.words == [w for w, c in zip(full.words, full.word_counts[4:]) if c >= 4]


def test_from_vocabulary():
    tok = WordTokenizer.from_vocabulary(
        ["zeta", "alpha", "mid"], [9, 5, 5], unk_count=3, stats={"total_words": 22}
    )
    assert tok.words == ["zeta", "alpha", "mid"]  # given order kept, no re-sorting
    assert tok.word_counts.tolist() == [3, 0, 0, 0, 9, 5, 5]
    assert tok.vocab_stats == {"total_words": 22}
    assert tok("ALPHA zeta unknown")["input_ids"] == [5, 4, 0]

    no_counts = WordTokenizer.from_vocabulary(["x", "y"])
    assert no_counts.word_counts is None
    assert no_counts.vocab_stats == {}

    with pytest.raises(HFEmbeddingsError, match="duplicate word 'x'"):
        WordTokenizer.from_vocabulary(["x", "y", "x"])
    with pytest.raises(HFEmbeddingsError, match="duplicate word '<unk>'"):
        WordTokenizer.from_vocabulary(["x", "<unk>"])
    with pytest.raises(HFEmbeddingsError, match="expected 2 counts, found 3"):
        WordTokenizer.from_vocabulary(["x", "y"], [1, 2, 3])
    with pytest.raises(HFEmbeddingsError, match="unicode_normalization must be one of"):
        WordTokenizer.from_vocabulary(["x"], unicode_normalization="NFX")


# ------------------------------------------------------------------------------------- save / reload
def test_save_pretrained_reloads_through_autotokenizer(tmp_path):
    tok = WordTokenizer.train(TEXTS, min_count=1)
    tok.save_pretrained(tmp_path)
    assert {"tokenizer.json", "tokenizer_config.json", "word_counts.json"} <= {
        p.name for p in tmp_path.iterdir()
    }

    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert type(loaded) is WordTokenizer  # not a generic TokenizersBackend
    assert isinstance(loaded, TokenizersBackend)
    assert loaded.get_vocab() == tok.get_vocab()
    assert loaded.words == tok.words
    np.testing.assert_array_equal(loaded.word_counts, tok.word_counts)
    assert loaded.vocab_stats == tok.vocab_stats
    assert loaded.vocab_stats["total_words"] == 32
    for text in [*TEXTS, "an unseen word, The CAT!", "", "  the   the  "]:
        assert loaded(text)["input_ids"] == tok(text)["input_ids"]
    batch = ["the cat sat", "dog"]
    assert loaded(batch, padding=True) == tok(batch, padding=True)
    assert tok(batch, padding=True)["input_ids"][1][1:] == [tok.pad_token_id] * 2

    # a word list of a million-token document encodes without truncation warnings, and not 1e30
    assert loaded.model_max_length == tok.model_max_length == 1_000_000
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["model_max_length"] == 1_000_000

    counts_file = json.loads((tmp_path / "word_counts.json").read_text())
    assert counts_file["format_version"] == 1
    assert counts_file["counts"]["the"] == 5 and counts_file["counts"]["<unk>"] == 0


def test_reloaded_tokenizer_keeps_its_normalisation_options(tmp_path):
    tok = WordTokenizer.from_vocabulary(
        ["Don't", "ﬁne"], lowercase=False, unicode_normalization=None, split_punctuation=False
    )
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.word_counts is None
    assert loaded.pre_tokenize("Don't ﬁne") == ["Don't", "ﬁne"]
    assert loaded("Don't ﬁne don't")["input_ids"] == [4, 5, 0]


def test_bad_word_counts_version_is_reported(tmp_path):
    tok = WordTokenizer.train(TEXTS, min_count=1)
    tok.save_pretrained(tmp_path)
    data = json.loads((tmp_path / "word_counts.json").read_text())
    data["format_version"] = 99
    (tmp_path / "word_counts.json").write_text(json.dumps(data))
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    with pytest.raises(HFEmbeddingsError, match="format version 99 is not supported"):
        _ = loaded.word_counts


def test_encode_decode_round_trip():
    tok = WordTokenizer.train(TEXTS, min_count=1)
    for text in ["the cat sat on the mat .", "a dog and a bird"]:
        ids = tok(text)["input_ids"]
        assert 0 not in ids
        assert tok.decode(ids) == " " + text  # every word decodes with the space before it
        assert tok.convert_ids_to_tokens(ids) == text.split()
    ids = tok("the zebra sat")["input_ids"]
    assert ids == [4, 0, tok.convert_tokens_to_ids("sat")]
    assert tok.decode(ids) == " the <unk> sat"
    assert tok.decode(ids, skip_special_tokens=True) == " the sat"
    assert tok("the cat")["attention_mask"] == [1, 1]


def test_a_decoded_continuation_starts_with_its_space(tmp_path):
    """transformers' text-generation pipeline appends the decoded new tokens to the prompt as they are:
    "the cat" + decode(["sat", "on"]) must read "the cat sat on", also for a tokenizer.json saved before
    the decoder existed (no "decoder"), loaded with AutoTokenizer or WordTokenizer."""
    tok = WordTokenizer.train(TEXTS, min_count=1)
    cont = tok("sat on the mat", add_special_tokens=False)["input_ids"]
    assert "the cat" + tok.decode(cont) == "the cat sat on the mat"
    assert tok.decode(cont[:1]) == " sat" and tok.decode([]) == ""
    tok.save_pretrained(tmp_path)
    data = json.loads((tmp_path / "tokenizer.json").read_text())
    assert data["decoder"] is not None
    data["decoder"] = None  # the layout of folders written before
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    for loaded in (AutoTokenizer.from_pretrained(tmp_path), WordTokenizer.from_pretrained(tmp_path)):
        assert "the cat" + loaded.decode(cont) == "the cat sat on the mat"
        assert loaded.decode(loaded("The cat sat.")["input_ids"]) == " the cat sat ."


# ---------------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, ["fine", "abc", "123", "don", "'", "t", "stop", "!", "«", "oui", "»", "σοφοσ", "café"]),
        (
            {"lowercase": False},
            ["fine", "ABC", "123", "Don", "'", "t", "STOP", "!", "«", "Oui", "»", "ΣΟΦΟΣ", "Café"],
        ),
        (
            {"unicode_normalization": "NFC"},
            ["ﬁne", "ａｂｃ", "１２３", "don", "'", "t", "stop", "!", "«", "oui", "»", "σοφοσ", "café"],
        ),
        (
            {"unicode_normalization": None, "lowercase": False},
            ["ﬁne", "ＡＢＣ", "１２３", "Don", "'", "t", "STOP", "!", "«", "Oui", "»", "ΣΟΦΟΣ", "Cafe\u0301"],
        ),
        ({"split_punctuation": False}, ["fine", "abc", "123", "don't", "stop!", "«oui»", "σοφοσ", "café"]),
    ],
)
def test_normalisation_options(options, expected):
    tok = WordTokenizer.from_vocabulary(["x"], **options)
    assert tok.pre_tokenize("ﬁne ＡＢＣ １２３ Don't STOP! «Oui» ΣΟΦΟΣ Cafe\u0301") == expected


def test_nfkc_merges_variants_into_one_vocabulary_entry():
    tok = WordTokenizer.train(["ﬁne fine ＦＩＮＥ Fine"], min_count=1)
    assert tok.words == ["fine"]
    assert tok.word_counts[4] == 4
    raw = WordTokenizer.train(
        ["ﬁne fine ＦＩＮＥ Fine"], min_count=1, unicode_normalization=None, lowercase=False
    )
    assert sorted(raw.words) == sorted(["ﬁne", "fine", "ＦＩＮＥ", "Fine"])


# ------------------------------------------------------------------------------------------ fast path
FAST_PATH_LINES = [
    "Hello, world! (round) [square] {curly} <angle> a.b,c;d:e?f'g\"h",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ every ASCII punctuation mark",
    "x--y ...ellipsis... wait!!! don't 'quoted' \"double\" a/b\\c under_score",
    "«Bonjour» „Hallo“ “quoted” ‘single’ — dash – en … ellipsis ¿Qué? ¡Hola! ‹›",
    "日本語の文章、句読点。中文，标点！「引用」『二重』（括弧）",
    "café naïve résumé Ångström e\u0301 combining a\u0308 o\u0302\u0323",
    "ﬁne ﬂow ﬀ ＦＵＬＬ－ｗｉｄｔｈ ＡＢＣ１２３！ Ⅻ ㎏ ½ ²",
    "ΟΔΥΣΣΕΥΣ ΣΊΣΥΦΟΣ Σ σς ΣΑΣ.",
    "İstanbul ǅemal ß ẞ Straße",
    "tab\tseparated\twords   multiple   spaces  ",
    "non\u00a0breaking\u00a0space and\u2009thin\u3000ideographic\u202fnarrow",
    "ctrl\x1cfs\x1dgs\x1ers\x1fus end \x1c leading",
    "\x1f",
    "",
    "   ",
    "\t",
    "emoji 😀 👍🏽 text ❤️",
    "zero\u200bwidth soft\u00adhyphen bom\ufeffin",
    "line\u2028sep para\u2029sep nel\x85here vt\x0bff\x0ccr\rend",
    "١٢٣ arabic، سؤال؟ hebrew ״quote״",
    "new punctuation ⹉ ᭽ ⹗ ౷ (newer than Rust's tables) ⸘ ⁇",
    "a\ufdd0noncharacter \ufffe here",
    "MiXeD CaSe WORDS ÀÉÎÕÜ",
]


@pytest.mark.parametrize("split_punctuation", [True, False], ids=["punct", "nopunct"])
@pytest.mark.parametrize("unicode_normalization", ["NFKC", "NFC", None, "NFD", "NFKD"])
@pytest.mark.parametrize("lowercase", [True, False], ids=["lower", "cased"])
def test_fast_splitter_matches_rust_pipeline(lowercase, unicode_normalization, split_punctuation):
    backend = build_backend(
        {"<unk>": 0},
        lowercase=lowercase,
        unicode_normalization=unicode_normalization,
        split_punctuation=split_punctuation,
    )
    split = fast_splitter(backend)
    assert split is not None
    expected = [_rust_words(backend, line) for line in FAST_PATH_LINES]
    assert split(FAST_PATH_LINES) == expected  # one batch
    assert [split([line])[0] for line in FAST_PATH_LINES] == expected  # line by line
    ascii_lines = [line for line in FAST_PATH_LINES if line.isascii()]
    assert split(ascii_lines) == [_rust_words(backend, line) for line in ascii_lines]  # the ASCII shortcut
    assert split([]) == []

    # random mixes of the awkward characters above, with a fixed seed
    rng = random.Random(1234)
    alphabet = "".join(FAST_PATH_LINES)
    lines = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 25))) for _ in range(150)]
    lines += [
        "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(0, 25))) for _ in range(150)
    ]
    assert split(lines) == [_rust_words(backend, line) for line in lines]

    # the flat form corpus building uses (one C-level split + numpy line lengths for ASCII batches)
    for batch in (FAST_PATH_LINES, ascii_lines, lines, ["", "a b", "", "  c  "], ["single"], []):
        per_line = [_rust_words(backend, line) for line in batch]
        words, lengths = split.flat(batch)
        assert words == [w for ws in per_line for w in ws]
        assert lengths.tolist() == [len(ws) for ws in per_line]


def test_fast_splitter_keeps_control_separators_inside_words():
    backend = build_backend({"<unk>": 0})
    split = fast_splitter(backend)
    assert split(["a\x1cb c\x1fd", "e\x1d\x1ef"]) == [["a\x1cb", "c\x1fd"], ["e\x1d\x1ef"]]
    # the marks the fast path hides them behind are themselves in the text: still exact
    assert split(["x\ufdd0y\x1cz w"]) == [["x\ufdd0y\x1cz", "w"]]
    # a newline inside one "line" is whitespace, as it is to Rust (and must not recurse forever)
    assert split(["a b\nc", "d"]) == [["a", "b", "c"], ["d"]]


def test_fast_splitter_uses_rusts_punctuation_table():
    backend = build_backend({"<unk>": 0})
    # U+2E49 is punctuation to Python's unicodedata, not to the Rust tokenizer's (older) tables
    assert _rust_words(backend, "a\u2e49b") == ["a\u2e49b"]
    assert fast_splitter(backend)(["a\u2e49b", "a«b"]) == [["a\u2e49b"], ["a", "«", "b"]]


@pytest.mark.parametrize(
    "customise",
    [
        lambda b: setattr(b, "pre_tokenizer", pre_tokenizers.Whitespace()),
        lambda b: setattr(b, "pre_tokenizer", pre_tokenizers.Sequence([pre_tokenizers.Whitespace()])),
        lambda b: setattr(b, "pre_tokenizer", pre_tokenizers.BertPreTokenizer()),
        lambda b: setattr(b, "normalizer", normalizers.BertNormalizer(lowercase=True, strip_accents=True)),
        lambda b: setattr(
            b,
            "pre_tokenizer",
            pre_tokenizers.Sequence([pre_tokenizers.Punctuation(), pre_tokenizers.WhitespaceSplit()]),
        ),
        lambda b: setattr(
            b,
            "pre_tokenizer",
            pre_tokenizers.Sequence(
                [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("removed")]
            ),
        ),
        lambda b: setattr(
            b, "normalizer", normalizers.Sequence([normalizers.NFKC(), normalizers.StripAccents()])
        ),
    ],
    ids=[
        "whitespace",
        "seq-whitespace",
        "bert-pre",
        "bert-normalizer",
        "punct-first",
        "punct-removed",
        "strip",
    ],
)
def test_unknown_pipelines_fall_back_to_rust(customise):
    texts = ["Wait... the café's cat sat!", "The DOG, the cat; the café."]
    tok = WordTokenizer.from_vocabulary(
        ["the", "cat", "cafe", "café", "wait", "...", ".", "!", "sat", "dog", ","]
    )
    customise(tok.backend_tokenizer)
    assert fast_splitter(tok.backend_tokenizer) is None
    corpus = load_corpus(texts, tokenizer=tok, use_cache=False)
    assert corpus.tokenizer is tok
    for i, text in enumerate(texts):
        assert corpus.sentence(i).tolist() == tok(text)["input_ids"]
        expected = [tok.convert_tokens_to_ids(w) for w in _rust_words(tok.backend_tokenizer, text)]
        assert corpus.sentence(i).tolist() == expected


def test_fallback_differs_from_fast_path_where_the_pipelines_differ():
    """Guards the test above: with a Whitespace pre-tokenizer, "..." stays one word (fast path: three)."""
    tok = WordTokenizer.from_vocabulary(["wait", "...", "."])
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    corpus = load_corpus(["wait..."], tokenizer=tok, use_cache=False)
    assert corpus.sentence(0).tolist() == [4, 5]


@pytest.mark.parametrize("split_punctuation", [True, False])
def test_literal_special_tokens_match_between_corpus_and_tokenizer(split_punctuation):
    # PTB-style corpora spell "<unk>" literally: training ids and tok(text) must agree on it
    lines = ["the <unk> cat sat</s>", "a<unk>b <s> dog", "x, <pad>. y", "<UNK> lower"] * 2
    corpus = load_corpus(lines, min_count=1, split_punctuation=split_punctuation, use_cache=False)
    tok = corpus.tokenizer
    for i, line in enumerate(lines):
        assert corpus.sentence(i).tolist() == tok(line)["input_ids"]
    assert corpus.decode(0) == ["the", "<unk>", "cat", "sat", "</s>"]
    assert "<unk>" not in tok.words and "</s>" not in tok.words
