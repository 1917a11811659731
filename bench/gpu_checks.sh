#!/usr/bin/env bash
# The GPU figures quoted in the issues, on a lent GPU machine (python 3.12 with torch + CUDA, no network).
# Carried along (ignored by git): .whl/ (wheels missing there: transformers 5.x, gensim for the evaluation
# data sets), .gpu/ (gcide.txt.xz and the CPU-computed n-gram results ngram.npz).
# Usage: bash bench/gpu_checks.sh [SECTION ...]   (default: word2vec elmo-step elmo-probe); logs go to
# $OUT (or ./outputs/gpu). Sections, with their worst-case wall time (each is cut by `timeout`):
#   word2vec        skip-gram and CBOW at the GPU default, 3 seeds each (~2 min)
#   word2vec-sweep  sub_batch_words 1024 / 4096 / 16384, 1 seed each, both architectures (~4 min)
#   cbow-4096       CBOW at sub_batch_words 4096, 1 seed (~40 s)
#   nnlm            the NNLM bench's default models against the stored n-gram results (~7 min)
#   elmo-probe      the biLM (tiny) on CUDA for 150 steps: does it run, and at how many tokens/s (~1 min)
#   word2vec-wpb1m  the same with 1,048,576 words per step (~2 min)
#   word2vec-kernel the fused Triton kernel on real gcide batches, per step: building the batch vs the kernel vs
#                   the tensor ops + SGD step (words/s of each, sub_batch_words 4096 / 16384), and the kernel's
#                   update against the tensor path's for the same batch on the GPU (max abs diff); warps x
#                   vector chunk per Triton program 4x16 / 8x16 / 8x32 (~3 min)
#   word2vec-triton skip-gram and CBOW through the Triton kernel, 3 seeds each, and the tensor ops (1 seed each)
#                   on the same machine as the baseline (~3.5 min)
#   word2vec-curve  Triton kernel, throughput over words per step: 131072 / 524288 / 2097152 (1048576 is in
#                   word2vec-triton), 1 seed, both architectures (~2.5 min)
#   word2vec-triton-sub  Triton kernel at sub_batch_words 1024 / 4096 (quality vs speed), 1 seed, both (~2.5 min)
#   distributed     issue 18: Word2Vec and NNLM on one GPU against one process per GPU (NCCL) when the machine
#                   has several; on one GPU only the one-GPU figures, and the multi-GPU command (~4 min)
#   elmo-step       LSTM layer step, autograd vs the hand-written backward, 256 and 1024 sentences (~1 min)
#   elmo-compile    torch.compile of the LSTM time step vs eager, tiny preset at the training batch (~1 min)
#   elmo            biLM (tiny) vs NNLM, ELMO_EPOCHS epochs each (default 8), ELMO_SECONDS budget each (~6 min)
#   elmo-pair       the same, with the "small" preset training beside it on the same GPU (~7 min)
# For issue 23 (Word2Vec on the GPU): bash bench/gpu_checks.sh word2vec-kernel word2vec-triton word2vec-curve
# (~9 min of commands; each one is cut by its own timeout). Triton comes with the machine's CUDA torch (the
# wheel, ~200 MB, is too big to carry); without it the kernel sections say so and the runs fall back or fail.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/gpu}
mkdir -p "$OUT"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
CORPUS=.gpu/gcide.txt.xz
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" \
    | tee -a "$OUT/gpu.txt"
python3 -c "import triton; print('triton', triton.__version__)" 2>/dev/null | tee -a "$OUT/gpu.txt" \
    || echo "triton: not importable (the word2vec Triton sections cannot run)" | tee -a "$OUT/gpu.txt"
what=${*:-word2vec elmo-step elmo-probe}

w2v() {  # w2v NAME ARGS...: one run of the Word2Vec bench (ours only, on the GPU)
    local name=$1; shift
    echo "== word2vec $name: $*" | tee -a "$OUT/word2vec.txt"
    timeout "${W2V_TIMEOUT:-200}" python3 bench/word2vec_vs_gensim.py $CORPUS --systems ours --device cuda "$@" \
        --json "$OUT/w2v_$name.json" 2>&1 | grep -v -i warn | tail -8 | tee -a "$OUT/word2vec.txt"
}

for w in $what; do
echo "== $w (t=${SECONDS}s)"
case $w in
word2vec)
    w2v default_3seeds --arch both --seeds 3
    ;;
word2vec-sweep)
    # sub_batch_words trades sequential SGD granularity for GPU parallelism
    for arch in skipgram cbow; do
        for sbw in 1024 4096 16384; do
            w2v "${arch}_${sbw}" --arch $arch --option sub_batch_words=$sbw
        done
    done
    ;;
word2vec-wpb1m)
    # 1M words per step instead of 262,144: a quarter of the steps (and of their fixed cost)
    w2v wpb1m_3seeds --arch both --seeds 3 --words-per-batch 1048576
    ;;
