"""Tiny models with planted weights for the demo tests: answers are known exactly, nothing is trained.

- word2vec: groups (royalty, animals, colours, places) on separate axes, so king - man + woman = queen,
  cat's nearest word is dog, and red is the odd one out of cat dog horse red; its card shows a loss curve;
- glove: the same geometry without 'cow' (a word only one model knows) and with 'feline' near 'cat';
- nnlm: a bigram model (one-hot context, direct connections only) whose next-word distribution after
  'the' is cat 0.7 / dog 0.3, and after 'cat' is sat 0.9;
- a fake ELMo following the interface of `hf_embeddings.models.elmo.embed_sentences`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from hf_embeddings import WordTokenizer, save_model_folder

AXES = ["royal", "male", "female", "animal", "colour", "country", "city", "pet", "farm", "misc"]
VECTORS = {
    "king": {"royal": 1, "male": 1, "misc": 0.1},
    "queen": {"royal": 1, "female": 1, "misc": 0.1},
    "prince": {"royal": 1, "male": 0.7, "misc": 0.3},
    "man": {"male": 1, "misc": 0.1},
    "woman": {"female": 1, "misc": 0.1},
    "cat": {"animal": 1, "pet": 1},
    "dog": {"animal": 1, "pet": 0.9, "farm": 0.1},
    "horse": {"animal": 1, "pet": 0.1, "farm": 0.9},
    "cow": {"animal": 1, "farm": 1, "misc": 0.05},
    "red": {"colour": 1, "misc": 0.2},
    "green": {"colour": 1, "misc": 0.3},
    "blue": {"colour": 1, "misc": 0.45},
    "france": {"country": 1, "misc": 0.1},
    "germany": {"country": 1, "misc": 0.2},
    "paris": {"city": 1, "country": 0.3, "misc": 0.1},
    "berlin": {"city": 1, "country": 0.3, "misc": 0.2},
}
EVAL_RESULTS = {
    "wordsim353_spearman": 0.61,
    "wordsim353_n_pairs": 353,
    "wordsim353_n_oov": 300,
    "simlex999_spearman": 0.22,
    "google_analogy_accuracy": 0.5,
}
# a loss per epoch: the card of the word2vec folder shows its loss curve (an image file beside the card)
TRAINING_LOG = {"log_history": [{"epoch": e, "epoch_loss": 10.0 / e} for e in (1, 2, 3)]}
LM_WORDS = ["the", "sat", "on", "ran", "mat"]
BIGRAMS = {"the": {"cat": 0.7, "dog": 0.3}, "cat": {"sat": 0.9, "ran": 0.1}, "sat": {"on": 1.0},
           "on": {"the": 0.6, "mat": 0.4}, "dog": {"ran": 1.0}, "ran": {"</s>": 1.0}}  # fmt: skip


def planted_table(words: list[str], vectors: dict[str, dict[str, float]]) -> np.ndarray:
    table = np.zeros((len(words), len(AXES)), dtype=np.float32)
    for i, w in enumerate(words):
        for axis, value in vectors[w].items():
            table[i, AXES.index(axis)] = value
    return table


def _with_specials(tok: WordTokenizer, table: np.ndarray) -> torch.Tensor:
    """Rows for the special tokens (ids 0..3) first: small distinct vectors, never query answers."""
    specials = np.random.default_rng(0).normal(0, 0.01, (tok.num_special_tokens, table.shape[1]))
    return torch.tensor(np.vstack([specials, table]), dtype=torch.float32)


def save_word2vec(folder: Path) -> Path:
    from hf_embeddings.models.word2vec import Word2VecConfig, Word2VecModel

    words = list(VECTORS)
    tok = WordTokenizer.from_vocabulary(words, counts=list(range(100 * len(words), 0, -100)))
    model = Word2VecModel(Word2VecConfig(vocab_size=len(tok), vector_size=len(AXES), min_count=1))
    with torch.no_grad():
        model.embeddings.weight.copy_(_with_specials(tok, planted_table(words, VECTORS)))
    return save_model_folder(
        model, tok, folder, eval_results=EVAL_RESULTS, training_log=TRAINING_LOG, remote_code=False
    )


def save_random_word2vec(folder: Path, words: list[str], counts: list[int], dim: int = 8) -> Path:
    """A word2vec folder over exactly `words` (most frequent first) with random vectors: a vocabulary
    shaped like a real corpus's (stop words, numbers, punctuation on top) for the example pickers."""
    from hf_embeddings.models.word2vec import Word2VecConfig, Word2VecModel

    tok = WordTokenizer.from_vocabulary(words, counts=counts)
    model = Word2VecModel(Word2VecConfig(vocab_size=len(tok), vector_size=dim, min_count=1))
    table = np.random.default_rng(0).normal(0, 1, (len(words), dim))
    with torch.no_grad():
        model.embeddings.weight.copy_(_with_specials(tok, table))
    return save_model_folder(model, tok, folder, remote_code=False)


