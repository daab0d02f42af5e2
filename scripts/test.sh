#!/usr/bin/env bash
# Runs the default test suite (unit + integration, not slow) after making sure everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/install-browser.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
exec ${PYTHON:-python3} -m pytest -q "$@"
