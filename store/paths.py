"""Where clinqa finds the files it ships (models, labels, the bundled corpus).

`CLINQA_HOME` points at a directory holding `models/` and `data/` (an installed wheel, a
copy on shared storage); unset, the repository checkout that holds this package is used.
"""
from __future__ import annotations

import os
from pathlib import Path

HOME = Path(os.environ.get("CLINQA_HOME") or Path(__file__).resolve().parent.parent)
SHIPPED_MODELS = HOME / "models"
