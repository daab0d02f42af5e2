"""Evaluation errors. Each carries a hint; the CLI prints message + hint and exits 1."""
from __future__ import annotations

from common.errors import HintedError


class EvaluationError(HintedError):
    """Base class of this package's errors."""


class DatasetFormatError(EvaluationError):
    """A dataset file (or one record in it) is not in the expected layout."""


class MissingModelError(EvaluationError):
    """A reader that an evaluation needs is not on disk (e.g. the shipped reader before training)."""
