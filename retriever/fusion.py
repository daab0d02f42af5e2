"""Fusion of ranked lists: pure functions of (id, score) lists, no models, no I/O."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Ranked = Sequence[tuple[str, float]]  # best first


@dataclass(frozen=True)
class Fused:
    id: str
    score: float
    ranks: dict[str, int] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)


def _evidence(legs: Mapping[str, Ranked]) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    ranks: dict[str, dict[str, int]] = {}
    scores: dict[str, dict[str, float]] = {}
    for leg, ranked in legs.items():
        for rank, (doc, score) in enumerate(ranked, start=1):
            if leg in ranks.get(doc, {}):
                continue  # a duplicate in one leg counts once, at its best rank
            ranks.setdefault(doc, {})[leg] = rank
            scores.setdefault(doc, {})[leg] = float(score)
    return ranks, scores


def _sorted(fused: dict[str, float], ranks: dict[str, dict[str, int]], scores: dict[str, dict[str, float]]) -> list[Fused]:
    # Ties: better best-rank first, then id, so results are deterministic.
    order = sorted(fused, key=lambda d: (-fused[d], min(ranks[d].values()), d))
    return [Fused(d, fused[d], ranks[d], scores[d]) for d in order]


def reciprocal_rank_fusion(legs: Mapping[str, Ranked], k: int = 60, weights: Mapping[str, float] | None = None) -> list[Fused]:
    """RRF (Cormack et al., 2009): score(d) = sum over legs of w / (k + rank)."""
    if k < 0:
        raise ValueError(f"RRF k must be >= 0, got {k}")
    ranks, scores = _evidence(legs)
    fused = {
        doc: sum((weights or {}).get(leg, 1.0) / (k + r) for leg, r in leg_ranks.items())
        for doc, leg_ranks in ranks.items()
    }
    return _sorted(fused, ranks, scores)


def min_max(values: Sequence[float]) -> list[float]:
    """Scale to [0, 1]; a constant list maps to 1.0 (every item is equally the best)."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    if hi - lo <= 1e-12:
        return [1.0 for _ in values]
    return [(v - lo) / (hi - lo) for v in values]


def convex_fusion(legs: Mapping[str, Ranked], weights: Mapping[str, float]) -> list[Fused]:
    """Convex combination of min-max normalised scores; a leg that missed a doc adds 0."""
    total = sum(weights.get(leg, 0.0) for leg in legs)
    if total <= 0:
        raise ValueError("convex fusion needs a positive weight for at least one leg")
    ranks, scores = _evidence(legs)
    fused: dict[str, float] = {doc: 0.0 for doc in ranks}
    for leg, ranked in legs.items():
        w = weights.get(leg, 0.0) / total
        seen: set[str] = set()
        uniq = [(d, s) for d, s in ranked if not (d in seen or seen.add(d))]
        for (doc, _), norm in zip(uniq, min_max([s for _, s in uniq])):
            fused[doc] += w * norm
    return _sorted(fused, ranks, scores)


def single_leg(leg: str, ranked: Ranked) -> list[Fused]:
    ranks, scores = _evidence({leg: ranked})
    return [Fused(d, scores[d][leg], ranks[d], scores[d]) for d in dict.fromkeys(d for d, _ in ranked)]
