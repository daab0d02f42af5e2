"""Pipeline errors (bad questions, bad batch files); each carries a hint."""
from __future__ import annotations

from common.errors import HintedError


class PipelineError(HintedError):
    """Base class of this package's errors."""


class InvalidQuestionError(PipelineError):
    pass
