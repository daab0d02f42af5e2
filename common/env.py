"""Offline by construction: nothing may try to reach a model hub or send telemetry.

Every entry point (`clinqa`, `python -m ...` of a trainer, the test helpers that build tiny
models) calls `set_offline_defaults()` before a library reads these variables. Values already
set by the user win (a deliberate `HF_HUB_OFFLINE=0` to download a base model is respected).
"""
from __future__ import annotations

import os

OFFLINE_DEFAULTS: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",  # presidio's tldextract: never fetch the suffix list
    # transformers' "Loading weights" bar on every model load is noise under each answer;
    # clinqa's own long jobs (index build, training) keep their tqdm bars.
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}


def set_offline_defaults() -> None:
    """Set every variable of OFFLINE_DEFAULTS that is not already set."""
    for name, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(name, value)
