"""Pipeline errors (bad questions, bad batch files); each carries a hint."""
from __future__ import annotations


class PipelineError(Exception):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class InvalidQuestionError(PipelineError):
    pass
