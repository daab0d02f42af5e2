"""Evaluation errors. Each carries a hint; the CLI prints message + hint and exits 1."""
from __future__ import annotations


class EvaluationError(Exception):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class DatasetFormatError(EvaluationError):
    """A dataset file (or one record in it) is not in the expected layout."""


class MissingModelError(EvaluationError):
    """A reader that an evaluation needs is not on disk (e.g. the shipped reader before training)."""
