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


def theoretical_min_max(values: Sequence[float], floor: float = 0.0) -> list[float]:
    """Scale by the theoretical minimum and the observed maximum: (v - floor) / (max - floor),
    clipped to [0, 1] (Bruch et al. 2023, "An Analysis of Fusion Functions for Hybrid
    Retrieval", TMM). BM25 has floor 0, so a weak best match is not stretched to look like
    a perfect one relative to the rest."""
    if not values:
        return []
    hi = max(values)
    if hi - floor <= 1e-12:
        return [0.0 for _ in values]
    return [min(1.0, max(0.0, (v - floor) / (hi - floor))) for v in values]


NORMALISATIONS = ("minmax", "absolute")


def normalise_leg(leg: str, values: Sequence[float], how: str) -> list[float]:
    """One leg's scores in [0, 1].

    "minmax": per query, worst fetched -> 0, best -> 1 (relative: the best hit of a leg is 1.0
    however poor it is). "absolute": dense cosine similarity as it is (clipped at 0; the
    encoder's vectors are unit length, so it already means the same for every query), BM25
    by theoretical min-max with floor 0 (it has no absolute scale)."""
    if how == "minmax":
        return min_max(values)
    if how == "absolute":
        if leg == "dense":
            return [min(1.0, max(0.0, float(v))) for v in values]
        return theoretical_min_max(values, 0.0)
    raise ValueError(f"unknown normalisation {how!r}; use one of {NORMALISATIONS}")


def convex_fusion(legs: Mapping[str, Ranked], weights: Mapping[str, float], normalisation: str = "minmax") -> list[Fused]:
    """Convex combination of normalised leg scores (`normalise_leg`); a leg that missed a doc adds 0."""
    total = sum(weights.get(leg, 0.0) for leg in legs)
    if total <= 0:
        raise ValueError("convex fusion needs a positive weight for at least one leg")
    ranks, scores = _evidence(legs)
    fused: dict[str, float] = {doc: 0.0 for doc in ranks}
    for leg, ranked in legs.items():
        w = weights.get(leg, 0.0) / total
        seen: set[str] = set()
        uniq = [(d, s) for d, s in ranked if not (d in seen or seen.add(d))]
        for (doc, _), norm in zip(uniq, normalise_leg(leg, [s for _, s in uniq], normalisation)):
            fused[doc] += w * norm
    return _sorted(fused, ranks, scores)


def single_leg(leg: str, ranked: Ranked, normalisation: str = "absolute") -> list[Fused]:
    """One leg alone (`--mode bm25|dense`): order kept, `score` normalised as the leg is inside
    convex fusion (`normalise_leg`), so it is in [0, 1] like a hybrid score (a raw BM25 score of
    6 must not be shown or used as a relevance of 600 %); the raw score stays in `scores`."""
    ranks, scores = _evidence({leg: ranked})
    ids = list(dict.fromkeys(d for d, _ in ranked))
    norm = normalise_leg(leg, [scores[d][leg] for d in ids], normalisation)
    return [Fused(d, n, ranks[d], scores[d]) for d, n in zip(ids, norm)]


def rrf_in_unit_range(fused: Sequence[Fused], legs: int, k: int) -> list[Fused]:
    """RRF scores divided by their maximum, `legs` / (k + 1) (a passage first in every leg), so
    they read in [0, 1] like the other fusions' scores; the order is unchanged."""
    top = legs / (k + 1) if legs else 1.0
    return [Fused(f.id, f.score / top, f.ranks, f.scores) for f in fused]


def refuse_legs(leg_scores: Sequence[Mapping[str, float]], dense_weight: float,
                normalisation: str = "absolute") -> list[float]:
    """Convex fusion recomputed over a candidate list (pure): each candidate's raw leg scores
    (`Hit.scores`: {"bm25": s, "dense": s}, a leg absent when it did not find the candidate)
    normalised per leg over the candidates (`normalise_leg`) and combined with `dense_weight`
    for dense and 1 - `dense_weight` for BM25. A candidate a leg missed gets 0 from that leg, as
    in `convex_fusion`, and so does every candidate of a single-leg search (the weights are
    not renormalised: in `--mode bm25` the blend keeps BM25 at its 0.3 share and the reranker
    leads as before). Shape [len(leg_scores)]."""
    if not 0.0 <= dense_weight <= 1.0:
        raise ValueError(f"dense_weight must be in [0, 1], got {dense_weight}")
    weights = {"dense": dense_weight, "bm25": 1.0 - dense_weight}
    out = [0.0] * len(leg_scores)
    for leg, weight in weights.items():
        idx = [i for i, s in enumerate(leg_scores) if leg in s]
        for i, norm in zip(idx, normalise_leg(leg, [float(leg_scores[i][leg]) for i in idx], normalisation)):
            out[i] += weight * norm
    return out
