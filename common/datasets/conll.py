"""BIO / CoNLL token files: one `token<TAB>tag` per line, a blank line between sentences.

Columns are tab-separated (whitespace when a line has no tab); the first is the token and
the last the tag (IOB2: O, B-Type, I-Type), so CoNLL files with extra columns load too.
`-DOCSTART-` lines end a sentence and are skipped. Lines are read with the line limit
(`max_line_bytes`) of `common.datasets.limits`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from common.datasets._io import decode_utf8, iter_raw_lines
from common.datasets.errors import DatasetFormatError

BIO_TAG = re.compile(r"^(O|[BI]-\S+)$")


@dataclass(frozen=True)
class BioSentence:
    """One sentence: its tokens and their IOB2 tags (same length)."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]


def read_conll(path: str | Path) -> list[BioSentence]:
    """The sentences of a BIO/CoNLL file, in file order.

    Raises DatasetFormatError naming the file and line (a line without a tag column, a tag
    that is not IOB2, no sentence at all; not found), DatasetEncodingError,
    DatasetLimitError (file size, line length).
    """
    sentences: list[BioSentence] = []
    toks: list[str] = []
    tags: list[str] = []

    def flush() -> None:
        if toks:
            sentences.append(BioSentence(tuple(toks), tuple(tags)))
            toks.clear()
            tags.clear()

    for lineno, raw in iter_raw_lines(path):
        line = decode_utf8(raw, path, lineno).rstrip("\r\n")
        if not line.strip():
            flush()
            continue
        cols = line.split("\t") if "\t" in line else line.split()
        if cols[0] == "-DOCSTART-":
            flush()
            continue
        if len(cols) < 2:
            raise DatasetFormatError(path, f"expected 'token<TAB>tag', got {line!r}",
                                     "one token and its BIO tag per line, a blank line between sentences", lineno)
        tag = cols[-1].strip()
        if not BIO_TAG.match(tag):
            raise DatasetFormatError(path, f"invalid tag {tag!r}", "tags must be O, B-Type or I-Type (IOB2)", lineno)
        toks.append(cols[0])
        tags.append(tag)
    flush()
    if not sentences:
        raise DatasetFormatError(path, "no sentences", "the file is empty")
    return sentences
