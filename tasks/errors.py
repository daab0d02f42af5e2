"""Exceptions raised by the tasks package.

Every error carries a `hint` (what to do), like the reader's errors, so the CLI prints
something actionable. Data-file errors also name the file and the line.
"""
from __future__ import annotations

from pathlib import Path

from common.errors import HintedError


class TaskError(HintedError):
    """Base class of NER / classification / annotation errors."""


class DataFormatError(TaskError, ValueError):
    """A data file is malformed; `path` and `line` (1-based, 0 = whole file) say where."""

    def __init__(self, path: str | Path, line: int, problem: str, hint: str = "") -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {problem}", hint)
        self.path = str(path)
        self.line = line
