"""The size limits of every dataset reader, defined here and nowhere else.

A crafted or broken file (a zip bomb, a 2 GiB line in a small .gz, an archive of millions
of entries) must not exhaust memory or disk. Every reader of `common.datasets` checks these
limits, so the indexer, the trainers and the evaluation refuse the same files; a refusal is
a `DatasetLimitError` naming the file and the limit.

Readers look `LIMITS` up at call time (`limits.LIMITS.max_line_bytes`), so a test may
replace it with `dataclasses.replace(LIMITS, ...)` (monkeypatch) to exercise a limit on a
tiny file.
"""
from __future__ import annotations

from dataclasses import dataclass

MB = 1 << 20
GB = 1 << 30


@dataclass(frozen=True)
class DatasetLimits:
    """Size limits, in bytes unless the name says otherwise.

    max_file_bytes:          one file as stored on disk (compressed or not)
    max_decompressed_bytes:  all bytes read out of one file: a .gz decompressed, or the
                             members of a tar archive together
    max_line_bytes:          one line of a line-based file (JSONL record, CoNLL line)
    max_members:             files in one tar archive or one dataset folder (count)
    max_member_bytes:        one archive member or one file of a dataset folder
    """

    max_file_bytes: int = 2 * GB
    max_decompressed_bytes: int = 2 * GB
    max_line_bytes: int = 50 * MB
    max_members: int = 100_000
    max_member_bytes: int = 50 * MB

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


LIMITS = DatasetLimits()


def size_words(n: int) -> str:
    """A byte count as written in messages: "2 GB", "50 MB", or "200 bytes" when not a whole MB."""
    if n >= GB and n % GB == 0:
        return f"{n // GB} GB"
    if n >= MB and n % MB == 0:
        return f"{n // MB} MB"
    return f"{n:,} bytes"
