"""Errors raised by the store. Each carries a hint that says how to fix it."""
from __future__ import annotations


class HintedError(Exception):
    """An error with a hint that says how to fix it; each package derives its own family.

    It lives in `store`, the lowest layer, so every package can import it without cycles.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class StoreError(HintedError):
    """Base class for database problems."""
