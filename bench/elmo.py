"""ELMo: biLM pretraining on the NNLM benchmark's split and vocabulary, and inference throughput.

1. Pretraining (`--part train`): the tiny preset (or --preset / --config) trained as a biLM through the
   family's Trainer setup on GCIDE (../shared/corpora/gcide.txt.xz), with exactly the train / valid / test
   split and vocabulary of bench/nnlm_vs_ngram.py (`TokenizedCorpus.split`, seed 0, words seen >= 4 times in
   the training split; the split and `restrict_vocabulary` are imported from that script). Reported:
   held-out forward / backward / average perplexity (every word plus one sentence boundary per line, per
   direction; the forward targets are exactly the NNLM's: each word and each end of sentence) and training
   tokens/s. The softmax predicts that vocabulary; the character CNN reads every input word's characters
   (`--unk-inputs`: words outside the vocabulary are read as `<unk>`, as the NNLM sees them).
   `--nnlm` also trains the NNLM of bench/nnlm_vs_ngram.py with the same time budget and scores it on the
   same held-out lines, for the comparison the issue asks for (forward ELMo vs NNLM: same targets).
2. Inference (`--part infer`): tokens/s of the "small" preset (random weights) for batch 1 and batch 64, with
   and without the character-CNN cache over the vocabulary.

A budget keeps CPU runs to a few minutes (`--max-seconds`, `--max-steps`, `--max-eval-lines`); on a GPU the
defaults evaluate on every held-out line. The last line printed is a JSON object with every number.

Measured on 2 cores, torch 2.13 (first 3,000 valid / test lines = 48,553 test targets per direction; GCIDE
split: 3.16M training words, vocabulary 38,550; raw JSON in bench/results/):
    Equal time, 2026-11-27, idle machine (2026-11-27-cpu-elmo-tiny-3epochs.json,
        2026-11-27-cpu-nnlm-2epochs.json; the NNLM trains deterministically: same perplexities as on 2026-11-26):
        ELMo tiny (P 128, C 256, 2.0M parameters, adaptive softmax, 32 sentences per step, lr 5e-3, dropout 0),
        3 epochs (`--part train --epochs 3`) in 2,732 s (3,465 tokens/s): test forward 155.32, backward 171.95,
        average 163.42; valid forward 160.84.
        NNLM (5 context words, m 128, h 512, direct connections, adaptive softmax; 12.3M parameters), 2 epochs
        (`--part nnlm --epochs 2`) in 2,639 s (2,581 tokens/s, its two validation passes included): test
        161.92, valid 165.66.
        -> the biLM's forward perplexity is 4.1% lower on test (2.9% on valid), with 1.04x the NNLM's time.
    The former tiny preset (P 64, 1.0M parameters; 2026-11-26): 623 s per epoch idle (5,069 tokens/s); test
        forward 228.4 / 190.6 / 170.4 / 161.86 after 1 / 2 / 3 / 4 epochs (each its own schedule), i.e. a tie
        with the 2-epoch NNLM at about equal time (4 epochs ~2,500 s idle). The NNLM after 1 epoch (1,253 s):
        183.7. A 1-epoch screen (1 thread each, side by side) gave P 128 209.1 and P 256 211.1, hence P 128.
    240 s budget (`--part train --max-seconds 240 --nnlm`, P 64): ELMo 2,225 steps, forward 318.4; NNLM 286.8
        (before the character-CNN and CPU-recipe changes: 374.4 vs 305.0). One thread: 351.8 vs 310.5; 16
        sentences per step 363.6; 64 sentences with dropout 0.1 (the former CPU defaults) 439.1. A fraction of
        an epoch favours the NNLM: the biLM needs whole epochs.
Inference on 2 CPU cores (`--part infer`, 2026-11-26): "small" preset (13.6M parameters, random weights),
    tokens/s: batch 1 425 -> 737 with the char-CNN cache over the 38,548-word vocabulary (built in 14.6 s),
    batch 64 3,251 -> 3,921. Before the character CNN learned to skip repeated words and padding columns:
    batch 64 1,174-1,735 without the cache (two runs), cache build ~35 s.
One H100 (2026-11-26, torch 2.11; bench/results/2026-11-26-h100-b/):
    The biLM's step costs about the same at 256 and 1024 sentences (89 and 91 ms): the LSTM's time loop is
    bound by the host's per-operation cost (~1 ms per layer step, forward + backward), not by arithmetic.
    The hand-written backward (`LstmRecurrence`) made it 1.07-1.15x faster, torch.compile of the step
    0.88x (bench/elmo_lstm_step.py). 8 epochs at 1024 sentences per step (1,592 steps, 145 s, 174k
    tokens/s): tiny (P 64) test forward 238.0, backward 260.3; the small preset beside it on the same GPU
    419.4 / 497.8. The NNLM (tied 512/512, 21.3M parameters, 8 epochs in 78 s): 135.85. Far fewer
    updates than the CPU runs (6,300 steps per epoch at 32 sentences): on this GPU the biLM does not
    reach the NNLM.

Example:
    python bench/elmo.py --device cpu --max-seconds 240 --nnlm                # CPU: both parts, ~12 minutes
    python bench/elmo.py --device cpu --part nnlm --epochs 2 --json-out nnlm.json  # CPU: the NNLM, ~45 minutes
    python bench/elmo.py --device cpu --part train --epochs 3 --nnlm-results nnlm.json  # the biLM, ~45 minutes
    python bench/elmo.py --device cuda --part train --batch-size 1024 --epochs 8 --nnlm   # GPU: the comparison
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

from nnlm_vs_ngram import DEFAULT_CORPUS, DEFAULT_NNLM, restrict_vocabulary  # noqa: E402  (same split code)


def log(msg: str) -> None:
    print(msg, flush=True)


def head_lines(corpus, n: int | None):
    """The first n lines of a TokenizedCorpus (all when n is None)."""
    from hf_embeddings import TokenizedCorpus

    if n is None or n >= len(corpus):
        return corpus
    return TokenizedCorpus(
        ids=corpus.ids[: corpus.offsets[n]], offsets=corpus.offsets[: n + 1], tokenizer=corpus.tokenizer,
        source=corpus.source,
    )  # fmt: skip


def load_split(args):
    """(full-vocabulary parts, restricted-vocabulary parts, restricted tokenizer): nnlm_vs_ngram's split."""
    from hf_embeddings import load_corpus

    corpus = load_corpus(args.corpus, min_count=1, show_progress=False)
    parts = corpus.split(list(args.split), seed=args.seed)
    parts[0] = head_lines(parts[0], args.max_train_lines)
    tok, restricted = restrict_vocabulary(parts[0], parts, args.min_count)
    return corpus, parts, restricted, tok


