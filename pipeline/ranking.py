"""Ranking answers across retrieved passages: pure functions, no models.

The reader scores spans inside one passage; whether the passage answers the question at
all is the reranker's (or the first stage's) call. An answer's probability of being right
combines both BEFORE any cut, so a confident-looking span in a passage that does not
answer the question cannot outrank the span in the passage that does (the BERTserini
interpolation, Yang et al. 2019, applied to calibrated features):

    P(correct | span score s, passage relevance r) = sigmoid(w_s * s + w_r * r + b)

with (w_s, w_r, b) fitted by logistic regression on dev questions answered over a dev index
with distractor articles (`python -m pipeline.calibrate`), so "confident" means "probably
right" on retrieved passages, not on gold ones. `r` is the key the reranker ordered the hits
by (its calibrated relevance interpolated with the first-stage score, Hit.rerank_blend) when
they were reranked, else the fused first-stage score; each has its own fitted weights.
Without a fitted calibration the fallback is reader probability x passage relevance.

The same (s, r) means a different chance of being right on different kinds of text: on
consumer-health pages (MedQuAD) the MPNet reader's top answers at a literature-fitted 0.35 were
right about 3 times in 4 (session 10). So a calibration can also be fitted per source collection
(`python -m pipeline.calibrate --source-set PREFIX INDEX QUESTIONS`). One fit scores all of a
question's candidates, so the order and the shown probabilities always agree: the fit of the
source of the candidate the literature fit ranks first (CalibrationSet.for_question). In a
MedQuAD-only index that is the MedQuAD fit; in a mixed index where a user's own guideline holds
the best answer it is the literature fit, so a weakly relevant MedQuAD passage cannot climb above
the guideline on the MedQuAD fit's higher base rate (session 10's fresh-clone check).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from pipeline.errors import PipelineError
from reader.squad import normalize_answer

# Relevance features, the keys of their calibrations in calibration.json "open_domain":
# "rerank_blend" = the reranker's order key (Hit.rerank_blend), "retrieval" = fused score.
# (Session 5's "rerank" block used the reranker logit; it is no longer read.)
FEATURES = ("rerank_blend", "retrieval")
# Names of the fit that scored an answer (Scored.calibration): the default one, fitted on
# literature dev questions; none fitted (reader probability x relevance); else a source prefix.
LITERATURE = "literature"
UNCALIBRATED = "uncalibrated"


@dataclass(frozen=True)
class AnswerCalibration:
    """Logistic-regression weights for P(answer correct); `threshold` is the probability an
    answer needs to be shown as confident (fitted with them).

    The candidate-level fit describes every candidate, but users see the best one: the maximum
    of a question's candidates is biased upwards (winner's curse), so the logit is rescaled by
    (`top_scale`, `top_bias`), a Platt fit on each dev question's top candidate only (Platt
    1999; fitted by pipeline.calibrate.fit_top1). `top_scale` > 0 keeps every ordering; the
    defaults (1, 0) leave the candidate-level probability unchanged (older calibration files).
    """

    span_weight: float
    relevance_weight: float
    bias: float
    threshold: float
    top_scale: float = 1.0
    top_bias: float = 0.0

    def __post_init__(self) -> None:
        if not self.top_scale > 0:
            raise PipelineError(f"top_scale must be > 0 (it must keep the answer order), got {self.top_scale}",
                                "refit with `python -m pipeline.calibrate`")

    def logit(self, span_score: float, relevance: float) -> float:
        """The candidate-level logit w_s * s + w_r * r + b (before the top-answer rescaling)."""
        return self.span_weight * span_score + self.relevance_weight * relevance + self.bias

    def probability(self, span_score: float, relevance: float) -> float:
        """P(answer right) in [0, 1]."""
        z = self.top_scale * self.logit(span_score, relevance) + self.top_bias
        return 0.5 * (1.0 + math.tanh(0.5 * z))

    @classmethod
    def from_dict(cls, d: Mapping) -> "AnswerCalibration":
        return cls(float(d["span_weight"]), float(d["relevance_weight"]), float(d["bias"]), float(d["threshold"]),
                   float(d.get("top_scale", 1.0)), float(d.get("top_bias", 0.0)))

    def to_dict(self) -> dict:
        return {"span_weight": self.span_weight, "relevance_weight": self.relevance_weight, "bias": self.bias,
                "threshold": self.threshold, "top_scale": self.top_scale, "top_bias": self.top_bias}


def source_matches(source: str, prefix: str) -> bool:
    """A passage source is under a collection prefix: equal to it or below it ("MedQuAD/CDC"
    under "MedQuAD")."""
    return source == prefix or source.startswith(prefix + "/")


@dataclass(frozen=True)
class CalibrationSet:
    """The answer calibrations of one relevance feature: `default` (fitted on literature dev
    questions) and `by_source`, ((source prefix, calibration), ...) fitted on dev questions over
    those source collections. A prefix matches a passage source equal to it or below it
    ("MedQuAD" matches "MedQuAD/CDC")."""

    default: AnswerCalibration | None
    by_source: tuple[tuple[str, AnswerCalibration], ...] = ()

    def named_for_source(self, source: str) -> tuple[str, AnswerCalibration | None]:
        """(name, calibration) for a passage of `source`: (the longest matching prefix, its fit),
        else (LITERATURE, default)."""
        for prefix, cal in sorted(self.by_source, key=lambda pc: -len(pc[0])):
            if source_matches(source, prefix):
                return prefix, cal
        return LITERATURE, self.default

    def for_question(self, cands: Sequence["Candidate"]) -> tuple[str, AnswerCalibration | None]:
        """(name, fit) for all of one question's candidates: the fit of the source of the
        candidate that `default` ranks first (reader probability x relevance without a default)."""
        if not cands:
            return LITERATURE, self.default
        if self.default is not None:
            top = max(cands, key=lambda c: self.default.logit(c.span_score, c.relevance_feature))
        else:
            top = max(cands, key=lambda c: c.reader_probability * c.relevance)
        return self.named_for_source(top.source)

    @property
    def threshold(self) -> float | None:
        """The confidence threshold (every fit uses the same one; None when nothing is fitted)."""
        cals = ([self.default] if self.default is not None else []) + [c for _, c in self.by_source]
        return cals[0].threshold if cals else None

    @classmethod
    def from_dict(cls, block: Mapping, feature: str) -> "CalibrationSet | None":
        """From calibration.json's "open_domain" block: `block[feature]` and
        `block["by_source"][prefix][feature]`; None when neither holds `feature`."""
        default = AnswerCalibration.from_dict(block[feature]) if block.get(feature) else None
        by_source = tuple((prefix, AnswerCalibration.from_dict(fits[feature]))
                          for prefix, fits in (block.get("by_source") or {}).items() if fits.get(feature))
        if default is None and not by_source:
            return None
        return cls(default, by_source)


@dataclass(frozen=True)
class Candidate:
    """One answer span of one passage, with what the ranking needs."""

    text: str
    span_score: float  # reader start + end logit
    reader_probability: float  # the reader's own probability (calibrated on gold passages)
    hit_index: int  # position of its passage in the hit list
    relevance_feature: float  # the reranker's order key (Hit.rerank_blend), or fused first-stage score
    relevance: float  # passage relevance in [0, 1] shown to users
    answer: Any = None  # the caller's answer object, carried through unchanged
    # Character offsets of the span in its passage ([start, end)); (-1, -1) = unknown.
    start: int = -1
    end: int = -1
    source: str = ""  # the passage's source collection (selects its calibration)
    doc_id: str = ""  # the passage's document ("" = unknown: a document of its own)

    def overlaps(self, other: "Candidate") -> bool:
        """Same passage and the two character spans share at least one character."""
        return (self.hit_index == other.hit_index and self.start >= 0 and other.start >= 0
                and self.start < other.end and other.start < self.end)


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    probability: float
    calibration: str = UNCALIBRATED  # which fit gave the probability (a source prefix, LITERATURE, UNCALIBRATED)


def score_candidates(cands: Sequence[Candidate],
                     calibration: AnswerCalibration | CalibrationSet | None) -> list[Scored]:
    """P(correct) per candidate of ONE question: by `calibration` when it is one AnswerCalibration;
    when it is a CalibrationSet, by the one fit it picks for the question (CalibrationSet.for_question);
    without a fit, reader probability x passage relevance."""
    if isinstance(calibration, CalibrationSet):
        name, cal = calibration.for_question(cands)
    else:
        name, cal = LITERATURE, calibration
    if cal is None:
        return [Scored(c, c.reader_probability * c.relevance, UNCALIBRATED) for c in cands]
    return [Scored(c, cal.probability(c.span_score, c.relevance_feature), name) for c in cands]


def best_distinct(scored: Sequence[Scored], limit: int) -> list[Scored]:
    """Highest probability first; one entry per normalised answer text (its best occurrence);
    a span overlapping a better-ranked span of the same passage ("with numbing patches" beside
    "Treatment with numbing patches"), and a fragment of a better-ranked answer from the same
    passage ("excessive" under "excessive tiredness"), are dropped: non-maximum suppression, so
    the n-best holds different answers, not variants of one. Ties keep the better-ranked
    passage, then the higher span score. At most `limit`."""
    order = sorted(scored, key=lambda s: (-s.probability, s.candidate.hit_index, -s.candidate.span_score))
    seen: set[str] = set()
    kept: list[tuple[int, str]] = []  # (passage, " key ") of each answer kept
    out: list[Scored] = []
    for s in order:
        key = normalize_answer(s.candidate.text) or s.candidate.text.strip()
        if not key or key in seen:
            continue
        if any(hit == s.candidate.hit_index and f" {key} " in padded for hit, padded in kept):
            continue
        if any(s.candidate.overlaps(k.candidate) for k in out):
            continue
        seen.add(key)
        kept.append((s.candidate.hit_index, f" {key} "))
        out.append(s)
        if len(out) >= limit:
            break
    return out


# An item of a list answer from another document (for MedQuAD: one section of a page) than the first
# item's needs a passage at least this share as relevant as the first item's. Chosen on reranked
# relevance (the default; first-stage relevance, the fused score, was not measured), over our
# annotations' dev list questions (consumer pages, 97 answered): item precision 46.9 -> 53.8, recall
# 38.4 -> 36.4; BioASQ list dev (64 answered over the dev index) F1 39.9 -> 40.2
# (benchmarks/bench_list_items.py; docs/experiments.md "Session 14").
LIST_MIN_RELATIVE_RELEVANCE = 0.8


def list_answer(ranked: Sequence[Scored], threshold: float, max_items: int = 10,
                min_relative_relevance: float = LIST_MIN_RELATIVE_RELEVANCE) -> list[Scored]:
    """Items of a list answer ("Which drugs...", "What are the symptoms..."): the distinct
    answers whose probability clears `threshold`, best first, at most `max_items`; an item
    contained in a longer kept item ("insulin" inside "insulin glargine") is dropped, and so is
    an item from another document than the first item's whose passage relevance is below
    `min_relative_relevance` x the first item's (a glaucoma symptom list must not end with an
    item of a page on another condition that merely mentions glaucoma). Candidates without a
    doc_id count as documents of their own."""
    kept: list[Scored] = []
    for s in ranked:
        if s.probability < threshold:
            break
        t = f" {normalize_answer(s.candidate.text)} "
        if any(t in f" {normalize_answer(k.candidate.text)} " or f" {normalize_answer(k.candidate.text)} " in t
               for k in kept):
            continue
        if kept and not _same_document(s.candidate, kept[0].candidate) and (
                s.candidate.relevance < min_relative_relevance * kept[0].candidate.relevance):
            continue
        kept.append(s)
        if len(kept) >= max_items:
            break
    return kept


def _same_document(a: Candidate, b: Candidate) -> bool:
    return bool(a.doc_id) and a.doc_id == b.doc_id
