"""Hybrid retrieval: a BM25 leg, a dense leg, and fusion."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from retriever.backend import SearchBackend
from retriever.errors import RetrieverError
from retriever.fusion import NORMALISATIONS, Fused, convex_fusion, reciprocal_rank_fusion, rrf_in_unit_range, single_leg
from retriever.types import Hit, SearchFilter

log = logging.getLogger(__name__)

MODES = ("bm25", "dense", "hybrid")
FUSIONS = ("rrf", "convex")


@dataclass(frozen=True)
class RetrieverConfig:
    mode: str = "hybrid"
    top_k: int = 10
    # Each leg fetches candidate_multiplier x top_k candidates before fusion.
    candidate_multiplier: int = 5
    # Convex fusion of absolutely normalised legs (cosine as is, BM25 / its best), dense weight
    # 0.5: chosen on dev questions over realistic dev indexes (tests/data/fusion_dev_runs.json,
    # docs/decisions.md): not worse than the best single leg on Recall@1, Recall@5 and nDCG@10
    # of COVID-QA dev and BioASQ dev, and the best such weight on paraphrased questions over
    # the bundled corpus, where the dense leg is strongest (the reranker then closes the gap).
    fusion: str = "convex"
    rrf_k: int = 60
    # Convex fusion: weight of the dense leg (BM25 gets 1 - dense_weight).
    dense_weight: float = 0.5
    # Convex fusion: how each leg's scores are put on [0, 1] (retriever.fusion.normalise_leg).
    normalisation: str = "absolute"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise RetrieverError(f"unknown retrieval mode {self.mode!r}", f"use one of {', '.join(MODES)}")
        if self.fusion not in FUSIONS:
            raise RetrieverError(f"unknown fusion {self.fusion!r}", f"use one of {', '.join(FUSIONS)}")
        if self.top_k < 1:
            raise RetrieverError(f"top_k must be at least 1, got {self.top_k}", "use e.g. --top-k 10")
        if self.candidate_multiplier < 1:
            raise RetrieverError("candidate_multiplier must be >= 1", "use e.g. 5")
        if self.normalisation not in NORMALISATIONS:
            raise RetrieverError(f"unknown normalisation {self.normalisation!r}", f"use one of {', '.join(NORMALISATIONS)}")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise RetrieverError(f"dense_weight must be in [0, 1], got {self.dense_weight}", "use e.g. 0.5")


class HybridRetriever:
    """Searches a `SearchBackend`; `embed` turns a query into a normalised vector."""

    def __init__(
        self,
        backend: SearchBackend,
        embed: Callable[[str], np.ndarray] | None,
        config: RetrieverConfig | None = None,
    ) -> None:
        self.backend = backend
        self.embed = embed
        self.config = config or RetrieverConfig()
        if self.config.mode != "bm25" and embed is None:
            raise RetrieverError(
                f"mode {self.config.mode!r} needs a query encoder", "pass embed=..., or use mode 'bm25'"
            )

    def legs(self, query: str, k: int, mode: str, where: SearchFilter | None = None) -> dict[str, list[tuple[str, float]]]:
        legs: dict[str, list[tuple[str, float]]] = {}
        if mode in ("bm25", "hybrid"):
            legs["bm25"] = self.backend.search_text(query, k, where=where)
        if mode in ("dense", "hybrid"):
            if self.embed is None:
                raise RetrieverError("dense retrieval needs a query encoder", "use --mode bm25")
            legs["dense"] = self.backend.search_vector(self.embed(query), k, where=where)
        return legs

    def search(
        self,
        query: str,
        top_k: int | None = None,
        mode: str | None = None,
        where: SearchFilter | None = None,
        config: RetrieverConfig | None = None,
    ) -> list[Hit]:
        cfg = config or self.config
        if top_k is not None or mode is not None:
            cfg = replace(cfg, top_k=top_k or cfg.top_k, mode=mode or cfg.mode)
        fetch = cfg.top_k * cfg.candidate_multiplier
        legs = self.legs(query, fetch, cfg.mode, where)
        fused = fuse(legs, cfg)[: cfg.top_k]
        passages = self.backend.passages([f.id for f in fused])
        hits = []
        for f in fused:
            p = passages.get(f.id)
            if p is None:  # FAISS/BM25 row without a store row: the index is inconsistent
                log.warning("chunk %s found by search but missing in the store; skipped", f.id)
                continue
            hits.append(Hit(p, f.score, MappingProxyType(dict(f.ranks)), MappingProxyType(dict(f.scores)),
                            retrieval_rank=len(hits) + 1))
        return hits


def fuse(legs: dict[str, list[tuple[str, float]]], cfg: RetrieverConfig) -> list[Fused]:
    if len(legs) == 1:
        (leg, ranked), = legs.items()
        return single_leg(leg, ranked, cfg.normalisation)
    if cfg.fusion == "convex":
        return convex_fusion(legs, {"dense": cfg.dense_weight, "bm25": 1.0 - cfg.dense_weight}, cfg.normalisation)
    return rrf_in_unit_range(reciprocal_rank_fusion(legs, k=cfg.rrf_k), len(legs), cfg.rrf_k)
