"""Errors raised by the store. Each carries a hint that says how to fix it."""
from __future__ import annotations

from common.errors import HintedError


class StoreError(HintedError):
    """Base class for database problems."""