word2vec-kernel)
    timeout 240 python3 - $CORPUS <<'EOF' 2>&1 | grep -v -i warn | tee "$OUT/word2vec_kernel.txt"
# Per step, on real batches: the batch builder, the fused Triton kernel, and the tensor ops + the SGD step
# (what the Trainer does with them); and the two updates of one batch from the same tables (max |diff|).
# W2V_KERNEL_DEVICE / _STEPS / _WPB / _SUB / _CONFIGS: the device, steps timed, words per step, sub-batch words,
# Triton programs' WARPSxCHUNK (kernels_triton.NUM_WARPS, .CHUNK: the fastest is worth making the default).
import json, os, sys, time
import torch
from hf_embeddings import load_corpus
from hf_embeddings.models.word2vec import FAMILY, config_from_corpus
from hf_embeddings.models.word2vec import kernels_triton
from hf_embeddings.models.word2vec.kernels_triton import train_blocks
from hf_embeddings.models.word2vec.modeling_word2vec import negative_sampling_loss

dev = os.environ.get("W2V_KERNEL_DEVICE", "cuda")
steps = int(os.environ.get("W2V_KERNEL_STEPS", "3"))
sizes = [int(x) for x in os.environ.get("W2V_KERNEL_WPB", "262144,1048576").split(",")]
subs = [int(x) for x in os.environ.get("W2V_KERNEL_SUB", "4096,16384").split(",")]
configs = [tuple(map(int, c.split("x"))) for c in os.environ.get("W2V_KERNEL_CONFIGS", "4x16,8x16,8x32").split(",")]
corpus = load_corpus(sys.argv[1], min_count=5, show_progress=False)


def clock(fn):
    if dev.startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    if dev.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t, out


def torch_steps(w_in, w_out, batches, kw):
    a, o = w_in.clone().requires_grad_(), w_out.clone().requires_grad_()
    for b in batches:
        negative_sampling_loss(a, o, *b, **kw).backward()
        with torch.no_grad():
            for p in (a, o):
                p.index_add_(0, p.grad._indices()[0], p.grad._values(), alpha=-kw["learning_rate"])
                p.grad = None
    return a.detach(), o.detach()


def triton_steps(w_in, w_out, batches, kw):
    a, o = w_in.clone(), w_out.clone()
    for b in batches:
        train_blocks(a, o, *b, **kw)
    return a, o


for arch in ("skipgram", "cbow"):
    cfg = config_from_corpus(
        corpus, architecture=arch, vector_size=100, window=5, negative=5, sample=1e-3, cpu_kernel="torch"
    )
    g = torch.Generator(device=dev).manual_seed(0)
    shape = (cfg.vocab_size, cfg.vector_size)
    w_in = (torch.rand(shape, device=dev, generator=g) - 0.5) / cfg.vector_size
    w_out = (torch.rand(shape, device=dev, generator=g) - 0.5) / cfg.vector_size
    for wpb in sizes:
        data = FAMILY.build_training_data(corpus, cfg, device=dev, words_per_batch=wpb).train_dataset
        data[0]  # the per-vocabulary tables go to the device once
        n = min(steps, len(data))
        t_build, items = clock(lambda: [data[i] for i in range(n)])
        words = sum(int(b["num_words"]) for b in items)
        batches = [(b["context"], b["pair_mask"], b["centres"], b["negatives"]) for b in items]
        row = dict(arch=arch, words_per_step=wpb, steps=n, build_words_per_s=round(words / t_build))
        for sub in subs:
            kw = dict(
                skipgram=arch == "skipgram", cbow_mean=cfg.cbow_mean, neg_scale=cfg.negative / cfg.block_negatives,
                chunk_blocks=max(1, sub // cfg.block_size), learning_rate=0.025, learning_rate_end=0.0249,
                max_row_step=cfg.max_row_step,
            )
            speeds = {}
            for warps, chunk in configs:
                kernels_triton.NUM_WARPS, kernels_triton.CHUNK = warps, chunk
                triton_steps(w_in, w_out, batches[:1], kw)  # compile
                t_k, _ = clock(lambda: triton_steps(w_in, w_out, batches, kw))
                speeds[f"triton_words_per_s_{warps}warps_chunk{chunk}"] = round(words / t_k)
            torch_steps(w_in, w_out, batches[:1], kw)  # warm
            t_t, _ = clock(lambda: torch_steps(w_in, w_out, batches, kw))
            (a1, o1), (a2, o2) = triton_steps(w_in, w_out, batches[:1], kw), torch_steps(w_in, w_out, batches[:1], kw)
            diff = max(float((a1 - a2).abs().max()), float((o1 - o2).abs().max()))
            moved = max(float((a2 - w_in).abs().max()), float((o2 - w_out).abs().max()))
            row[f"sub{sub}"] = dict(
                **speeds, torch_words_per_s=round(words / t_t),
                speedup=round(max(speeds.values()) * t_t / words, 2), max_abs_diff_one_batch=diff,
                max_abs_update_one_batch=moved,
            )
        print(json.dumps(row), flush=True)
EOF
    ;;
word2vec-triton)
    w2v triton_3seeds --arch both --seeds 3 --option gpu_kernel=triton
    W2V_TIMEOUT=120 w2v torch_baseline --arch both --option gpu_kernel=torch
    ;;
