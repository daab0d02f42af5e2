"""Character-level normalisation of biomedical text.

Every document text is normalised exactly once, when it is loaded, and every offset
(passages, answer spans) refers to the normalised text. Normalisation therefore must be
idempotent: `normalize_text(normalize_text(x)) == normalize_text(x)`.

What it does, in order:

1. Quote and dash variants are unified *before* NFKC, because NFKC would turn the double
   prime ″ into two primes ′′ (which would then become '' instead of ").
2. Unicode NFKC: full-width forms, ligatures (ﬁ -> fi), non-breaking spaces, the micro sign
   µ -> Greek μ, superscript digits (m² -> m2).
3. Dash variants (‐ ‑ ‒ – — ― − ⁃ ﹣ －) become "-". An en/em dash between spaces also
   becomes "-": the tokenizer only joins tokens on a hyphen *without* spaces, so
   "5 – 10" stays three tokens while "IL‐6" becomes the compound "IL-6".
4. Quote variants: ‘ ’ ‚ ‛ ′ -> ' and “ ” „ ‟ ″ -> ".
5. Control characters are removed except \\n and \\t; zero-width characters and the soft
   hyphen (U+00AD, invisible in rendered text) are removed too. \\r\\n, \\r and the
   Unicode line/paragraph separators become \\n.
6. Whitespace: runs of spaces/tabs become one space, each line is stripped, runs of blank
   lines become one blank line (a paragraph break), and the text is stripped.

Case and Greek letters are kept (β stays β): the reader needs them and the tokenizer
decides what to fold.
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

_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def unify_characters(text: str) -> str:
    """Steps 1-5 without the whitespace layout: NFKC plus dash/quote/control cleanup.

    The tokenizer uses this on raw queries so a query typed with "–" or "’" produces the
    same tokens as the normalised corpus. Never changes the number of lines.
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
    """Normalise document text (see the module docstring). Idempotent; keeps case and Greek."""
    text = unify_characters(text)
    if not text:
        return ""
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def normalize_title(text: str) -> str:
    """A title is one line: normalised, with line breaks turned into spaces."""
    return " ".join(normalize_text(text).split())
