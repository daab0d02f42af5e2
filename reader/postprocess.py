"""Span selection from start/end logits: pure functions, no model.

Same rule as Hugging Face `postprocess_qa_predictions`: for every window take the top
`n_best` start and end logits, pair them (end >= start, both inside the context, at most
`max_answer_tokens` long), score = start logit + end logit, and rank candidates from ALL
windows (and all passages) together. Because windows overlap, the same span can be
found twice: identical (passage, char span) pairs keep their best score, and identical
normalised text across passages keeps only the best occurrence, so the n-best list shows
distinct answers.

Ranking across passages (`merge`):
- "best": by the best occurrence's score (the run_qa rule);
- "support": by evidence summed over passages. Each passage's distinct candidates get a
  softmax over their scores (at `temperature`), and an answer's support is the sum of its
  probabilities over the passages that propose it. An answer several snippets agree on
  outranks one strong span in a single snippet; this is how BioASQ systems turn per-snippet
  n-best lists into one list (docs/experiments.md: +5 MRR on BioASQ factoid dev). With one
  passage the two rules give the same order.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from reader.squad import normalize_answer

# Units that complete a number ("6.02" -> "6.02 h", "8" -> "8 mg/kg"): SI and clinical units,
# optionally per another unit. Matched right after the span, case-sensitive for the
# short ones that are also words.
_UNIT = (
    r"(?:%|‰|[mµμunp]?g|mcg|ng|pg|kg|[mµμn]?mol|[mµμdn]?[lL]|IU|U|units?|mEq|"
    r"h|hr?s?|hours?|min|minutes?|s|sec|seconds?|ms|days?|d|weeks?|wk|months?|mo|years?|yr?s?|"
    r"mmHg|bpm|°C|°F|[cmµμn]?m|Gy|kDa|Da|cells|copies|-?fold|times)"
)
_UNIT_TAIL = re.compile(rf"(?:\s?{_UNIT}(?:/(?:{_UNIT}|m2|m²|kg/(?:day|d|h|min)))*)(?![\w/])")
# A range or a "±" spread continuing a number: "10" -> "10-20", "5" -> "5 to 10", "3" -> "3 ± 0.5"
_RANGE_TAIL = re.compile(r"(?:\s?(?:-|–|—|to|±|\+/-)\s?\d+(?:[.,]\d+)?)")


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch in "_"


def snap_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen [start, end) so an answer comes out whole (pure).

    - Word boundaries: a span never starts or ends inside a word ("Allopurino" ->
      "Allopurinol"); word pieces of one word are glued back together.
    - Numbers: a number is completed by a following range ("10" -> "10-20") and unit
      ("6.02" -> "6.02 h", "8" -> "8 mg/kg", "10-20" -> "10-20 mg").
    - Brackets: an opening parenthesis inside the span gets its closing one when it
      follows within 20 characters.
    Leading/trailing spaces and dangling punctuation are trimmed.
    """
    n = len(text)
    start, end = max(0, min(start, n)), max(0, min(end, n))
    while start > 0 and start < n and _is_word(text[start - 1]) and _is_word(text[start]):
        start -= 1
    # A decimal number split at its point ("6" | ".02"): glue it.
    while start > 1 and text[start - 1] in ".," and text[start - 2].isdigit() and text[start].isdigit():
        start -= 2
        while start > 0 and _is_word(text[start - 1]):
            start -= 1
    while 0 < end < n and _is_word(text[end - 1]) and _is_word(text[end]):
        end += 1
    while end + 1 < n and text[end] in ".," and text[end - 1].isdigit() and text[end + 1].isdigit():
        end += 2
        while end < n and _is_word(text[end]):
            end += 1
    if end > start and text[end - 1].isdigit():
        m = _RANGE_TAIL.match(text, end)
        if m:
            end = m.end()
        m = _UNIT_TAIL.match(text, end)
        if m:
            end = m.end()
    seg = text[start:end]
    if seg.count("(") > seg.count(")"):
        close = text.find(")", end, min(n, end + 20))
        if close != -1:
            end = close + 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:"):
        end -= 1
    if end > start and text[end - 1] == ")" and text[start:end].count(")") > text[start:end].count("("):
        end -= 1
    return start, end


@dataclass(frozen=True)
class SpanCandidate:
    """A candidate answer: char span [start, end) in passage `passage_index`."""

    passage_index: int
    start: int
    end: int
    score: float
    text: str
    window_index: int
    support: float = 0.0  # merge="support": summed per-passage probability; else 0


MERGES = ("best", "support")