word2vec-curve)
    # throughput over words per step (the default, 1048576, is word2vec-triton's)
    for wpb in 131072 524288 2097152; do
        W2V_TIMEOUT=100 w2v "triton_wpb$wpb" --arch both --option gpu_kernel=triton --words-per-batch $wpb
    done
    ;;
word2vec-triton-sub)
    # smaller sub-batches train closer to per-example SGD (on a CPU, 1024 beat 16384 on WS-353): affordable now?
    for sbw in 1024 4096; do
        W2V_TIMEOUT=100 w2v "triton_sub$sbw" --arch both --option gpu_kernel=triton --option sub_batch_words=$sbw
    done
    ;;
cbow-4096)
    w2v cbow_4096 --arch cbow --option sub_batch_words=4096
    ;;
nnlm)
    # the default models (tied 512/512 and the paper-style untied one), chosen on validation
    timeout 400 python3 bench/nnlm_vs_ngram.py --corpus $CORPUS --device cuda --load-ngram .gpu/ngram.npz \
        --max-seconds-per-model 150 --json-out "$OUT/nnlm.json" 2>&1 | grep -v -i warn | tee "$OUT/nnlm.txt" \
        | grep -v "^{" | tail -30
    ;;
distributed)
    timeout 300 python3 bench/distributed.py $CORPUS --device cuda --families word2vec,nnlm --repeats 1 \
        --json "$OUT/distributed.json" 2>&1 | grep -v -i warn | tee "$OUT/distributed.txt" | tail -12
    ;;
elmo-probe)
    timeout 120 python3 bench/elmo.py --corpus $CORPUS --device cuda --part train --max-steps 150 \
        --max-eval-lines 2000 --json-out "$OUT/elmo_probe.json" 2>&1 | grep -v -i warn | tee "$OUT/elmo_probe.txt" \
        | grep -v "^{" | tail -20
    ;;
elmo-compile)
    # does torch.compile of the LSTM time step help on the GPU (on a CPU it is 0.75x)?
    timeout 100 python3 bench/elmo_lstm_step.py --device cuda --preset tiny --batch-size 256 --rounds 2 \
        --systems autograd,manual,compiled 2>&1 \
        | grep -v -i warn | tee "$OUT/elmo_lstm_step.txt" | tail -6
    ;;
elmo-step)
    # the LSTM layer's training step: autograd over the step loop vs the hand-written backward
    for bs in 256 1024; do
        timeout 60 python3 bench/elmo_lstm_step.py --device cuda --preset tiny --batch-size $bs --rounds 2 \
            --systems autograd,manual --json-out "$OUT/elmo_step_$bs.json" 2>&1 | grep -v -i warn \
            | tee -a "$OUT/elmo_step.txt" | grep -v "^{" | tail -5
    done
    ;;
elmo)
    # biLM (tiny preset) and the NNLM on the NNLM bench's split and vocabulary, same epochs and time budget.
    # The biLM's step is bound by kernel launches on a GPU (~87 ms for 256 sentences, tiny preset), so it
    # trains on 1024 sentences per step: about as many steps per second, 4x the words.
    timeout 560 python3 bench/elmo.py --corpus $CORPUS --device cuda --part train --nnlm --batch-size 1024 \
        --epochs "${ELMO_EPOCHS:-8}" --max-seconds "${ELMO_SECONDS:-280}" \
        --json-out "$OUT/elmo.json" 2>&1 | grep -v -i warn | tee "$OUT/elmo.txt" | grep -v "^{" | tail -30
    ;;
elmo-pair)
    # the run above and, at the same time on the same GPU, the "small" preset (P 128, C 1024: about the
    # NNLM's size; launch-bound too, so it costs about the tiny one's time); timings are shared-GPU figures
    timeout 460 python3 bench/elmo.py --corpus $CORPUS --device cuda --part train --preset small \
        --batch-size 1024 --epochs "${ELMO_EPOCHS:-8}" --max-seconds "${ELMO_SECONDS:-280}" \
        --work-dir outputs/elmo_small_work --json-out "$OUT/elmo_small.json" > "$OUT/elmo_small.txt" 2>&1 &
    timeout 460 python3 bench/elmo.py --corpus $CORPUS --device cuda --part train --nnlm --batch-size 1024 \
        --epochs "${ELMO_EPOCHS:-8}" --max-seconds "${ELMO_SECONDS:-280}" \
        --json-out "$OUT/elmo.json" 2>&1 | grep -v -i warn | tee "$OUT/elmo.txt" | grep -v "^{" | tail -30
    wait
    grep -v -i warn "$OUT/elmo_small.txt" | grep -v "^{" | tail -12
    ;;
*)
    echo "unknown section $w"
    ;;
esac
done
echo "== done (t=${SECONDS}s)"
