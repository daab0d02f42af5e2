"""Where the shipped NER model and document classifier live (common.paths.SHIPPED_MODELS:
$CLINQA_HOME/models, else the checkout's), so defaults work from any working directory."""
from __future__ import annotations

from pathlib import Path

from common.paths import SHIPPED_MODELS

MODELS_DIR = SHIPPED_MODELS
SHIPPED_NER_DIR = MODELS_DIR / "ner"
SHIPPED_CLASSIFIER_DIR = MODELS_DIR / "classifier"
SHIPPED_YESNO_DIR = MODELS_DIR / "yesno"


def _present(path: Path) -> Path | None:
    return path if (path / "config.json").is_file() else None


def shipped_ner() -> Path | None:
    """The shipped NER model directory, or None when this checkout has none."""
    return _present(SHIPPED_NER_DIR)


def shipped_classifier() -> Path | None:
    """The shipped document classifier directory, or None when this checkout has none."""
    return _present(SHIPPED_CLASSIFIER_DIR)


def shipped_yesno() -> Path | None:
    """The shipped yes/no/maybe classifier directory, or None when this checkout has none."""
    return _present(SHIPPED_YESNO_DIR)
