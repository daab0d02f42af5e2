"""JSONL: one JSON value per line (question files, passage/corpus files, pair files).

Two ways to read, the same bytes either way (`_io.iter_raw_lines`: gzip by the ".gz"
name, the line and decompressed-size limits, UTF-8 with an optional BOM per line):

- `iter_jsonl_lines(path)` keeps going past a bad line: it comes back as a `JsonlLine`
  with `error` set (the indexer reports it and loads the rest);
- `iter_jsonl(path)` raises `DatasetFormatError` at the first bad line (training and
  evaluation files must be whole).

Blank lines are skipped in both. A size limit raises `DatasetLimitError` in both.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.datasets._io import iter_raw_lines
from common.datasets.errors import DatasetEncodingError, DatasetFormatError

ONE_VALUE_PER_LINE = "one JSON object per line"


@dataclass(frozen=True)
class JsonlLine:
    """One non-blank line: `value` parsed, or `error` saying why not (then `raw` holds the
    line's bytes, e.g. to guess its encoding)."""

    line: int
    value: Any = None
    error: str = ""
    raw: bytes = b""


def iter_jsonl_lines(path: str | Path) -> Iterator[JsonlLine]:
    """Every non-blank line of `path`, parsed or with its error (see the module docstring).

    Raises DatasetFormatError (file not found, corrupt .gz) and DatasetLimitError.
    """
    for lineno, raw in iter_raw_lines(path):
        if not raw.strip():
            continue
        try:
            # Without its line break, an error at the end of the line reports this line's column.
            yield JsonlLine(lineno, json.loads(raw.rstrip(b"\r\n").decode("utf-8-sig")))
        except UnicodeDecodeError:
            yield JsonlLine(lineno, error="line is not UTF-8", raw=raw)
        except json.JSONDecodeError as exc:
            yield JsonlLine(lineno, error=f"invalid JSON: {exc.msg} (column {exc.colno})", raw=raw)


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for every non-blank line; the first bad line raises
    DatasetFormatError ("PATH:LINE: invalid JSON: ..."), limits DatasetLimitError."""
    for rec in iter_jsonl_lines(path):
        if rec.error:
            cls = DatasetEncodingError if rec.raw and "UTF-8" in rec.error else DatasetFormatError
            raise cls(path, rec.error, ONE_VALUE_PER_LINE if cls is DatasetFormatError else "convert the file to UTF-8",
                      rec.line)
        yield rec.line, rec.value
