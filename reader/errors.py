"""Exceptions raised by the reader package.

Every error carries a `hint`: what was wrong and how to fix it, so the CLI can print
something actionable instead of a traceback.
"""
from __future__ import annotations


class ReaderError(Exception):
    """Base class of reader errors."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:  # the hint is the useful part for a CLI user
        base = super().__str__()
        return f"{base} (hint: {self.hint})" if self.hint else base


class ReaderModelError(ReaderError):
    """The model path/name does not hold a usable question-answering model."""


class ReaderConfigError(ReaderError, ValueError):
    """A configuration value is invalid."""


class TrainingError(ReaderError):
    """Training inputs or a checkpoint to resume from are unusable."""
