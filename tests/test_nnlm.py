"""NNLM family: model, training through Trainer, generation, pipeline, save/load, Kneser-Ney baseline."""

from __future__ import annotations

import math
import random
import warnings
from collections import Counter

import numpy as np
import pytest
import torch

import hf_embeddings
from hf_embeddings import load_corpus
from hf_embeddings.models.nnlm import (
    FAMILY,
    KneserNeyLM,
    NGramBatches,
    NNLMConfig,
    NNLMForCausalLM,
    NNLMModel,
    ngram_windows,
    perplexity,
    sentence_stream,
    token_log_probs,
)
from hf_embeddings.models.nnlm.kneser_ney import estimate_discounts

TOY = [
    "i like milk",
    "i hate coffee",
    "you like milk",
    "you hate coffee",
    "we drink water",
    "they eat bread",
    "we like milk",
    "they hate coffee",
]


# tiny models: one thread is much faster than two fighting over a busy machine, and bit-exact
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def toy_corpus():
    return load_corpus(TOY * 20, min_count=1, show_progress=False)


def small_config(corpus, **kw) -> NNLMConfig:
    opts = {"context_size": 2, "embedding_dim": 8, "hidden_size": 16, "batch_size": 32, "learning_rate": 2e-2}
    opts.update(kw)
    return NNLMConfig(vocab_size=len(corpus.tokenizer), **opts)


