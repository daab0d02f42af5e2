"""Yes/no questions in the question path: classify the top passages, weigh them by
relevance, aggregate into one verdict (tasks.verdict) or abstain.

`evidence_weight(hit)` is the one place that says how much a passage counts: the
reranker's probability when the hit carries one, else its fused retrieval score.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from retriever import Hit
from tasks import shipped
from tasks.verdict import PassageEvidence, Verdict, VerdictConfig, aggregate

log = logging.getLogger(__name__)

DISABLED = ("none", "off", "")


def evidence_weight(hit: Hit) -> float:
    """Relevance weight of a passage for the verdict (>= 0).

    `hit.relevance`: the reranker's calibrated probability when the hit was reranked, else
    the fused retrieval score; the weights are normalised across passages by the
    aggregation, so only their ratios matter (fused scores are relative to the query)."""
    return max(0.0, float(hit.relevance))


def judge(classifier: Any, question: str, hits: Sequence[Hit], config: VerdictConfig | None = None,
          passages: int = 5) -> Verdict:
    """The verdict from the first `passages` hits (the best-ranked ones). `classifier` has
    `predict(question, texts) -> [{label: probability}]` (tasks.yesno.YesNoClassifier)."""
    top = list(hits[:passages])
    if not top:
        return aggregate([], config)
    probs = classifier.predict(question, [h.passage.text for h in top])
    evidence = [PassageEvidence(h.passage.chunk_id, p, evidence_weight(h)) for h, p in zip(top, probs)]
    return aggregate(evidence, config)


def resolve_yesno_model(spec: str | None) -> Path | None:
    """The yes/no model directory: None = the shipped models/yesno when present; "none" =
    off; else the given directory. None (with a warning) when it is not there."""

    if spec is not None and spec.strip().lower() in DISABLED:
        return None
    if spec is None:
        found = shipped.shipped_yesno()
        if found is None:
            log.warning("no yes/no model in %s: yes/no questions get extracted answers instead of a verdict "
                        "(train one with `clinqa train yesno` and export it there)", shipped.SHIPPED_YESNO_DIR)
        return found
    path = Path(spec)
    if not (path / "config.json").is_file():
        log.warning("yes/no model %s not found: yes/no questions get extracted answers instead of a verdict", path)
        return None
    return path