class Budget:
    """Trainer callback: stop after `max_seconds` of training (checked every step)."""

    def __init__(self, max_seconds: float | None):
        from transformers import TrainerCallback

        outer = self
        self.max_seconds, self.t0, self.steps, self.stopped = max_seconds, 0.0, 0, False

        class _CB(TrainerCallback):
            def on_train_begin(self, args, state, control, **kwargs):
                outer.t0 = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                outer.steps = state.global_step
                if outer.max_seconds and time.perf_counter() - outer.t0 > outer.max_seconds:
                    outer.stopped = True
                    control.should_training_stop = True

        self.callback = _CB()


def train_elmo(args, device, parts, restricted, tok) -> dict:
    import dataclasses

    from hf_embeddings.models.elmo import (
        FAMILY,
        ElmoConfig,
        SentenceBatches,
        bilm_perplexity,
        vocabulary_char_table,
    )
    from hf_embeddings.models.family import TrainingData, unwrap_batch
    from hf_embeddings.training.fit import fit

    options = {"vocab_size": len(tok), "batch_size": args.batch_size, "learning_rate": args.lr,
               "epochs": args.epochs, "dropout": args.dropout, **(args.config or {})}  # fmt: skip
    cfg = ElmoConfig.from_preset(args.preset, **options)
    inputs = restricted if args.unk_inputs else parts
    table = vocabulary_char_table(inputs[0].tokenizer, cfg.max_characters_per_token)

    def batches(k, shuffle, lines=None, batch_size=None):
        corpus, targets = head_lines(inputs[k], lines), head_lines(restricted[k], lines)
        return SentenceBatches(
            corpus, batch_size=batch_size or cfg.batch_size, max_length=cfg.max_sequence_length if shuffle else None,
            shuffle=shuffle, seed=args.seed, device=device, char_table=table, targets=np.asarray(targets.ids),
            max_tokens=None if shuffle else 32768,
        )  # fmt: skip

    budget = Budget(args.max_seconds)

    def build_training_data(corpus, config, *, seed, device):
        """This script's batches (inputs of `inputs`, targets of the restricted vocabulary), no held-out set."""
        return TrainingData(
            train_dataset=batches(0, True),
            data_collator=unwrap_batch,
            trainer_kwargs={"callbacks": [budget.callback]},
            training_overrides={"learning_rate": config.learning_rate, "num_train_epochs": config.epochs},
        )

    training = {"logging_steps": 10**9, "disable_tqdm": True, "eval_strategy": "no"}
    if args.max_steps:
        training["max_steps"] = args.max_steps
    if device.startswith("cuda"):
        training["tf32"] = True
    result = fit(
        dataclasses.replace(FAMILY, build_training_data=build_training_data),
        restricted[0],
        cfg,
        training=training,
        device=device,
        seed=args.seed,
        output_dir=args.work_dir / "checkpoints",
    )
    model, trainer, seconds = result.model, result.trainer, result.train_seconds
    steps = trainer.state.global_step
    words = sum(e.get("epoch_words", 0) for e in trainer.epoch_history)
    eval_bs = max(256, 4 * cfg.batch_size)
    t1 = time.perf_counter()
    valid = bilm_perplexity(model, batches(1, False, args.max_eval_lines, eval_bs))
    test = bilm_perplexity(model, batches(2, False, args.max_eval_lines, eval_bs))
    eval_seconds = time.perf_counter() - t1
    return {
        "config": {k: v for k, v in cfg.to_diff_dict().items() if k not in ("transformers_version",)},
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": steps,
        "stopped_by_budget": budget.stopped,
        "train_seconds": seconds,
        "train_words": words,
        "tokens_per_second": words / seconds if words and seconds > 0 else float("nan"),
        "valid": valid,
        "test": test,
        "eval_seconds": eval_seconds,
    }


