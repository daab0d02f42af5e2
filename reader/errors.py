"""Exceptions raised by the reader package.

Every error carries a `hint`: what was wrong and how to fix it, so the CLI can print
something actionable instead of a traceback (common.errors: the one base and printer).
"""
from __future__ import annotations

from common.errors import HintedError


class ReaderError(HintedError):
    """Base class of reader errors."""


class ReaderModelError(ReaderError):
    """The model path/name does not hold a usable question-answering model."""


class ReaderConfigError(ReaderError, ValueError):
    """A configuration value is invalid."""


class TrainingError(ReaderError):
    """Training inputs or a checkpoint to resume from are unusable."""
