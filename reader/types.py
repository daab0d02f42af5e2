"""Typed outputs of the reader."""
from __future__ import annotations

from dataclasses import dataclass

from store.types import Passage


@dataclass(frozen=True)
class Answer:
    """One extracted answer span.

    `start`/`end` are character offsets in `passage.text`; `doc_start`/`doc_end`
    in the document text (`passage.start + start`).
    """

    text: str
    score: float  # raw reader score: start logit + end logit (best window)
    probability: float  # calibrated probability that this span answers the question
    passage: Passage
    start: int
    end: int
    # Evidence summed over the passages proposing this answer (ReaderConfig.merge="support");
    # 0 when answers are ranked by their best span only.
    support: float = 0.0

    @property
    def doc_start(self) -> int:
        return self.passage.start + self.start

    @property
    def doc_end(self) -> int:
        return self.passage.start + self.end
