"""Errors raised by the privacy package. Each carries a hint that says how to fix it."""
from __future__ import annotations


class PrivacyError(Exception):
    """Base class for scrubbing, account, session and audit problems."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message
