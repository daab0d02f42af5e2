"""Retriever errors; each carries a hint that says how to fix it."""
from __future__ import annotations

from common.errors import HintedError


class RetrieverError(HintedError):
    """Base class of this package's errors."""
