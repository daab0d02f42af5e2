"""Typed retrieval results."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from store.types import Passage


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with the evidence for its rank.

    `ranks`/`scores` hold each leg's 1-based rank and raw score ("bm25", "dense") for the
    legs that found it, so the UI can explain why it was retrieved; `score` is the fused score.
    """

    passage: Passage
    score: float
    ranks: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    scores: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

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
        }
