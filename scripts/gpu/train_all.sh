#!/usr/bin/env bash
# One lent-GPU session (15 min of device time, 10 per command, 64 MiB back per call): train the
# reranker (two learning rates), the reader and the yes/no model side by side on one GPU, keep
# each run's best dev checkpoint, and return them as base + delta packs (scripts/model_delta.py)
# under $OUT, highest priority first, as many as fit in 63 MiB. What does not fit stays in
# runs/gpu/ for a second, short call (`bash scripts/gpu/train_all.sh collect NAME...`).
#
# The tree that travels holds gpu_data/ (ignored): minilm/ (the packaged MiniLM in fp16) and
# data/*.gz (the training and dev files from ../shared/data), plus .whl/ (bm25s, SQLAlchemy).
# Env: DATA (default gpu_data/data), MEDQUAD (data/corpus/medquad.jsonl.gz), BASE (gpu_data/minilm), BUDGET (training minutes per run,
# default 4), EXTRA (more options for every run, e.g. "--max-steps 3 --device cpu" for a smoke test).
set -uo pipefail
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
OUT=${OUT:-runs/gpu/out}
DATA=${DATA:-gpu_data/data}
BASE=${BASE:-gpu_data/minilm}
BUDGET=${BUDGET:-4}
EXTRA=${EXTRA:-}
R=runs/gpu
mkdir -p "$R" "$OUT"

if ls .whl/*.whl >/dev/null 2>&1 && ! python3 -c "import bm25s, sqlalchemy" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

pack() {  # pack NAME...: base + delta of runs/gpu/NAME as $OUT/NAME.tgz.NN (15 MiB parts)
  for n in "$@"; do
    [ -f "$R/$n/model.safetensors" ] || { echo "pack: no model in $R/$n"; continue; }
    rm -rf "$R/pack/$n" && python3 scripts/model_delta.py pack --base "$BASE" --model "$R/$n" --out "$R/pack/$n" \
      && tar -C "$R/pack" -czf - "$n" | split -b 15M -d - "$OUT/$n.tgz."
  done
}

if [ "${1:-}" = collect ]; then shift; pack "$@"; ls -la "$OUT"; exit 0; fi

D=/tmp/clinqa-data
mkdir -p $D
(cd "$DATA" && find . -name '*.gz' | while read -r f; do mkdir -p "$D/$(dirname "$f")"; gunzip -c "$f" > "$D/${f%.gz}"; done)
MEDQUAD=${MEDQUAD:-data/corpus/medquad.jsonl.gz}
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null
date +%T

common="--bf16 --freeze-embeddings --threads 3 --no-progress --time-budget-min $BUDGET --epochs 20 $EXTRA"
rr() {  # rr NAME LR
  timeout 470 python3 -m tasks.cli train reranker --base "$BASE" --mining-encoder "$BASE" \
    --train $D/covidqa/train.json $D/bioasq-train/train.json $D/bioasq-yesno/train.jsonl "$MEDQUAD" \
    --dev $D/covidqa/dev.json $D/bioasq/BioASQ-val-factoid.json --out $R/$1 \
    --group-size 16 --batch-size 16 --lr $2 --max-seq-len 256 --max-dev-questions 400 $common > $R/$1.log 2>&1
  echo "$1 exit $?"
}
rr rerankerA 7e-5 &
rr rerankerB 3e-5 &
(timeout 470 python3 -m reader.train --base "$BASE" --train $D/covidqa/train.json $D/bioasq-train/train.json \
   --train-repeats 2 1 --dev $D/covidqa/dev.json $D/bioasq/BioASQ-val-factoid.json --out $R/reader \
   --negatives 4 --batch-size 16 --lr 1e-4 --max-seq-len 256 --doc-stride 64 --eval-batch-size 128 $common \
   > $R/reader.log 2>&1; echo "reader exit $?") &
(timeout 470 python3 -m tasks.cli train yesno --base "$BASE" --pubmedqa $D/pubmedqa/ori_pqal.json \
   --bioasq $D/bioasq-yesno/train.jsonl --bioasq-dev $D/bioasq/BioASQ-val-yesno.json --out $R/yesno \
   --lr 3e-5 --batch-size 32 --max-seq-len 384 $common > $R/yesno.log 2>&1; echo "yesno exit $?") &
wait
date +%T
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv 2>/dev/null

# Keep the better reranker; the reader only if it beats the shipped one on the same dev mean F1.
python3 - "$R" > $R/selection.json <<'EOF'
import json, sys
from pathlib import Path
r = Path(sys.argv[1])
def best(name, key):
    p = r / name / "metrics.json"
    if not p.is_file():
        return None
    m = json.loads(p.read_text())
    b = m.get("best") or {}
    return b.get(key, m.get("best_mean_f1"))
rr = {n: best(n, "mrr") for n in ("rerankerA", "rerankerB")}
rr_ok = [n for n, v in rr.items() if v is not None]
reader = best("reader", "mean_f1")
yesno = best("yesno", "dev_macro_f1")
order = ([max(rr_ok, key=lambda n: rr[n])] if rr_ok else []) \
    + (["reader"] if reader is not None and reader > 46.5 else []) + (["yesno"] if yesno is not None else [])
print(json.dumps({"rerankers": rr, "reader_mean_f1": reader, "yesno_dev_macro_f1": yesno, "order": order}))
EOF
cat $R/selection.json
for n in $(python3 -c "import json; print(' '.join(json.load(open('$R/selection.json'))['order']))"); do
  pack "$n"
  total=$(du -cb "$OUT" | tail -1 | cut -f1)
  if [ "$total" -gt $((61 * 1024 * 1024)) ]; then  # room left for the logs
    echo "over budget after $n ($total bytes): left for a collect call"; rm -f "$OUT/$n".tgz.*; break
  fi
done
tar -czf "$OUT/logs.tgz" $R/*.log $R/selection.json $R/*/metrics.json $R/*/training_args.json 2>/dev/null
ls -la "$OUT"; date +%T