def train_nnlm(args, device, restricted, tok) -> dict:
    """An NNLM of bench/nnlm_vs_ngram.py under the same time budget (checked every step), scored on the same
    held-out lines."""
    import nnlm_vs_ngram as nb

    from hf_embeddings.models.nnlm import token_log_probs

    class StepBudget(nb.KeepBest):  # that script stops only at epoch ends: add a per-step check
        def __init__(self, max_seconds=None):
            super().__init__(max_seconds)
            outer = self

            def on_step_end(targs, state, control, **kwargs):
                if outer.max_seconds and time.perf_counter() - outer.t0 > outer.max_seconds:
                    outer.stopped_early = True
                    control.should_training_stop = True

            self.callback.on_step_end = on_step_end

    nargs = argparse.Namespace(
        batch_size=2048 if device.startswith("cuda") else 256, lr=2e-3, epochs=args.epochs, seed=args.seed,
        max_seconds_per_model=args.max_seconds, throughput_steps=args.max_steps, work_dir=args.work_dir,
    )  # fmt: skip
    # GPU: the headline model of that script (tied 512/512, full softmax); CPU: its paper-style model with
    # the adaptive softmax (the full 38.5k softmax runs at ~200 tokens/s on 2 cores)
    spec = (
        dict(DEFAULT_NNLM[0]) if device.startswith("cuda") else {**DEFAULT_NNLM[1], "adaptive_softmax": True}
    )
    spec.update(args.nnlm_config or {})
    train, valid, test = restricted
    keep_best, nb.KeepBest = nb.KeepBest, StepBudget
    try:
        r = nb.train_nnlm(spec, train, valid, len(tok), nargs, device, evaluate=False)
    finally:
        nb.KeepBest = keep_best
    out = {"spec": r["spec"], "parameters": r["parameters"], "tokens_per_second": r["tokens_per_second"],
           "train_seconds": r["train_seconds"]}  # fmt: skip
    for name, part in (("valid", valid), ("test", test)):
        lp = token_log_probs(r["model"], head_lines(part, args.max_eval_lines), batch_size=8192)
        out[f"{name}_perplexity"] = math.exp(-math.fsum(lp.tolist()) / len(lp))
        out[f"{name}_targets"] = len(lp)
    return out


def load_nnlm_results(path: str, results: dict) -> dict:
    """The NNLM entry of an earlier run's --json-out (the NNLM trains deterministically from the seed, so
    its result can be reused); refused unless that run had this run's corpus, split and held-out lines."""
    earlier = json.loads(Path(path).read_text())
    if "nnlm" not in earlier:
        raise SystemExit(f"{path}: no 'nnlm' entry (was that run made with --nnlm?)")
    for key in ("corpus", "vocab_size", "train_words", "valid_words", "test_words", "max_eval_lines"):
        if earlier.get(key) != results.get(key):
            raise SystemExit(f"{path}: {key} is {earlier.get(key)!r} there but {results.get(key)!r} here")
    return {**earlier["nnlm"], "source": f"{path} ({earlier.get('hardware')})"}


