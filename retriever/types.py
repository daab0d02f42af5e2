"""Typed retrieval results."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from store.types import Passage


@dataclass(frozen=True)
class SearchFilter:
    """Restricts search to some passages.

    sources: any of these collections; categories: documents predicted as any of these
    labels; entities: passages mentioning ALL of these entities (index-time NER), so
    ["metformin", "lactic acidosis"] finds passages about both. Empty = no restriction.
    """

    sources: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @classmethod
    def of(cls, sources=None, entities=None, categories=None) -> "SearchFilter | None":
        """A filter from optional lists with blanks dropped; None when nothing is left."""
        def clean(values) -> tuple[str, ...]:
            return tuple(dict.fromkeys(v.strip() for v in (values or ()) if v and v.strip()))

        f = cls(clean(sources), clean(entities), clean(categories))
        return f if f else None

    def __bool__(self) -> bool:
        return bool(self.sources or self.entities or self.categories)

    def to_dict(self) -> dict:
        return {"sources": list(self.sources), "entities": list(self.entities), "categories": list(self.categories)}


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with the evidence for its rank.

    `ranks`/`scores` hold each leg's 1-based rank and raw score ("bm25", "dense") for the
    legs that found it, so the UI can explain why it was retrieved; `score` is the fused score.
    After cross-encoder reranking (retriever.rerank), `rerank_score` is the reranker's logit,
    `rerank_probability` its calibrated probability that the passage is relevant,
    `rerank_blend` the key the hits were reordered by (that probability interpolated with
    `score`, retriever.rerank.rerank_keys), `rerank_rank` the 1-based rank it gave, and
    `retrieval_rank` the first-stage rank.
    """

    passage: Passage
    score: float
    ranks: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    scores: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    retrieval_rank: int | None = None
    rerank_score: float | None = None
    rerank_probability: float | None = None
    rerank_blend: float | None = None
    rerank_rank: int | None = None

    @property
    def relevance(self) -> float:
        """The best available relevance estimate in [0, 1]: the reranker's calibrated
        probability when the hit was reranked, else the fused first-stage score."""
        return self.rerank_probability if self.rerank_probability is not None else self.score

    def to_dict(self) -> dict:
        p = self.passage
        return {
            "chunk_id": p.chunk_id,
            "doc_id": p.doc_id,
            "title": p.title,
            "url": p.url,
            "source": p.source,
            "license": p.license,
            "text": p.text,
            "start": p.start,
            "end": p.end,
            "score": self.score,
            "ranks": dict(self.ranks),
            "scores": dict(self.scores),
            "retrieval_rank": self.retrieval_rank,
            "rerank": None if self.rerank_score is None else {
                "score": self.rerank_score, "probability": self.rerank_probability, "blend": self.rerank_blend,
                "rank": self.rerank_rank},
            "entities": [m.to_dict() for m in p.entities],
            "category": p.category.to_dict() if p.category else None,
        }
