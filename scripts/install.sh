#!/usr/bin/env bash
# Installs clinqa and its dependencies from this repository's own files (idempotent).
# torch is pinned first to the CPU build that pip finds locally; a looser request would
# pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! $PY -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" 2>/dev/null; then
  $PY -m pip install -q torch==2.13.0
fi
$PY -m pip install -q -e ".[dev]"
# ranx compiles its metrics with numba on first use (about a minute); do it once here, cached.
$PY -c "from pipeline.evaluation.metrics import retrieval_metrics as r; r({'q': {'d': 1}}, {'q': ['d']})" >/dev/null 2>&1 || true
