"""Character-level normalisation of biomedical text: what is stored and shown, and what is matched.

Two levels, kept apart on purpose:

* **Stored and shown** (`normalize_text`, `normalize_title`): the text *as written*. Only
  Unicode NFC (canonical composition: "e" + combining acute == "é", no change a reader can
  see), line-break variants -> "\n", control characters and invisible zero-width
  characters / soft hyphens removed, and whitespace layout (runs of spaces and tabs become
  one space, lines stripped, at most one blank line). Superscripts, dashes, quotes, micro
  signs and full-width forms are kept: "10 × 10⁹/L" must never be shown as "10 × 109/L".
  Every offset (passages, answer spans) refers to this text. Idempotent.
* **Matched** (`unify_characters`, used by the BM25 tokenizer on passages and queries
  alike): NFKC plus dash and quote unification, so "IL‐6" and "IL-6", "’" and "'", "µg"
  and "μg" give the same tokens. This folding never reaches stored text.

Decision record: docs/decisions.md ("text as written").
"""
from __future__ import annotations

import re
import unicodedata

# Dashes that should read as an ASCII hyphen-minus. U+2011 (non-breaking hyphen) is
# mapped by NFKC to U+2010, both are listed so the table works before and after NFKC.
DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63\uff0d"
SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u2035"
DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u2036"

_CHAR_TABLE: dict[int, str | None] = {}
_CHAR_TABLE.update({ord(c): "-" for c in DASHES})
_CHAR_TABLE.update({ord(c): "'" for c in SINGLE_QUOTES})
_CHAR_TABLE.update({ord(c): '"' for c in DOUBLE_QUOTES})
# Line breaks of other systems; the paragraph logic below only knows "\n".
_CHAR_TABLE.update({ord("\r"): "\n", 0x2028: "\n", 0x2029: "\n\n", 0x0085: "\n", 0x000B: "\n", 0x000C: "\n"})
# Invisible characters that would otherwise split or glue words unpredictably.
_CHAR_TABLE.update({c: None for c in (0x00AD, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF)})

# What stored text loses: line-break variants and invisible characters, nothing visible.
_LAYOUT_TABLE = {k: v for k, v in _CHAR_TABLE.items() if v is None or "\n" in v}

_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def unify_characters(text: str) -> str:
    """Matching fold: NFKC plus dash/quote/control cleanup (no whitespace layout).

    Order matters: quote and dash variants are unified *before* NFKC, because NFKC would
    turn the double prime ″ into two primes ′′. Used by the tokenizer on passages and
    queries, never on stored text. Never changes the number of lines.
    """
    if not text:
        return ""
    # "\r\n" must become one "\n", not two.
    text = text.replace("\r\n", "\n").translate(_CHAR_TABLE)
    text = unicodedata.normalize("NFKC", text)
    # NFKC can produce characters the table handles (e.g. U+FE63 -> "-", U+2033 stays).
    text = text.translate(_CHAR_TABLE)
    return _CONTROL.sub("", text)


def normalize_text(text: str) -> str:
    """Document text as written: NFC, line breaks, invisible characters and whitespace layout
    only (see the module docstring). Idempotent; keeps case, Greek, superscripts, dashes."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").translate(_LAYOUT_TABLE)
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text))
    if not text:
        return ""
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def normalize_title(text: str) -> str:
    """A title is one line: normalised, with line breaks turned into spaces."""
    return " ".join(normalize_text(text).split())
