"""Sentence-aware chunking of documents into passages.

Passages are sized in *reader word-piece tokens* (not words) because the reader and the
dense encoder truncate by word pieces; counting words would overflow them on biomedical
text, where one word is often several pieces. The token counter is injected
(`token_spans`), so chunking is a pure function testable with a regex stand-in, and
production uses the reader's fast tokenizer via `hf_token_spans`.

Invariants (tested, also with random text):
- `passage.text == doc.text[passage.start:passage.end]`, spans never start or end with
  whitespace, `order` is 0..n-1, `start` strictly increases;
- every non-whitespace character of the document is in at least one passage.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from indexer.errors import ChunkingError
from store.types import Document, Passage, chunk_id_for

log = logging.getLogger(__name__)

Span = tuple[int, int]
TokenSpans = Callable[[str], list[Span]]


@dataclass(frozen=True)
class ChunkingConfig:
    max_tokens: int = 200
    overlap_tokens: int = 40

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ChunkingError(f"max_tokens must be >= 1, got {self.max_tokens}", "use e.g. max_tokens=200")
        if not 0 <= self.overlap_tokens < self.max_tokens:
            raise ChunkingError(
                f"overlap_tokens must be >= 0 and smaller than max_tokens ({self.max_tokens}), "
                f"got {self.overlap_tokens}",
                "use an overlap of about a fifth of max_tokens, e.g. 40 for 200",
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ChunkingConfig":
        return cls(**data)


# ---------------------------------------------------------------------------------------
# Sentences

# Words after which a period does not end a sentence (compared lowercase, without the
# period). "etc." is left out on purpose: it usually does end a sentence.
ABBREVIATIONS: frozenset[str] = frozenset(
    """
    e.g eg i.e ie al dr drs mr mrs ms prof vs approx ca cf st jr sr suppl dept univ inc
    ltd co resp incl spp sp subsp var
    """.split()
)
# Abbreviations that precede a number ("Fig. 2", "no. 4", "p. 12"). Only then is the
# period not a boundary: "The answer was no. The..." still splits.
NUMBER_ABBREVIATIONS: frozenset[str] = frozenset("no nos fig figs vol vols p pp ref refs eq eqs tab".split())

# A boundary candidate: terminal punctuation, optional closing quotes/brackets, then
# whitespace. A newline is always a boundary (lists, headings, paragraphs).
_TERMINAL = re.compile(r"[.!?]+[\"')\]]*(?=\s)|\n")
_WORD_BEFORE = re.compile(r"([^\s(\[]+)$")
# Only a "(" closed on the same line within this many characters protects its content;
# otherwise one stray "(" would glue a whole paragraph into one sentence.
_MAX_PAREN_CHARS = 300


def _is_abbreviation(text: str, dot: int, next_char: str) -> bool:
    """Whether the period at `dot` belongs to an abbreviation or initialism."""
    m = _WORD_BEFORE.search(text, 0, dot)
    if not m:
        return False
    word = m.group(1).lower().rstrip(".")
    if word in ABBREVIATIONS:
        return True
    if word in NUMBER_ABBREVIATIONS:
        return next_char.isdigit()
    # Dotted initialisms: i.v., b.i.d., U.S.
    return bool(re.fullmatch(r"(?:[^\W\d_]\.)+[^\W\d_]", word))


def _windows(text: str, s_start: int, s_end: int, toks: list[Span], config: ChunkingConfig) -> list[_Unit]:
    """Cut a sentence longer than max_tokens into windows overlapping by ~overlap_tokens.

    Windows start and end at word starts (a token preceded by whitespace) when one is
    available: cutting inside a word ("retar|dation") would make the passage text
    re-tokenize into different, possibly more, word pieces than were counted here.
    """
    n = len(toks)
    word_start = [i == 0 or text[toks[i][0] - 1].isspace() for i in range(n)]
    units: list[_Unit] = []
    a = 0
    while True:
        b = a + config.max_tokens
        if b >= n:
            units.append(_Unit(toks[a][0] if a else s_start, s_end, n - a))
            return units
        cut = next((i for i in range(b, a, -1) if word_start[i]), b)
        # The window ends just before the next token, so characters the tokenizer skipped
        # (between tokens) still belong to some window.
        end = _strip_span(text, toks[cut - 1][1], toks[cut][0])[1]
        units.append(_Unit(toks[a][0] if a else s_start, end, cut - a))
        target = max(cut - config.overlap_tokens, a + 1)
        a = next((i for i in range(target, cut + 1) if word_start[i]), target)


def _strip_span(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _inside_parentheses(text: str) -> bytearray:
    """1 for characters strictly inside a balanced (...) on one line, within the length cap."""
    inside = bytearray(len(text))
    stack: list[int] = []
    for i, ch in enumerate(text):
        if ch == "(":
            stack.append(i)
        elif ch == ")" and stack:
            o = stack.pop()
            if i - o <= _MAX_PAREN_CHARS:
                inside[o + 1 : i] = b"\x01" * (i - o - 1)
        elif ch == "\n":
            stack.clear()  # an unclosed "(" never reaches past its line
    return inside


def split_sentences(text: str) -> list[Span]:
    """Split `text` into sentence spans (start, end), stripped of surrounding whitespace.

    Rule-based: a sentence ends at ".", "!" or "?" (plus closing quotes/brackets) followed
    by whitespace, unless the period follows an abbreviation (e.g., i.e., et al., Dr., vs.,
    Fig., no., i.v.), the next word starts with a lowercase letter, or the period is inside
    parentheses. Decimals (2.5 mg) never split because no whitespace follows the period.
    Every newline ends a sentence. Covers all non-whitespace characters of `text`.
    """
    spans: list[Span] = []
    n = len(text)
    start = 0
    inside = _inside_parentheses(text)

    def emit(end: int) -> None:
        s, e = _strip_span(text, start, end)
        if e > s:
            spans.append((s, e))

    for m in _TERMINAL.finditer(text):
        end = m.end()
        if m.group(0) != "\n":
            # Judge by the candidate's last character, so "(... a doctor.)" closes first.
            if inside[end - 1]:
                continue
            nxt = end
            while nxt < n and text[nxt] in " \t":
                nxt += 1
            if nxt < n and text[nxt] != "\n":
                if text[nxt].islower():
                    continue
                if text[m.start()] == "." and _is_abbreviation(text, m.start(), text[nxt]):
                    continue
        emit(m.start() if m.group(0) == "\n" else end)
        start = end
    emit(n)
    return spans


# ---------------------------------------------------------------------------------------
# Chunks


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int


def _units(text: str, spans: list[Span], config: ChunkingConfig) -> list[_Unit]:
    """Sentences with their token counts; sentences over max_tokens become windows."""
    token_spans = sorted(spans)
    units: list[_Unit] = []
    t = 0
    for s_start, s_end in split_sentences(text):
        while t < len(token_spans) and token_spans[t][0] < s_start:
            t += 1
        first = t
        while t < len(token_spans) and token_spans[t][0] < s_end:
            t += 1
        toks = token_spans[first:t]
        if len(toks) <= config.max_tokens:
            units.append(_Unit(s_start, s_end, len(toks)))
            continue
        units.extend(_windows(text, s_start, s_end, toks, config))
    return units


def chunk_document(
    doc: Document,
    token_spans: TokenSpans,
    config: ChunkingConfig | None = None,
) -> list[Passage]:
    """Pack whole sentences of `doc.text` into passages of at most `max_tokens` tokens.

    `token_spans(text)` returns the character spans of the word-piece tokens of `text`.
    A new passage starts with the trailing sentences of the previous one, up to
    `overlap_tokens` tokens (none when the last sentence alone is longer). A sentence over
    `max_tokens` is cut at token boundaries into windows that overlap by `overlap_tokens`.
    """
    config = config or ChunkingConfig()
    text = doc.text
    if not text or not text.strip():
        return []
    units = _units(text, token_spans(text), config)

    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    size = 0
    for unit in units:
        if current and size + unit.tokens > config.max_tokens:
            groups.append(current)
            carry: list[_Unit] = []
            carried = 0
            for prev in reversed(current):
                if carried + prev.tokens > config.overlap_tokens:
                    break
                carry.insert(0, prev)
                carried += prev.tokens
            # Overlap never pushes the new sentence over the limit, and never repeats the
            # whole previous chunk (that would not advance).
            while carry and (carried + unit.tokens > config.max_tokens or len(carry) == len(current)):
                carried -= carry.pop(0).tokens
            current, size = carry, carried
        current.append(unit)
        size += unit.tokens
    if current:
        groups.append(current)

    passages: list[Passage] = []
    last_start = -1
    for group in groups:
        start, end = _strip_span(text, group[0].start, max(u.end for u in group))
        if end <= start or start <= last_start:
            continue
        last_start = start
        chunk = text[start:end]
        passages.append(
            Passage(
                chunk_id=chunk_id_for(doc.doc_id, start, chunk),
                doc_id=doc.doc_id,
                order=len(passages),
                text=chunk,
                start=start,
                end=end,
                title=doc.title,
                url=doc.url,
                source=doc.source,
                license=doc.license,
            )
        )
    log.debug("chunked %s into %d passages", doc.doc_id, len(passages))
    return passages


# ---------------------------------------------------------------------------------------
# Token counting with a Hugging Face fast tokenizer


def hf_token_spans(tokenizer: Any) -> TokenSpans:
    """Adapt a HF *fast* tokenizer into a `token_spans` function.

    Calls it with `add_special_tokens=False, return_offsets_mapping=True` and explicitly
    `truncation=False, padding=False, verbose=False`: a document is longer than
    `model_max_length` by design (that is why it is chunked), so it must be neither cut nor
    warned about ("Token indices sequence length is longer than..."). Empty spans
    (special tokens) are dropped and spans are trimmed of whitespace, since BPE and
    SentencePiece offsets may include the leading space.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ChunkingError(
            f"{type(tokenizer).__name__} is not a fast tokenizer (it has no offset mapping)",
            "load it with AutoTokenizer.from_pretrained(name) from a model that ships tokenizer.json",
        )

    def spans(text: str) -> list[Span]:
        if not text:
            return []
        enc = tokenizer(
            text,
            add_special_tokens=False,
            return_offsets_mapping=True,
            truncation=False,
            padding=False,
            verbose=False,
        )
        out: list[Span] = []
        for s, e in enc["offset_mapping"]:
            s, e = _strip_span(text, s, e)
            if e > s:
                out.append((s, e))
        return out

    return spans
