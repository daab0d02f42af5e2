"""Errors of the dataset readers: one family, each naming the file (and line or record).

`DatasetError` derives from `common.errors.HintedError`, so `run_command` prints it as a
`clinqa: error:` line and a `clinqa: hint:` line like every other clinqa error.
"""
from __future__ import annotations

from pathlib import Path

from common.errors import HintedError


class DatasetError(HintedError, ValueError):
    """A data file could not be read as the dataset it should be.

    `path` names the file (or `archive:member`), `line` the 1-based line (0 = the whole
    file), `problem` what is wrong without the location; `message` is
    "PATH[:LINE]: PROBLEM".
    """

    def __init__(self, path: str | Path, problem: str, hint: str = "", line: int = 0) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {problem}", hint)
        self.path = str(path)
        self.line = line
        self.problem = problem


class DatasetFormatError(DatasetError):
    """The file (or one record in it) is not in the layout of its format."""


class DatasetEncodingError(DatasetFormatError):
    """The file is not UTF-8 text (nor UTF-16/32 with a byte-order mark)."""


class DatasetLimitError(DatasetError):
    """The file exceeds one of the size limits of `common.datasets.limits.LIMITS`.

    `limit` is the limit's field name (e.g. "max_line_bytes") and `value` its value in
    bytes (or members); the message names both, in words, with the file.
    """

    def __init__(self, path: str | Path, problem: str, limit: str, value: int, hint: str = "", line: int = 0) -> None:
        super().__init__(path, problem, hint, line)
        self.limit = limit
        self.value = value
