"""One yes / no / maybe verdict from several passages' evidence: pure functions, no models.

Each passage brings the classifier's probabilities over (yes, no, maybe) and a relevance
weight (how much it bears on the question: the retrieval or reranker score). The verdict
is the relevance-weighted mean distribution (a linear opinion pool, Stone 1961; the
evidence aggregation of PubMedQA-style open-domain QA, Jin et al. 2019, done with the
retriever's relevance instead of a uniform mean):

    P(label) = sum_i w_i * p_i(label) / sum_i w_i

and its argmax, unless the evidence is too weak or disagrees, in which case it abstains:
"the indexed literature does not settle this". Abstaining keeps the leading label and
its probability (for evaluation and display), with `abstained=True` and a reason.

    v = aggregate([PassageEvidence("c1", {"yes": .9, "no": .05, "maybe": .05}, 0.8), ...])
    v.label, v.probability, v.abstained, v.reason, [e.role for e in v.evidence]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

YESNO_LABELS = ("yes", "no", "maybe")
OPPOSITE = {"yes": "no", "no": "yes"}
ABSTAIN_MESSAGE = "The indexed literature does not settle this."
REASONS = {
    "no_evidence": "no passage to judge from",
    "weak": "the evidence is weak: no answer is clearly more probable than the others",
    "conflict": "the passages disagree: some support yes, others no",
}
ROLES = ("supports", "contradicts", "neutral")


@dataclass(frozen=True)
class VerdictConfig:
    """When to abstain and how passages are marked.

    min_probability: the aggregated probability of the leading label must reach this.
    max_conflict: abstain when the relevance share of decisive passages that contradict
        the leading label (yes vs no) exceeds this (0.35 = more than about one in three).
    passage_probability: a passage counts as decisive (supports / contradicts) when its
        own top label has at least this probability; else it is neutral.
    min_total_weight: abstain when the summed relevance is below this (0 = off; useful once
        weights are reranker probabilities rather than relative retrieval scores).
    labels: the labels a verdict may take (BioASQ is yes/no only; the product allows maybe).
    """

    min_probability: float = 0.55
    max_conflict: float = 0.35
    passage_probability: float = 0.5
    min_total_weight: float = 0.0
    labels: tuple[str, ...] = YESNO_LABELS

    def __post_init__(self) -> None:
        for name in ("min_probability", "max_conflict", "passage_probability"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name}={v} must be in [0, 1]")
        if self.min_total_weight < 0:
            raise ValueError("min_total_weight must be >= 0")
        if not self.labels or any(l not in YESNO_LABELS for l in self.labels):
            raise ValueError(f"labels must be a non-empty subset of {YESNO_LABELS}, got {self.labels}")


@dataclass(frozen=True)
class PassageEvidence:
    """One passage's judgement: label -> probability (any subset of yes/no/maybe; missing
    labels count as 0) and its relevance weight (>= 0; negative values count as 0)."""

    chunk_id: str
    probabilities: Mapping[str, float]
    weight: float


@dataclass(frozen=True)
class EvidenceItem:
    """A passage as shown with the verdict: its own top label and probability (over the
    verdict's allowed labels), its relevance weight and its role relative to the verdict."""

    chunk_id: str
    label: str
    probability: float
    weight: float
    role: str  # supports | contradicts | neutral

    def to_dict(self) -> dict[str, Any]:
        return {"chunk_id": self.chunk_id, "label": self.label, "probability": self.probability,
                "weight": self.weight, "role": self.role}


@dataclass(frozen=True)
class Verdict:
    """label: the leading label (also when abstaining); probability: its aggregated
    probability; probabilities: the whole aggregated distribution; reason: why it abstained
    ("" when it did not); evidence: every passage, in the order given."""

    label: str
    probability: float
    abstained: bool
    reason: str = ""
    probabilities: Mapping[str, float] = field(default_factory=dict)
    evidence: tuple[EvidenceItem, ...] = ()

    @property
    def message(self) -> str:
        """What to tell the user in one line."""
        if self.abstained:
            return f"{ABSTAIN_MESSAGE} ({REASONS.get(self.reason, self.reason)})"
        return f"{self.label} ({self.probability:.0%})"

    def role_of(self, chunk_id: str) -> str:
        return next((e.role for e in self.evidence if e.chunk_id == chunk_id), "neutral")

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "probability": self.probability, "abstained": self.abstained,
            "reason": self.reason, "message": self.message,
            "probabilities": dict(self.probabilities),
            "evidence": [e.to_dict() for e in self.evidence],
        }


def restrict(probabilities: Mapping[str, float], labels: Sequence[str]) -> dict[str, float]:
    """The distribution over `labels` only, renormalised (uniform if it has no mass there)."""
    kept = {l: max(0.0, float(probabilities.get(l, 0.0))) for l in labels}
    total = sum(kept.values())
    if total <= 0:
        return {l: 1.0 / len(labels) for l in labels}
    return {l: p / total for l, p in kept.items()}


def top_label(probabilities: Mapping[str, float], labels: Sequence[str] = YESNO_LABELS) -> tuple[str, float]:
    """(argmax label, its probability); ties go to the earlier label in `labels`."""
    best = max(labels, key=lambda l: (probabilities.get(l, 0.0), -labels.index(l)))
    return best, float(probabilities.get(best, 0.0))


def passage_role(label: str, probability: float, verdict_label: str, config: VerdictConfig) -> str:
    """supports / contradicts / neutral: a decisive passage (probability >= the config's
    passage_probability) with the verdict's label supports it, one with the opposite
    label (yes vs no) contradicts it; everything else is neutral."""
    if probability < config.passage_probability:
        return "neutral"
    if label == verdict_label:
        return "supports"
    if OPPOSITE.get(verdict_label) == label:
        return "contradicts"
    return "neutral"


def aggregate(evidence: Sequence[PassageEvidence], config: VerdictConfig | None = None) -> Verdict:
    """The relevance-weighted verdict over `evidence` (see the module docstring).

    Abstains with reason "no_evidence" (no passage, or total weight 0 or below
    `min_total_weight`), "weak" (leading probability < `min_probability`) or "conflict"
    (contradicting share of decisive relevance > `max_conflict`). Equal weights when every
    weight is 0 but passages exist would hide missing relevance, so that abstains too.
    """
    config = config or VerdictConfig()
    labels = config.labels
    if not evidence:
        uniform = {l: 1.0 / len(labels) for l in labels}
        return Verdict(labels[0], uniform[labels[0]], True, "no_evidence", uniform, ())
    dists = [restrict(e.probabilities, labels) for e in evidence]
    weights = [max(0.0, float(e.weight)) for e in evidence]
    total = sum(weights)
    if total > 0:
        pooled = {l: sum(w * d[l] for w, d in zip(weights, dists)) / total for l in labels}
    else:
        pooled = {l: sum(d[l] for d in dists) / len(dists) for l in labels}
    label, prob = top_label(pooled, labels)
    items = []
    support_w = contra_w = 0.0
    for e, d, w in zip(evidence, dists, weights):
        own, p = top_label(d, labels)
        role = passage_role(own, p, label, config)
        support_w += w if role == "supports" else 0.0
        contra_w += w if role == "contradicts" else 0.0
        items.append(EvidenceItem(e.chunk_id, own, p, w, role))
    reason = ""
    if total <= 0 or total < config.min_total_weight:
        reason = "no_evidence"
    elif contra_w > 0 and contra_w / (support_w + contra_w) > config.max_conflict:
        reason = "conflict"
    elif prob < config.min_probability:
        reason = "weak"
    return Verdict(label, prob, bool(reason), reason, pooled, tuple(items))
