#!/usr/bin/env bash
# The GPU figures quoted in the issues, in one run on a lent GPU machine (python 3.12 with torch + CUDA,
# no network). Carried along (ignored by git): .whl/ (wheels missing there: transformers 5.x, gensim
# for the evaluation data sets), .gpu/ (gcide.txt.xz and the CPU-computed n-gram results ngram.npz).
# Usage: bash bench/gpu_checks.sh [word2vec] [nnlm] [elmo]   (default: all); logs go to $OUT (or ./outputs).
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
what=${*:-word2vec nnlm elmo}

for w in $what; do
case $w in
word2vec)
    # throughput and quality of ours on the GPU (gensim's CPU figures come from the CPU run of the same
    # script); sub_batch_words trades sequential SGD granularity for GPU parallelism
    timeout 150 python3 bench/word2vec_vs_gensim.py $CORPUS --systems ours --device cuda --arch skipgram \
        --seeds 3 --json "$OUT/w2v_skipgram_default.json" 2>&1 | grep -v -i warn | tail -4 | tee -a "$OUT/word2vec.txt"
    for arch in skipgram cbow; do
        for sbw in 1024 4096 16384; do
            timeout 150 python3 bench/word2vec_vs_gensim.py $CORPUS --systems ours --device cuda --arch $arch \
                --option sub_batch_words=$sbw --json "$OUT/w2v_${arch}_${sbw}.json" 2>&1 \
                | grep -v -i warn | tail -4 | tee -a "$OUT/word2vec.txt"
        done
    done
    ;;
nnlm)
    # the default models (tied 512/512 and the paper-style untied one), chosen on validation
    timeout 400 python3 bench/nnlm_vs_ngram.py --corpus $CORPUS --device cuda --load-ngram .gpu/ngram.npz \
        --max-seconds-per-model 150 --json-out "$OUT/nnlm.json" 2>&1 | grep -v -i warn | tee "$OUT/nnlm.txt" \
        | grep -v "^{" | tail -30
    ;;
elmo)
    if [ -f bench/elmo.py ]; then
        # biLM (tiny preset) on the NNLM bench's split and vocabulary, 5 minutes of training
        timeout 480 python3 bench/elmo.py --corpus $CORPUS --device cuda --epochs 8 --max-seconds 300 \
            --json-out "$OUT/elmo.json" 2>&1 | grep -v -i warn | tee "$OUT/elmo.txt" | tail -30
        # does torch.compile of the LSTM time step help on the GPU (on a CPU it is 0.75x)?
        timeout 240 python3 bench/elmo_lstm_step.py --device cuda --preset small --batch-size 256 2>&1 \
            | grep -v -i warn | tee "$OUT/elmo_lstm_step.txt" | tail -6
    fi
    ;;
esac
done