def select_spans(
    start_logits: Sequence[Sequence[float]],
    end_logits: Sequence[Sequence[float]],
    offsets: Sequence[Sequence[tuple[int, int] | None]],
    window_passage: Sequence[int],
    passage_texts: Sequence[str],
    n_best: int = 20,
    max_answer_tokens: int = 30,
    merge: str = "best",
    temperature: float = 1.0,
) -> list[SpanCandidate]:
    """Rank answer spans over all windows of one question.

    Args:
        start_logits, end_logits: per window, one logit per token (padding may extend
            beyond `offsets`; extra positions are ignored).
        offsets: per window, (char_start, char_end) in the passage for context tokens and
            None for question/special/padding tokens.
        window_passage: per window, the index of its passage in `passage_texts`.
        passage_texts: the passages' texts (answers are sliced from them).
        merge: "best" or "support" (see the module docstring); temperature applies to
            the per-passage softmax of "support".
    Returns:
        At most `n_best` distinct candidates, best first.
    """
    if not (len(start_logits) == len(end_logits) == len(offsets) == len(window_passage)):
        raise ValueError("start_logits, end_logits, offsets and window_passage must have one entry per window")
    if merge not in MERGES:
        raise ValueError(f"merge must be one of {MERGES}, got {merge!r}")
    best_by_span: dict[tuple[int, int, int], SpanCandidate] = {}
    for w, (sl, el, offs, p) in enumerate(zip(start_logits, end_logits, offsets, window_passage)):
        n = len(offs)
        sl = np.asarray(sl, dtype=np.float64)[:n]
        el = np.asarray(el, dtype=np.float64)[:n]
        # argsort on the negated logits: stable, so ties keep token order (deterministic).
        starts = np.argsort(-sl, kind="stable")[:n_best]
        ends = np.argsort(-el, kind="stable")[:n_best]
        text = passage_texts[p]
        for s in starts:
            if offs[s] is None:
                continue
            for e in ends:
                if offs[e] is None or e < s or e - s + 1 > max_answer_tokens:
                    continue
                cs, ce = snap_span(text, offs[s][0], offs[e][1])
                if ce <= cs:
                    continue
                score = float(sl[s] + el[e])
                key = (p, cs, ce)
                prev = best_by_span.get(key)
                if prev is None or score > prev.score:
                    best_by_span[key] = SpanCandidate(p, cs, ce, score, text[cs:ce], w)
    ranked = sorted(best_by_span.values(), key=lambda c: (-c.score, c.passage_index, c.start, c.end))
    if merge == "support":
        return rank_by_support(ranked, n_best, temperature)
    return distinct(ranked, n_best)


def _norm(text: str) -> str:
    return normalize_answer(text) or text.strip()


def distinct(ranked: Sequence[SpanCandidate], n_best: int) -> list[SpanCandidate]:
    """First occurrence of each normalised answer text, at most n_best."""
    out: list[SpanCandidate] = []
    seen_text: set[str] = set()
    for c in ranked:
        norm = _norm(c.text)
        if not norm or norm in seen_text:
            continue
        seen_text.add(norm)
        out.append(c)
        if len(out) >= n_best:
            break
    return out


def rank_by_support(ranked: Sequence[SpanCandidate], n_best: int, temperature: float = 1.0) -> list[SpanCandidate]:
    """Distinct answers ordered by summed per-passage probability (ties: best score).

    `ranked` is best-score-first. Each passage contributes its own n-best distinct answers
    with a softmax over their scores; the best-scoring occurrence represents the answer."""
    per_passage: dict[int, list[SpanCandidate]] = {}
    for c in ranked:
        per_passage.setdefault(c.passage_index, []).append(c)
    support: dict[str, float] = {}
    best: dict[str, SpanCandidate] = {}
    for cands in per_passage.values():
        own = distinct(cands, n_best)
        for c, p in zip(own, softmax([c.score for c in own], temperature)):
            norm = _norm(c.text)
            support[norm] = support.get(norm, 0.0) + p
            if norm not in best or c.score > best[norm].score:
                best[norm] = c
    order = sorted(best, key=lambda n: (-support[n], -best[n].score, best[n].passage_index, best[n].start))
    return [replace(best[n], support=support[n]) for n in order[:n_best]]


def null_score(start_logits: Sequence[Sequence[float]], end_logits: Sequence[Sequence[float]]) -> float:
    """No-answer score as in `run_qa.py`: the minimum CLS (index 0) score over windows.
    Returns -inf when there are no windows."""
    scores = [float(s[0]) + float(e[0]) for s, e in zip(start_logits, end_logits)]
    return min(scores) if scores else -math.inf


def softmax(scores: Sequence[float], temperature: float = 1.0) -> list[float]:
    """Numerically stable softmax of scores / temperature (empty in, empty out)."""
    if not len(scores):
        return []
    x = np.asarray(scores, dtype=np.float64) / max(temperature, 1e-6)
    x = np.exp(x - x.max())
    return (x / x.sum()).tolist()
