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
#   elmo-step       LSTM layer step, autograd vs the hand-written backward, 256 and 1024 sentences (~1 min)
#   elmo-compile    torch.compile of the LSTM time step vs eager, tiny preset at the training batch (~1 min)
#   elmo            biLM (tiny) vs NNLM, ELMO_EPOCHS epochs each (default 8), ELMO_SECONDS budget each (~6 min)
#   elmo-pair       the same, with the "small" preset training beside it on the same GPU (~7 min)
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
what=${*:-word2vec elmo-step elmo-probe}

w2v() {  # w2v NAME ARGS...: one run of the Word2Vec bench (ours only, on the GPU)
    local name=$1; shift
    echo "== word2vec $name: $*" | tee -a "$OUT/word2vec.txt"
    timeout 200 python3 bench/word2vec_vs_gensim.py $CORPUS --systems ours --device cuda "$@" \
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
cbow-4096)
    w2v cbow_4096 --arch cbow --option sub_batch_words=4096
    ;;
nnlm)
    # the default models (tied 512/512 and the paper-style untied one), chosen on validation
    timeout 400 python3 bench/nnlm_vs_ngram.py --corpus $CORPUS --device cuda --load-ngram .gpu/ngram.npz \
        --max-seconds-per-model 150 --json-out "$OUT/nnlm.json" 2>&1 | grep -v -i warn | tee "$OUT/nnlm.txt" \
        | grep -v "^{" | tail -30
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