def inference(args, device, sentences: list[list[str]], vocabulary: list[str]) -> dict:
    """Tokens/s of the small preset (random weights), batch 1 and batch 64, without and with the cache."""
    from hf_embeddings.models.elmo import ElmoCharacterTokenizer, ElmoConfig, ElmoModel

    torch.manual_seed(0)
    model = ElmoModel(ElmoConfig.from_preset("small")).to(device).eval()
    tok = ElmoCharacterTokenizer.from_vocabulary([])
    out = {"preset": "small", "parameters": sum(p.numel() for p in model.parameters())}

    def run(batch_size: int, sents: list[list[str]]) -> float:
        words, t0 = 0, time.perf_counter()
        with torch.no_grad():
            for lo in range(0, len(sents), batch_size):
                enc = tok.encode_sentences(sents[lo : lo + batch_size])
                model(char_ids=enc["char_ids"].to(device), attention_mask=enc["attention_mask"].to(device))
                words += int(enc["attention_mask"].sum())
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return words / (time.perf_counter() - t0)

    one, many = sentences[: args.infer_sentences_b1], sentences[: args.infer_sentences_b64]
    run(1, one[:3])  # warm-up
    for cached in (False, True):
        if cached:
            t0 = time.perf_counter()
            model.set_token_cache(vocabulary)
            out["cache_words"] = len(model.token_cache)
            out["cache_build_seconds"] = time.perf_counter() - t0
        key = "cached" if cached else "no_cache"
        out[f"batch1_{key}_tokens_per_second"] = run(1, one)
        out[f"batch64_{key}_tokens_per_second"] = run(64, many)
        log(f"  small preset, {'with' if cached else 'without'} the char-CNN cache: batch 1 "
            f"{out[f'batch1_{key}_tokens_per_second']:,.0f} tokens/s, batch 64 "
            f"{out[f'batch64_{key}_tokens_per_second']:,.0f} tokens/s")  # fmt: skip
    out["sentences_b1"], out["sentences_b64"] = len(one), len(many)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--part", choices=["train", "infer", "all", "nnlm"], default="all",
        help="nnlm: only the NNLM of --nnlm (its result can be reused by a later run's --nnlm-results)",
    )  # fmt: skip
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    p.add_argument(
        "--min-count", type=int, default=4, help="vocabulary: training-split count >= this (as NNLM)"
    )
    p.add_argument("--split", type=float, nargs=3, default=(0.8, 0.1, 0.1))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--preset", default="tiny")
    p.add_argument("--config", type=json.loads, help="ElmoConfig overrides as JSON")
    p.add_argument("--batch-size", type=int, help="sentences per step (default 256 on a GPU, 32 on a CPU)")
    p.add_argument("--lr", type=float, default=5e-3, help="Adam's (decayed linearly; gradients clipped at 5)")
    p.add_argument("--dropout", type=float, help="default 0.1 on a GPU, 0 on a CPU (a fraction of an epoch)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-seconds", type=float, help="stop training after this many seconds")
    p.add_argument("--max-steps", type=int, help="stop training after this many steps")
    p.add_argument("--max-train-lines", type=int, help="train on the first N training lines only")
    p.add_argument("--max-eval-lines", type=int, help="score the first N valid/test lines (default: all on a "
                   "GPU, 3000 on a CPU)")  # fmt: skip
    p.add_argument("--unk-inputs", action="store_true", help="read out-of-vocabulary input words as <unk>")
    p.add_argument("--nnlm", action="store_true", help="also train the NNLM with the same budget")
    p.add_argument(
        "--nnlm-results",
        help="compare with the NNLM of an earlier run's --json-out instead of "
        "training it again (same corpus, split and held-out lines, checked)",
    )
    p.add_argument("--nnlm-config", type=json.loads, help="NNLMConfig overrides for --nnlm, as JSON")
    p.add_argument("--infer-sentences-b1", type=int, default=100)
    p.add_argument("--infer-sentences-b64", type=int, default=1280)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's, i.e. every core)")
    p.add_argument("--json-out")
    p.add_argument("--work-dir", default=str(ROOT.parent / "outputs" / "elmo_bench_work"))
    args = p.parse_args(argv)
    args.work_dir = Path(args.work_dir)

    import hf_embeddings  # noqa: F401
    from hf_embeddings.api import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if args.max_eval_lines is None and not device.startswith("cuda"):
        args.max_eval_lines = 3000
    # a CPU budget covers a fraction of an epoch: updates count more than batch size, and nothing overfits yet
    if args.batch_size is None:
        args.batch_size = 256 if device.startswith("cuda") else 32
    if args.dropout is None:
        args.dropout = 0.1 if device.startswith("cuda") else 0.0
    hw = (
        torch.cuda.get_device_name(device)
        if device.startswith("cuda")
        else f"CPU, {torch.get_num_threads()} threads"
    )
    log(f"device: {device} ({hw}); torch {torch.__version__}")
    results: dict = {"device": device, "hardware": hw, "corpus": Path(args.corpus).name}

    t = time.perf_counter()
    corpus, parts, restricted, tok = load_split(args)
    results.update(vocab_size=len(tok), train_words=parts[0].num_tokens, valid_words=parts[1].num_tokens,
                   test_words=parts[2].num_tokens, max_eval_lines=args.max_eval_lines)  # fmt: skip
    log(f"split {list(args.split)} (seed {args.seed}): train {parts[0].num_tokens:,} / valid {parts[1].num_tokens:,} / "
        f"test {parts[2].num_tokens:,} words; vocabulary {len(tok):,} (min count {args.min_count}) "
        f"[{time.perf_counter() - t:.1f} s]")  # fmt: skip

    if args.part == "nnlm":
        n = train_nnlm(args, device, restricted, tok)
        results["nnlm"] = n
        log(f"  NNLM {json.dumps(n['spec'])}: valid {n['valid_perplexity']:.2f}  test {n['test_perplexity']:.2f} "
            f"({n['test_targets']:,} targets; {n['tokens_per_second']:,.0f} tokens/s, {n['train_seconds']:.0f} s)")  # fmt: skip
    if args.part in ("train", "all"):
        log(f"ELMo biLM ({args.preset} preset) on {device}: batch {args.batch_size} sentences, lr {args.lr}, "
            f"{args.epochs} epoch(s), budget {args.max_seconds or '-'} s / {args.max_steps or '-'} steps ...")  # fmt: skip
        r = train_elmo(args, device, parts, restricted, tok)
        results["elmo"] = r
        for split in ("valid", "test"):
            v = r[split]
            log(f"  {split} ({v['num_targets']:,} targets per direction): forward {v['forward_perplexity']:.2f}  "
                f"backward {v['backward_perplexity']:.2f}  average {v['perplexity']:.2f}")  # fmt: skip
        log(f"  training: {r['steps']} steps, {r['train_words']:,} words in {r['train_seconds']:.0f} s -> "
            f"{r['tokens_per_second']:,.0f} tokens/s ({r['parameters']:,} parameters)")  # fmt: skip
        if args.nnlm or args.nnlm_results:
            n = (
                load_nnlm_results(args.nnlm_results, results)
                if args.nnlm_results
                else train_nnlm(args, device, restricted, tok)
            )
            if n["test_targets"] != r["test"]["num_targets"]:
                raise SystemExit(f"the NNLM was scored on {n['test_targets']:,} test targets, ELMo on "
                                 f"{r['test']['num_targets']:,}: not the same held-out lines")  # fmt: skip
            results["nnlm"] = n
            if "source" in n:
                log(f"  NNLM: the result of {n['source']}")
            log(f"  NNLM {json.dumps(n['spec'])}: valid {n['valid_perplexity']:.2f}  test {n['test_perplexity']:.2f} "
                f"({n['tokens_per_second']:,.0f} tokens/s, {n['train_seconds']:.0f} s)")  # fmt: skip
            log(f"  forward ELMo vs NNLM, test (same targets): {r['test']['forward_perplexity']:.2f} vs "
                f"{n['test_perplexity']:.2f}")  # fmt: skip
    if args.part in ("infer", "all"):
        log("inference (small preset, random weights):")
        sentences = [parts[2].decode(i) for i in range(min(len(parts[2]), args.infer_sentences_b64))]
        results["inference"] = inference(args, device, sentences, tok.words)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(results, indent=2, default=float))
    print(json.dumps(results, default=float), flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    raise SystemExit(main())