def fit_manual(model, corpus, steps=150, lr=2e-2, seed=0):
    torch.manual_seed(seed)
    ds = NGramBatches(corpus, model.config.context_size, batch_size=32, seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    model.train()
    for step in range(steps):
        ds.set_epoch(step // len(ds))
        loss = model(**ds[step % len(ds)]).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    model.eval()
    return losses


def next_word_probs(model, tok, prompt):
    ids = torch.tensor([tok(prompt, add_special_tokens=False)["input_ids"]])
    return torch.softmax(model(ids, logits_to_keep=1).logits[0, -1].float(), -1)


# --------------------------------------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "options",
    [
        {"direct_connections": True},
        {"direct_connections": False},
        {"adaptive_softmax": True, "adaptive_softmax_cutoffs": [8]},
        {
            "adaptive_softmax": True,
            "direct_connections": False,
            "adaptive_softmax_cutoffs": [6, 10],
            "adaptive_softmax_div_value": 2.0,
        },
        {"hidden_size": 0},
        {"tie_word_embeddings": True, "hidden_size": 8, "dropout": 0.1},
    ],
    ids=["direct", "no-direct", "adaptive", "adaptive-no-direct", "no-hidden", "tied-dropout"],
)
def test_memorises_toy_language(toy_corpus, options):
    torch.manual_seed(0)
    tok = toy_corpus.tokenizer
    model = NNLMForCausalLM(small_config(toy_corpus, **options))
    losses = fit_manual(model, toy_corpus, steps=150)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    for prompt, word in (
        ("i like", "milk"),
        ("you hate", "coffee"),
        ("we drink", "water"),
        ("they eat", "bread"),
    ):
        p = next_word_probs(model, tok, prompt)
        assert p.argmax().item() == tok.convert_tokens_to_ids(word), prompt
        assert p[tok.convert_tokens_to_ids(word)] > 0.8
    # the object ends the sentence
    p = next_word_probs(model, tok, "i like milk")
    assert p.argmax().item() == tok.eos_token_id


def test_direct_connections_change_the_parameters(toy_corpus):
    with_w = NNLMForCausalLM(small_config(toy_corpus))
    without = NNLMForCausalLM(small_config(toy_corpus, direct_connections=False))
    names = {n for n, _ in with_w.named_parameters()}
    assert "direct.weight" in names and "direct.weight" not in {n for n, _ in without.named_parameters()}
    cfg = with_w.config
    assert with_w.direct.weight.shape == (cfg.vocab_size, cfg.context_size * cfg.embedding_dim)
    assert with_w.lm_head.weight.shape == (cfg.vocab_size, cfg.hidden_size)


def test_formula_matches_the_paper(toy_corpus):
    """y = b + W x + U tanh(d + H x), x = [C(w_{t-n+1}), ..., C(w_t)] (oldest first)."""
    torch.manual_seed(1)
    model = NNLMForCausalLM(small_config(toy_corpus, context_size=3)).eval()
    ids = torch.tensor([[5, 6, 7, 8]])
    C = model.embeddings.weight
    x = torch.cat([C[6], C[7], C[8]])
    y = (
        model.lm_head.bias
        + model.direct.weight @ x
        + model.lm_head.weight @ torch.tanh(model.hidden.bias + model.hidden.weight @ x)
    )
    torch.testing.assert_close(model(ids).logits[0, -1], y)
    # the first position sees <s> <s> w_0
    bos = model.config.bos_token_id
    x0 = torch.cat([C[bos], C[bos], C[5]])
    y0 = (
        model.lm_head.bias
        + model.direct.weight @ x0
        + model.lm_head.weight @ torch.tanh(model.hidden.bias + model.hidden.weight @ x0)
    )
    torch.testing.assert_close(model(ids).logits[0, 0], y0)


def test_any_input_length(toy_corpus):
    """Only the last context_size tokens matter; shorter inputs are <s>-padded; masks read as <s>."""
    model = NNLMForCausalLM(small_config(toy_corpus, context_size=3)).eval()
    long = torch.tensor([[4, 5, 6, 7, 8, 9, 10]])
    torch.testing.assert_close(model(long).logits[:, -1], model(long[:, -3:]).logits[:, -1])
    bos = model.config.bos_token_id
    torch.testing.assert_close(
        model(torch.tensor([[9]])).logits[:, -1], model(torch.tensor([[bos, bos, 9]])).logits[:, -1]
    )
    padded = torch.tensor([[1, 1, 9]])
    torch.testing.assert_close(
        model(padded, attention_mask=torch.tensor([[0, 0, 1]])).logits[:, -1],
        model(torch.tensor([[9]])).logits[:, -1],
    )
    assert model(long, logits_to_keep=2).logits.shape == (1, 2, model.config.vocab_size)


def test_labels_follow_the_causal_lm_convention(toy_corpus):
    torch.manual_seed(0)
    model = NNLMForCausalLM(small_config(toy_corpus)).eval()
    ids = torch.tensor([[4, 5, 6, 7], [8, 9, 10, 11]])
    out = model(ids, labels=ids, return_logits=True)
    manual = torch.nn.functional.cross_entropy(
        out.logits[:, :-1].reshape(-1, out.logits.shape[-1]), ids[:, 1:].reshape(-1)
    )
    torch.testing.assert_close(out.loss, manual)
    assert model(ids, labels=ids).logits is None  # loss only, unless asked
    masked = ids.clone()
    masked[:, :3] = -100
    only_last = model(ids, labels=masked).loss
    manual_last = torch.nn.functional.cross_entropy(out.logits[:, 2], ids[:, 3])
    torch.testing.assert_close(only_last, manual_last)
    # the sync-free path of the training batches: only the kept positions are scored
    torch.testing.assert_close(model(ids, labels=masked, logits_to_keep=torch.tensor([2])).loss, manual_last)
    torch.testing.assert_close(
        model(ids, labels=ids, logits_to_keep=2).loss, manual_last
    )  # position 3 has no label
    summed = model(ids, labels=ids, num_items_in_batch=10.0).loss
    torch.testing.assert_close(summed, out.loss * 6 / 10)


def test_bad_inputs(toy_corpus):
    model = NNLMForCausalLM(small_config(toy_corpus)).eval()
    with pytest.raises(ValueError, match="empty input"):
        model(torch.zeros((1, 0), dtype=torch.long))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(torch.tensor([[4, 10_000]]))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(torch.tensor([[-1, 4]]))
    with pytest.raises(ValueError, match="input_ids"):
        model(None)
    with pytest.raises(ValueError, match="shape of input_ids"):
        model(torch.tensor([[4, 5]]), labels=torch.tensor([[4]]))
    with pytest.raises(TypeError, match="unexpected keyword"):
        model(torch.tensor([[4, 5]]), not_an_argument=1)
    with pytest.raises(ValueError, match="hidden_size == embedding_dim"):
        NNLMConfig(vocab_size=20, embedding_dim=8, hidden_size=16, tie_word_embeddings=True)
    with pytest.raises(ValueError, match="adaptive_softmax_cutoffs"):
        NNLMConfig(vocab_size=20, adaptive_softmax=True, adaptive_softmax_cutoffs=[30])
    with pytest.raises(ValueError, match="direct_connections"):
        NNLMConfig(vocab_size=20, hidden_size=0, direct_connections=False)
    with pytest.raises(ValueError, match="context_size"):
        NNLMConfig(vocab_size=20, context_size=0)


# --------------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------------
def test_windows_respect_sentences():
    ids = np.array([10, 11, 12, 20, 30, 31], dtype=np.int32)
    offsets = np.array([0, 3, 4, 4, 6])  # the third sentence is empty (dropped)
    stream, targets, starts = sentence_stream(ids, offsets, 2)
    # naive construction
    naive = []
    for s, e in zip(offsets[:-1], offsets[1:]):
        sent = [2, 2] + ids[s:e].tolist() + [3]
        if e > s:
            naive += [sent[i - 2 : i + 1] for i in range(2, len(sent))]
    got = stream[targets[:, None] + np.arange(-2, 1)].tolist()
    assert got == naive
    assert (targets - starts[targets] >= 2).all()

    class C:  # a stand-in corpus
        pass

    c = C()
    c.ids, c.offsets = ids, offsets
    assert ngram_windows(c, 2).tolist() == naive


def test_batches_cover_every_window_once_per_epoch(toy_corpus):
    ds = NGramBatches(toy_corpus, 2, batch_size=7, seed=3)
    all_rows = [tuple(r) for i in range(len(ds)) for r in ds[i]["input_ids"].tolist()]
    expected = [tuple(r) for r in ngram_windows(toy_corpus, 2).tolist()]
    assert sorted(all_rows) == sorted(expected)
    assert sum(int(ds[i]["num_words"]) for i in range(len(ds))) == len(expected)
    first = ds[0]["input_ids"].clone()
    ds.set_epoch(1)
    assert not torch.equal(first, ds[0]["input_ids"])  # reshuffled
    b = ds[0]
    assert (b["labels"][:, :-1] == -100).all() and torch.equal(b["labels"][:, -1], b["input_ids"][:, -1])


# --------------------------------------------------------------------------------------------------------
# perplexity
# --------------------------------------------------------------------------------------------------------
def test_perplexity_by_hand(toy_corpus):
    """A model whose output is its bias alone: p(w) = softmax(b)(w) whatever the context."""
    tok = toy_corpus.tokenizer
    model = NNLMForCausalLM(small_config(toy_corpus)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.lm_head.bias[tok.convert_tokens_to_ids("milk")] = math.log(4.0)
        model.lm_head.bias[tok.eos_token_id] = math.log(2.0)
    V = model.config.vocab_size
    z = (V - 2) + 4.0 + 2.0  # normaliser of the softmax
    held_out = load_corpus(["i like milk", "milk"], tokenizer=tok, show_progress=False)
    # targets: i like milk </s> milk </s>
    nll = [math.log(z), math.log(z), math.log(z / 4), math.log(z / 2), math.log(z / 4), math.log(z / 2)]
    expected = math.exp(sum(nll) / len(nll))
    np.testing.assert_allclose(-token_log_probs(model, held_out), nll, rtol=1e-6)
    assert perplexity(model, held_out)["perplexity"] == pytest.approx(expected, rel=1e-6)
    assert perplexity(model, held_out)["n_tokens"] == 6


def test_trainer_eval_perplexity_is_corpus_perplexity(toy_corpus, tmp_path):
    """Trainer's eval_loss over window batches of uneven size is the per-token mean NLL."""
    from hf_embeddings.training.fit import fit

    cfg = small_config(toy_corpus, epochs=2)
    held_out = load_corpus(TOY[:5], tokenizer=toy_corpus.tokenizer, show_progress=False)
    fitted = fit(
        FAMILY, toy_corpus, cfg, device="cpu", seed=0, output_dir=tmp_path,
        data_options={"eval_corpus": held_out, "eval_batch_size": 7},
    )  # fmt: skip
    trainer, model, result = fitted.trainer, fitted.model, fitted.train_output
    # a per-batch mean loss is logged as such (not per item), and evaluation does not leak into it
    history = trainer.epoch_history
    assert "epoch_loss_per_item" not in history[-1]
    assert [h["epoch_mean_batch_loss"] * len(trainer.train_dataset) for h in history] == pytest.approx(
        [h["epoch_loss"] for h in history], rel=1e-12
    )
    assert np.mean([h["epoch_mean_batch_loss"] for h in history]) == pytest.approx(
        result.training_loss, rel=1e-5
    )
    metrics = trainer.evaluate()
    expected = perplexity(model.eval(), held_out)["perplexity"]
    assert metrics["eval_perplexity"] == pytest.approx(expected, rel=1e-5)
    assert any("eval_perplexity" in e for e in trainer.state.log_history)
    assert trainer.epoch_history and trainer.epoch_history[-1]["words_per_second"] > 0


# --------------------------------------------------------------------------------------------------------
# end to end: train through the API, reload, generate, pipeline, query API
# --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    from hf_embeddings.api import train

    torch.set_num_threads(1)
    random.seed(0)
    subjects, objects = (
        ["i", "you", "we", "they"],
        {"like": "milk", "hate": "coffee", "drink": "water", "eat": "bread"},
    )
    texts = []
    for _ in range(400):
        verb = random.choice(list(objects))
        texts.append(f"{random.choice(subjects)} {verb} {objects[verb]}")
    out = tmp_path_factory.mktemp("nnlm") / "model"
    train(
        "nnlm",
        texts,
        out,
        device="cpu",
        seed=0,
        show_progress=False,
        evaluate=True,
        config={
            "context_size": 2,
            "embedding_dim": 8,
            "hidden_size": 16,
            "epochs": 6,
            "batch_size": 64,
            "learning_rate": 2e-2,
            "validation_fraction": 0.1,
            "min_count": 1,
        },
    )
    return out


def test_api_training_reports_held_out_perplexity(trained_dir):
    import json

    log = json.loads((trained_dir / "training_log.json").read_text())
    evals = [e for e in log["log_history"] if "eval_perplexity" in e]
    assert len(evals) == 6
    # the language: subject 1/4, verb 1/4, then object and </s> certain -> perplexity exp(ln 4 / 2) = 2
    assert evals[-1]["eval_perplexity"] == pytest.approx(2.0, rel=0.1)
    assert evals[-1]["eval_perplexity"] == pytest.approx(math.exp(evals[-1]["eval_loss"]))
    assert (trained_dir / "model.safetensors").is_file()
    # the results file and the card carry the final held-out perplexity, and re-evaluating the folder
    # (no training split at hand) keeps it
    results = json.loads((trained_dir / "eval_results.json").read_text())
    assert results["heldout_perplexity"] == pytest.approx(evals[-1]["eval_perplexity"])
    card = (trained_dir / "README.md").read_text()
    assert "pipeline_tag: text-generation" in card
    assert f"{results['heldout_perplexity']:.2f}" in card or f"{results['heldout_perplexity']:.3f}" in card
    # the last epoch's training loss is the mean of its batch losses (the LM's loss is a per-batch mean)
    losses = [e["epoch_mean_batch_loss"] for e in log["epochs"]]
    assert len(losses) == 6 and losses[-1] < losses[0] and all(math.isfinite(v) for v in losses)
    assert "Mean training loss per batch in the last epoch" in card


def test_reevaluation_keeps_held_out_perplexity(trained_dir, tmp_path):
    import json
    import shutil

    from hf_embeddings.api import evaluate_dir

    copy = tmp_path / "m"
    shutil.copytree(trained_dir, copy)
    before = json.loads((copy / "eval_results.json").read_text())["heldout_perplexity"]
    results = evaluate_dir(copy)
    assert results["heldout_perplexity"] == before
    assert json.loads((copy / "eval_results.json").read_text())["heldout_perplexity"] == before


def test_save_load_round_trip(trained_dir, tmp_path):
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

    assert AutoConfig.from_pretrained(trained_dir).model_type == "hfe_nnlm"
    lm = AutoModelForCausalLM.from_pretrained(trained_dir)
    assert isinstance(lm, NNLMForCausalLM)
    tok = AutoTokenizer.from_pretrained(trained_dir)
    ids = torch.tensor([tok("we drink water", add_special_tokens=False)["input_ids"]])
    base = AutoModel.from_pretrained(trained_dir)
    assert isinstance(base, NNLMModel)
    torch.testing.assert_close(base.embeddings.weight, lm.embeddings.weight)
    assert base(ids).last_hidden_state.shape == (1, 3, 16)
    lm.save_pretrained(tmp_path / "again")
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "again")
    torch.testing.assert_close(again(ids).logits, lm(ids).logits)


def test_generate_continues_a_prompt(trained_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    lm = AutoModelForCausalLM.from_pretrained(trained_dir)
    tok = AutoTokenizer.from_pretrained(trained_dir)
    prompt = tok(["you hate"], add_special_tokens=False, return_tensors="pt")
    out = lm.generate(**prompt, max_new_tokens=5, do_sample=False)
    assert tok.convert_ids_to_tokens(out[0].tolist()) == ["you", "hate", "coffee", "</s>"]
    torch.manual_seed(0)
    sampled = lm.generate(**prompt, max_new_tokens=3, do_sample=True, top_k=2)
    assert sampled[0, 2].item() == tok.convert_tokens_to_ids("coffee")  # 'coffee' has ~all the mass
    start = lm.generate(torch.tensor([[tok.bos_token_id]]), max_new_tokens=4, do_sample=False)
    assert tok.convert_ids_to_tokens(start[0, 1:].tolist())[-1] == "</s>"


@pytest.mark.slow
def test_remote_code_loads_without_the_package(trained_dir, tmp_path):
    """The saved folder carries its code: trust_remote_code loads and generates with hf_embeddings hidden."""
    import json
    import os
    import subprocess
    import sys
    import sysconfig

    site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    code = f"""
import json, sys
sys.path[:0] = {site!r}
class Block:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "hf_embeddings" or name.startswith("hf_embeddings."):
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Block)
import torch
torch.set_num_threads(1)
from transformers import AutoModelForCausalLM, AutoTokenizer
m = AutoModelForCausalLM.from_pretrained({str(trained_dir)!r}, trust_remote_code=True)
t = AutoTokenizer.from_pretrained({str(trained_dir)!r}, trust_remote_code=True)
out = m.generate(**t(["you hate"], add_special_tokens=False, return_tensors="pt"), max_new_tokens=3, do_sample=False)
print(json.dumps({{"module": type(m).__module__, "words": t.convert_ids_to_tokens(out[0].tolist())}}))
"""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["module"].startswith("transformers_modules.")
    assert got["words"] == ["you", "hate", "coffee", "</s>"]


@pytest.mark.slow
def test_remote_code_spaces_words_and_suppresses_unk(trained_dir, tmp_path):
    """Without the package (trust_remote_code), a folder in the old layout (no decoder in tokenizer.json,
    <unk> not in the generation config) still decodes continuations with their space, works in the
    text-generation pipeline and never generates <unk>."""
    import json
    import os
    import subprocess
    import sys
    import sysconfig

    old = _old_layout_copy(trained_dir, tmp_path / "old")
    site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    code = f"""
import json, sys
sys.path[:0] = {site!r}
class Block:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "hf_embeddings" or name.startswith("hf_embeddings."):
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Block)
import torch
torch.set_num_threads(1)
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
path = {str(old)!r}
t = AutoTokenizer.from_pretrained(path, trust_remote_code=True)
m = AutoModelForCausalLM.from_pretrained(path, trust_remote_code=True)
gen = pipeline("text-generation", model=path, trust_remote_code=True)
with torch.no_grad():
    m.lm_head.bias[0] += 50.0
out = m.generate(**t(["you hate"], add_special_tokens=False, return_tensors="pt"), max_new_tokens=3, do_sample=False)
print(json.dumps({{
    "modules": [type(m).__module__, type(t).__module__],
    "decoded": "you hate" + t.decode(t("coffee", add_special_tokens=False)["input_ids"]),
    "pipeline": gen("you hate", max_new_tokens=3)[0]["generated_text"],
    "suppressed": m.generation_config.suppress_tokens,
    "words": t.convert_ids_to_tokens(out[0].tolist()),
}}))
"""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert all(m.startswith("transformers_modules.") for m in got["modules"]), got["modules"]
    assert got["decoded"] == got["pipeline"] == "you hate coffee"
    assert sorted(got["suppressed"]) == [0, 1, 2]
    assert got["words"] == ["you", "hate", "coffee", "</s>"]


def test_next_word_pipeline(trained_dir):
    from transformers import pipeline

    nxt = pipeline("next-word", model=str(trained_dir))
    top = nxt("they eat", top_k=3)
    assert [t["word"] for t in top][0] == "bread" and len(top) == 3
    probs = [t["probability"] for t in top]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    everything = nxt("they eat", top_k=10_000)
    assert sum(t["probability"] for t in everything) <= 1 + 1e-6
    assert all(t["word"] not in ("<pad>", "<s>") for t in everything)
    # only the last context_size words count (and only those are checked against the vocabulary)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nxt("i like milk and you eat", top_k=2) == nxt("you eat", top_k=2)
    # the first word of a sentence: the prompt <s>
    assert {t["word"] for t in nxt("<s>", top_k=4)} == {"i", "you", "we", "they"}
    with pytest.raises(ValueError, match="empty prompt"):
        nxt("   ")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = nxt("zebras eat", top_k=1)
    assert any("zebras" in str(w.message) for w in caught)
    assert res[0]["word"] == "bread"
    with pytest.raises(ValueError, match="top_k"):
        nxt("i like", top_k=0)


def _old_layout_copy(trained_dir, target):
    """A copy of `trained_dir` as folders were written before the word decoder and the `<unk>`
    suppression existed: no decoder in tokenizer.json, only <pad> and <s> suppressed."""
    import json
    import shutil

    shutil.copytree(trained_dir, target)
    tok_json = json.loads((target / "tokenizer.json").read_text())
    tok_json["decoder"] = None
    (target / "tokenizer.json").write_text(json.dumps(tok_json))
    gen = json.loads((target / "generation_config.json").read_text())
    gen["suppress_tokens"] = [1, 2]
    (target / "generation_config.json").write_text(json.dumps(gen))
    return target


def test_text_generation_pipeline_spaces_the_continuation(trained_dir, tmp_path):
    """transformers' own text-generation pipeline appends the decoded continuation to the prompt: words
    are separated by single spaces (it used to give 'you hatecoffee'), old folders included."""
    from transformers import pipeline

    for folder in (trained_dir, _old_layout_copy(trained_dir, tmp_path / "old")):
        gen = pipeline("text-generation", model=str(folder))
        assert gen("you hate", max_new_tokens=3) == [{"generated_text": "you hate coffee"}]
        assert gen("you hate", max_new_tokens=3, return_full_text=False) == [{"generated_text": " coffee"}]
        torch.manual_seed(0)
        sampled = gen("you", max_new_tokens=4, do_sample=True)[0]["generated_text"]
        assert sampled == " ".join(sampled.split()) and len(sampled.split()) == 3, sampled


def _unk_loving(lm):
    """`lm` with <unk> made the likeliest next word everywhere."""
    with torch.no_grad():
        lm.lm_head.bias[lm.config.unk_token_id] += 50.0
    return lm


def test_generate_never_produces_unk_by_default(trained_dir, tmp_path):
    import json

    from transformers import AutoModelForCausalLM, AutoTokenizer

    unk = 0
    assert unk in NNLMForCausalLM(NNLMConfig(vocab_size=10)).generation_config.suppress_tokens
    allowing = NNLMForCausalLM(NNLMConfig(vocab_size=10, generate_unk=True))
    assert unk not in allowing.generation_config.suppress_tokens
    assert unk in json.loads((trained_dir / "generation_config.json").read_text())["suppress_tokens"]
    tok = AutoTokenizer.from_pretrained(trained_dir)
    prompt = tok(["you hate"], add_special_tokens=False, return_tensors="pt")
    old = _old_layout_copy(trained_dir, tmp_path / "old")
    for folder in (trained_dir, old):  # saved with the suppression, and saved before it existed
        lm = _unk_loving(AutoModelForCausalLM.from_pretrained(folder))
        assert lm(**prompt).logits[0, -1].argmax().item() == unk
        greedy = lm.generate(**prompt, max_new_tokens=4, do_sample=False)
        torch.manual_seed(0)
        sampled = lm.generate(**prompt, max_new_tokens=4, do_sample=True)
        assert unk not in greedy[0].tolist() and unk not in sampled[0].tolist()
        assert tok.convert_ids_to_tokens(greedy[0].tolist()) == ["you", "hate", "coffee", "</s>"]
        # allowed for one call by overriding the generation config, or for good by the config flag
        allowed = lm.generate(**prompt, max_new_tokens=2, do_sample=False, suppress_tokens=[1, 2])
        assert allowed[0, 2:].tolist() == [unk, unk]
    lm = _unk_loving(AutoModelForCausalLM.from_pretrained(old, generate_unk=True))
    assert lm.generate(**prompt, max_new_tokens=1, do_sample=False)[0, -1].item() == unk
    lm.save_pretrained(tmp_path / "allowed")
    again = _unk_loving(AutoModelForCausalLM.from_pretrained(tmp_path / "allowed"))
    assert again.config.generate_unk and unk not in again.generation_config.suppress_tokens


def test_next_word_lists_words_only_and_reports_unknown_mass(trained_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

    tok = AutoTokenizer.from_pretrained(trained_dir)
    lm = AutoModelForCausalLM.from_pretrained(trained_dir)
    with torch.no_grad():  # <unk> as likely as </s> (which has almost all the mass) after the prompt
        logits = lm(**tok("they eat bread", return_tensors="pt"), logits_to_keep=1).logits[0, -1]
        lm.lm_head.bias[0] += logits[3] - logits[0]
        probs = next_word_probs(lm, tok, "they eat bread")
    nxt = pipeline("next-word", model=lm, tokenizer=tok)
    ranked = nxt("they eat bread", top_k=10_000)
    assert {r["word"] for r in ranked}.isdisjoint({"<unk>", "</s>", "<pad>", "<s>"})
    assert len(ranked) == len(tok) - 4
    assert ranked.unknown_probability == pytest.approx(float(probs[0]), rel=1e-5)
    assert ranked.end_of_sentence_probability == pytest.approx(float(probs[3]), rel=1e-5)
    assert ranked.unknown_probability > 0.4 and ranked.end_of_sentence_probability > 0.4
    listed = sum(r["probability"] for r in ranked)
    total = listed + ranked.unknown_probability + ranked.end_of_sentence_probability
    assert total == pytest.approx(1 - float(probs[1] + probs[2]), abs=1e-5)
    # still a list of {"word", "probability", "token_id"}: old code keeps working
    top = nxt("they eat", top_k=2)
    assert isinstance(top, list) and top == list(top) and set(top[0]) == {"word", "probability", "token_id"}
    assert top[0]["word"] == "bread" and len(top) == 2
    assert nxt("they eat", top_k=2, skip_special_tokens=False) == top
    assert "unknown_probability=" in repr(top)


def test_importing_the_pipeline_module_first_still_registers_the_task():
    """`from hf_embeddings.models.nnlm.pipeline_nnlm import NextWords` as the first import loads
    transformers' pipelines while that module is half-imported: the task used to be lost."""
    import subprocess
    import sys

    code = (
        "from hf_embeddings.models.nnlm.pipeline_nnlm import NextWords\n"
        "from transformers.pipelines import PIPELINE_REGISTRY\n"
        "print(sorted({'next-word', 'word-similarity'} & set(PIPELINE_REGISTRY.get_supported_tasks())))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split("\n")[-2] == "['next-word', 'word-similarity']"
    assert "could not register" not in run.stderr


def test_query_api_and_sentence_vector(trained_dir):
    model, tok = hf_embeddings.api.load(trained_dir)
    assert isinstance(model, NNLMModel)
    assert len(model.most_similar("milk", topn=3)) == 3
    pv = model.sentence_vector("i like milk", pooling="sqrtn")
    rows = [model.get_word_vector(w) for w in ("i", "like", "milk")]
    np.testing.assert_allclose(pv.vector, np.sum(rows, 0) / math.sqrt(3), rtol=1e-5)


def test_registered_with_hf_embeddings():
    from transformers import AutoConfig

    assert hf_embeddings.get_family("nnlm") is FAMILY
    assert isinstance(AutoConfig.for_model("hfe_nnlm"), NNLMConfig)


# --------------------------------------------------------------------------------------------------------
# Kneser-Ney baseline vs a brute-force reference (and NLTK when installed)
# --------------------------------------------------------------------------------------------------------
def brute_force_kn(sents, order, V, discount, bos=2, eos=3, pad=1):
    """Interpolated KN straight from the definition, with dictionaries (see kneser_ney.py's docstring)."""
    N = order
    grams = {k: Counter() for k in range(1, N + 1)}
    for s in sents:
        padded = [bos] * (N - 1) + list(s) + [eos]
        for i in range(N - 1, len(padded)):
            for k in range(1, N + 1):
                grams[k][tuple(padded[i - k + 1 : i + 1])] += 1
    a = {N: dict(grams[N])}
    for k in range(N - 1, 0, -1):
        a[k] = Counter(g[1:] for g in grams[k + 1])  # distinct left extensions
    disc = {}
    for k in range(1, N + 1):
        if isinstance(discount, str):
            cc = Counter(min(c, 5) for c in a[k].values())
            n1, n2, n3, n4 = (float(cc[i]) for i in (1, 2, 3, 4))
            y = n1 / (n1 + 2 * n2) if n1 and n2 else 0.5
            if discount == "interpolated":
                d = [y, y, y]
            else:
                d = [
                    1 - 2 * y * n2 / n1 if n1 else y,
                    2 - 3 * y * n3 / n2 if n2 else y,
                    3 - 4 * y * n4 / n3 if n3 else y,
                ]
            disc[k] = [min(max(x, 1e-3), r) for x, r in zip(d, (1, 2, 3))]
        else:
            disc[k] = [discount] * 3

    def D(k, c):
        return disc[k][min(c, 3) - 1] if c > 0 else 0.0

    n_pred = V - 2

    def prob(w, ctx):
        ctx = list(ctx)[len(ctx) - (N - 1) :] if N > 1 and len(ctx) >= N - 1 else list(ctx) if N > 1 else []
        ctx = tuple([bos] * (N - 1 - len(ctx)) + ctx)
        A1 = sum(a[1].values())
        c = a[1].get((w,), 0)
        p = (
            max(c - D(1, c), 0) / A1
            + sum(D(1, x) for x in a[1].values()) / A1 * (w not in (bos, pad)) / n_pred
        )
        for k in range(2, N + 1):
            h = ctx[len(ctx) - (k - 1) :]
            items = [x for g, x in a[k].items() if g[:-1] == h]
            A = sum(items)
            if A == 0:
                continue
            c = a[k].get(h + (w,), 0)
            p = max(c - D(k, c), 0) / A + sum(D(k, x) for x in items) / A * p
        return p

    return prob


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("discount", ["modified", "interpolated", 0.6])
def test_kneser_ney_matches_brute_force(order, discount):
    rng = np.random.default_rng(order)
    V = 14
    sents = [
        list(rng.integers(4, V - 1, size=rng.integers(1, 8))) + ([0] if rng.random() < 0.3 else [])
        for _ in range(40)
    ]
    lm = KneserNeyLM(order, V, discount=discount).fit(sents)
    ref = brute_force_kn(sents, order, V, discount)
    queries = [
        (
            int(rng.integers(0, V)),
            [int(x) for x in rng.choice([0, 2, *range(4, V)], size=rng.integers(0, order + 1))],
        )
        for _ in range(150)
    ]
    for s in sents[:10]:  # contexts seen in training
        padded = [2] * (order - 1) + s + [3]
        queries += [(padded[i], padded[i - order + 1 : i]) for i in range(order - 1, len(padded))]
    for w, ctx in queries:
        assert lm.prob(w, ctx) == pytest.approx(ref(w, ctx), abs=1e-9), (w, ctx)
    # every conditional distribution sums to one over the predictable words
    for ctx in ([], [4], [4, 5, 6], [2, 2, 2]):
        total = sum(lm.prob(w, ctx) for w in range(V))
        assert total == pytest.approx(1.0, abs=1e-9)
    # log_probs of a corpus = one query per target
    held = [[4, 5, 6], [7]]
    expect = []
    for s in held:
        padded = [2] * (order - 1) + s + [3]
        expect += [math.log(ref(padded[i], padded[i - order + 1 : i])) for i in range(order - 1, len(padded))]
    np.testing.assert_allclose(lm.log_probs(held), expect, atol=1e-9)


def test_kneser_ney_discount_estimates():
    counts = np.array([1] * 10 + [2] * 4 + [3] * 2 + [4] * 1 + [7] * 3)
    y = 10 / (10 + 8)
    np.testing.assert_allclose(estimate_discounts(counts, "interpolated"), [y, y, y])
    np.testing.assert_allclose(
        estimate_discounts(counts, "modified"), [1 - 2 * y * 4 / 10, 2 - 3 * y * 2 / 4, 3 - 4 * y * 1 / 2]
    )


def test_kneser_ney_matches_nltk():
    nltk_lm = pytest.importorskip("nltk.lm")
    from nltk.lm.preprocessing import padded_everygram_pipeline

    rng = np.random.default_rng(0)
    V = 12
    sents = [[int(x) for x in rng.integers(4, V, size=rng.integers(1, 9))] for _ in range(40)]

    def name(i):
        return {2: "<s>", 3: "</s>"}.get(i, str(i))

    for order in (2, 3, 4):
        train, vocab = padded_everygram_pipeline(order, [[name(i) for i in s] for s in sents])
        ref = nltk_lm.KneserNeyInterpolated(order, discount=0.3)
        ref.fit(train, vocab)
        mine = KneserNeyLM(order, V, discount=0.3, nltk_compat=True).fit(sents)
        for s in sents[:15]:
            padded = [2] * (order - 1) + s + [3]
            for i in range(order - 1, len(padded)):
                ctx, w = padded[i - order + 1 : i], padded[i]
                assert mine.prob(w, ctx) == pytest.approx(
                    ref.score(name(w), [name(c) for c in ctx]), abs=1e-9
                )


def test_kneser_ney_bad_inputs():
    lm = KneserNeyLM(3, 10)
    with pytest.raises(RuntimeError, match="fit"):
        lm.prob(4, [5])
    with pytest.raises(ValueError, match="token ids"):
        KneserNeyLM(3, 10).fit([[4, 50]])
    lm.fit([[4, 5, 6]])
    assert lm.prob(9, [8, 7]) > 0  # unseen word, unseen context: the uniform floor
    with pytest.raises(ValueError, match="token ids"):
        lm.prob(99, [4])


def test_save_model_folder_takes_the_causal_lm(trained_dir, tmp_path):
    """The causal LM is the model (its output layer is at the top level): it is saved whole, as
    `api.train` does, and loads back with AutoModelForCausalLM."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from hf_embeddings import save_model_folder

    model = AutoModelForCausalLM.from_pretrained(trained_dir)
    tok = AutoTokenizer.from_pretrained(trained_dir)
    out = save_model_folder(model, tok, tmp_path / "copy")
    again = AutoModelForCausalLM.from_pretrained(out)
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name
    assert (out / "README.md").is_file()


def test_saving_a_base_loaded_from_the_language_model_is_refused(trained_dir, tmp_path):
    """The base NNLMModel of a causal-LM folder lacks the output layer: saving or pushing it would publish
    a model whose next-word head is gone (it used to come back randomly initialised)."""
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    from hf_embeddings import save_model_folder
    from hf_embeddings.errors import HFEmbeddingsError

    base = AutoModel.from_pretrained(trained_dir)
    tok = AutoTokenizer.from_pretrained(trained_dir)
    with pytest.raises(HFEmbeddingsError, match="load it with NNLMForCausalLM"):
        save_model_folder(base, tok, tmp_path / "partial")
    assert not (tmp_path / "partial").exists()
    lm = AutoModelForCausalLM.from_pretrained(trained_dir)
    out = save_model_folder(lm, tok, tmp_path / "whole")
    from safetensors.numpy import load_file

    assert set(load_file(out / "model.safetensors")) == set(load_file(trained_dir / "model.safetensors"))
