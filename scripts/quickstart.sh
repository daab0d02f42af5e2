#!/usr/bin/env bash
# Sets everything up, indexes the bundled MedQuAD corpus (once) and answers a question.
# Usage: bash scripts/quickstart.sh ["your question"]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
INDEX=${CLINQA_INDEX:-$HOME/.local/share/clinqa/index}
if [ ! -f "$INDEX/manifest.json" ]; then
  clinqa index build --index "$INDEX" data/corpus/medquad.jsonl.gz
fi
clinqa ask --index "$INDEX" "${1:-What are the symptoms of glaucoma?}"