def save_glove(folder: Path) -> Path:
    """GloVe without 'cow', with 'feline'; its eval results live only in the README's model-index."""
    from hf_embeddings.models.glove import GloVeConfig, GloVeModel

    vectors = {w: v for w, v in VECTORS.items() if w != "cow"}
    vectors["feline"] = {"animal": 1, "pet": 1.1, "misc": 0.1}
    words = list(vectors)
    tok = WordTokenizer.from_vocabulary(words, counts=list(range(100 * len(words), 0, -100)))
    model = GloVeModel(GloVeConfig(vocab_size=len(tok), vector_size=len(AXES)))
    with torch.no_grad():
        model.embeddings.weight.copy_(_with_specials(tok, planted_table(words, vectors)))
        model.context_embeddings.weight.zero_()
    out = save_model_folder(model, tok, folder, eval_results={"wordsim353_spearman": 0.45}, remote_code=False)
    (out / "eval_results.json").unlink()
    return out


def save_nnlm(folder: Path) -> Path:
    """A bigram LM planted in an NNLM: one-hot word vectors, logits = W[:, previous word]."""
    from hf_embeddings.models.nnlm import NNLMConfig, NNLMForCausalLM

    tok = WordTokenizer.from_vocabulary(list(VECTORS) + LM_WORDS)
    v = len(tok)
    config = NNLMConfig(vocab_size=v, context_size=1, embedding_dim=v, hidden_size=0, direct_connections=True)
    lm = NNLMForCausalLM(config)
    weight = torch.full((v, v), -30.0)
    for prev, nexts in BIGRAMS.items():
        for nxt, p in nexts.items():
            weight[tok.convert_tokens_to_ids(nxt), tok.convert_tokens_to_ids(prev)] = math.log(p)
    with torch.no_grad():
        lm.embeddings.weight.copy_(torch.eye(v))
        lm.direct.weight.copy_(weight)
        lm.direct.bias.zero_()
    folder.mkdir(parents=True)
    lm.save_pretrained(folder)
    tok.save_pretrained(folder)
    (folder / "eval_results.json").write_text(json.dumps({"eval_perplexity": 1.9}))
    return folder


class FakeElmoTokenizer:
    unk_token = "<unk>"

    def pre_tokenize(self, text: str) -> list[str]:
        return text.lower().split()


class FakeElmo:
    """Three layers: 0 = a fixed vector per word; 1 and 2 add the mean of the sentence (more at 2)."""

    def scalar_mix_weights(self) -> list[tuple[list[float], float]]:
        return [([0.2, 0.3, 0.5], 1.5)]


def _word_vector(word: str, dim: int = 16) -> np.ndarray:
    seed = sum(ord(c) * 31**i for i, c in enumerate(word)) % (2**32)
    return np.random.default_rng(seed).standard_normal(dim)


def fake_embed_sentences(model, tokenizer, sentences, batch_size: int = 32) -> list[np.ndarray]:
    out = []
    for sentence in sentences:
        tokens = sentence if isinstance(sentence, list) else tokenizer.pre_tokenize(sentence)
        base = np.stack([_word_vector(t) for t in tokens])
        context = base.mean(axis=0)
        out.append(np.stack([base, base + context, base + 3 * context]).astype(np.float32))
    return out
