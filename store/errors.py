"""Errors raised by the store. Each carries a hint that says how to fix it."""
from __future__ import annotations


class StoreError(Exception):
    """Base class for database problems."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message
