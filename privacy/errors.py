"""Errors raised by the privacy package. Each carries a hint that says how to fix it."""
from __future__ import annotations

from common.errors import HintedError


class PrivacyError(HintedError):
    """Base class for scrubbing, account, session and audit problems."""
