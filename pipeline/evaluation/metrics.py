"""Evaluation metrics: pure functions, no models, no I/O.

Every quality metric is a percentage (0-100). SQuAD EM/F1 come from `reader.squad` (the
official v1.1 logic); retrieval metrics come from ranx, whose fractions are multiplied by 100.

BioASQ factoid (as the challenge scores it, over at most 5 ranked answers per question):
- strict accuracy: the first answer matches a gold synonym;
- lenient accuracy: any of the 5 answers matches;
- MRR: mean of 1/rank of the first matching answer (0 when none matches).
BioASQ list: per question precision, recall and F1 of the returned list against the gold
items, then the mean over questions.
Matching is the challenge's: case-insensitive equality of the whitespace-trimmed strings.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from reader.squad import exact_match_score, f1_score, metric_max_over_ground_truths

BIOASQ_MAX_ANSWERS = 5
RETRIEVAL_CUTOFFS = (1, 5, 10, 20, 100)
RECALL_CURVE_CUTOFFS = (1, 2, 3, 5, 10, 20, 30, 50, 100)


# -- SQuAD ---------------------------------------------------------------------------
def squad_scores(prediction: str, golds: Sequence[str]) -> tuple[float, float]:
    """(EM, F1) in 0..1 of one prediction against its gold answers (official v1.1: max over golds)."""
    return (
        metric_max_over_ground_truths(exact_match_score, prediction, golds),
        metric_max_over_ground_truths(f1_score, prediction, golds),
    )


# -- BioASQ --------------------------------------------------------------------------
def bioasq_key(text: str) -> str:
    return " ".join(text.split()).lower()


def distinct_answers(candidates: Iterable[tuple[str, float]], limit: int | None = BIOASQ_MAX_ANSWERS) -> list[tuple[str, float]]:
    """Merge (text, probability) candidates from all of a question's snippets into one ranked
    list of distinct answers, best probability first (BioBERT's nbest -> BioASQ conversion).

    Duplicates (same `bioasq_key`) keep their best probability; ties keep first-seen order
    so the result is deterministic. Empty strings are dropped.
    """
    best: dict[str, tuple[float, int, str]] = {}
    for i, (text, prob) in enumerate(candidates):
        key = bioasq_key(text)
        if not key:
            continue
        if key not in best or prob > best[key][0]:
            best[key] = (float(prob), best[key][1] if key in best else i, text.strip())
    ranked = sorted(best.values(), key=lambda v: (-v[0], v[1]))
    return [(text, prob) for prob, _, text in ranked[:limit]]


def factoid_scores(ranked: Sequence[str], golds: Sequence[str]) -> tuple[float, float, float]:
    """(strict, lenient, reciprocal rank) in 0..1 for one question, over the top 5 answers."""
    gold = {bioasq_key(g) for g in golds}
    for rank, answer in enumerate(ranked[:BIOASQ_MAX_ANSWERS], start=1):
        if bioasq_key(answer) in gold:
            return float(rank == 1), 1.0, 1.0 / rank
    return 0.0, 0.0, 0.0


def factoid_metrics(per_question: Sequence[tuple[float, float, float]]) -> dict[str, float]:
    n = len(per_question)
    if n == 0:
        return {"strict_accuracy": 0.0, "lenient_accuracy": 0.0, "mrr": 0.0, "n": 0}
    s, l, rr = (100.0 * sum(x[i] for x in per_question) / n for i in range(3))
    return {"strict_accuracy": s, "lenient_accuracy": l, "mrr": rr, "n": n}


def list_scores(predicted: Sequence[str], golds: Sequence[str]) -> tuple[float, float, float]:
    """(precision, recall, F1) in 0..1 of one list answer; each distinct gold string is an item."""
    gold = {bioasq_key(g) for g in golds}
    pred = list(dict.fromkeys(bioasq_key(p) for p in predicted if bioasq_key(p)))
    if not pred or not gold:
        return 0.0, 0.0, 0.0
    hits = sum(1 for p in pred if p in gold)
    precision, recall = hits / len(pred), hits / len(gold)
    f1 = 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f1


def list_metrics(per_question: Sequence[tuple[float, float, float]]) -> dict[str, float]:
    n = len(per_question)
    if n == 0:
        return {"list_precision": 0.0, "list_recall": 0.0, "list_f1": 0.0, "n": 0}
    p, r, f = (100.0 * sum(x[i] for x in per_question) / n for i in range(3))
    return {"list_precision": p, "list_recall": r, "list_f1": f, "n": n}


# -- retrieval -----------------------------------------------------------------------
def doc_ranking(chunks: Sequence[str], chunk_doc: Mapping[str, str]) -> list[str]:
    """Chunk ids best first -> document ids best first; a document ranks at its best chunk."""
    return list(dict.fromkeys(chunk_doc[c] for c in chunks if c in chunk_doc))


def _numba_cache() -> None:
    """ranx compiles its metrics with numba (`cache=True`); a user cache directory makes that
    a one-time cost even when site-packages is read-only."""
    if "NUMBA_CACHE_DIR" not in os.environ:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        os.environ["NUMBA_CACHE_DIR"] = str(base / "clinqa" / "numba")


def retrieval_metrics(
    qrels: Mapping[str, Mapping[str, int]],
    rankings: Mapping[str, Sequence[str]],
    cutoffs: Sequence[int] = RETRIEVAL_CUTOFFS,
    extra: Sequence[str] = ("mrr@10", "ndcg@10"),
) -> dict[str, float]:
    """Recall@k (for each cutoff), MRR@10 and nDCG@10 with ranx, in percent, averaged over the
    queries of `qrels` (a query missing from `rankings` retrieved nothing and scores 0).

    Rankings are ordered lists; ranx wants scores, so rank r of n gets score n - r, which
    keeps our order exactly (ranx's own tie-breaking never applies).
    """
    _numba_cache()
    from ranx import Qrels, Run, evaluate

    if not qrels:
        return {**{f"recall@{k}": 0.0 for k in cutoffs}, **{m: 0.0 for m in extra}, "n": 0}
    run = {q: {d: float(len(docs) - r) for r, d in enumerate(docs)} for q, docs in rankings.items() if q in qrels}
    names = [f"recall@{k}" for k in cutoffs] + list(extra)
    with warnings.catch_warnings():
        # ranx's compiled recall casts uint64 to int64 internally; harmless for relevance labels.
        warnings.filterwarnings("ignore", message="unsafe cast", category=Warning)
        scores = evaluate(Qrels({q: dict(v) for q, v in qrels.items()}), Run(run), names, make_comparable=True)
    if len(names) == 1:  # ranx returns a bare float for a single metric
        scores = {names[0]: scores}
    out = {name: 100.0 * float(scores[name]) for name in names}
    out["n"] = len(qrels)
    return out


def hit_at(ranking: Sequence[str], relevant: Iterable[str], k: int | None = None) -> bool:
    rel = set(relevant)
    return any(d in rel for d in (ranking if k is None else ranking[:k]))


# -- latency and calibration ---------------------------------------------------------
def latency_percentiles(ms: Sequence[float]) -> dict[str, float]:
    if not ms:
        return {"latency_ms_p50": 0.0, "latency_ms_p95": 0.0}
    arr = np.asarray(ms, dtype=float)
    return {"latency_ms_p50": float(np.percentile(arr, 50)), "latency_ms_p95": float(np.percentile(arr, 95))}


def reliability_bins(probabilities: Sequence[float], correct: Sequence[bool], bins: int = 10) -> list[dict[str, float]]:
    """Equal-width probability bins: count, mean confidence and accuracy (0..1) per non-empty bin."""
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, p in enumerate(probabilities) if (lo <= p < hi) or (b == bins - 1 and p == hi)]
        if idx:
            out.append({
                "lo": lo, "hi": hi, "count": len(idx),
                "confidence": float(np.mean([probabilities[i] for i in idx])),
                "accuracy": float(np.mean([bool(correct[i]) for i in idx])),
            })
    return out


def expected_calibration_error(probabilities: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """ECE in percent: bin-size-weighted mean |accuracy - confidence|."""
    n = len(probabilities)
    if n == 0:
        return 0.0
    return 100.0 * sum(b["count"] / n * abs(b["accuracy"] - b["confidence"]) for b in reliability_bins(probabilities, correct, bins))


def mean_pct(values: Sequence[float]) -> float:
    return 100.0 * float(np.mean(values)) if len(values) else 0.0
