"""BM25 term index on `bm25s`, stored as plain files (JSON + NumPy arrays, no pickle)."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from indexer.errors import IndexerError

log = logging.getLogger(__name__)


def _bm25s():
    """bm25s, imported with its logger tamed: it sets itself to DEBUG on import, so every
    build printed "Building index from tokens" whatever -q/-v said."""
    import bm25s

    logging.getLogger("bm25s").setLevel(max(logging.WARNING, logging.getLogger().getEffectiveLevel()))
    return bm25s


# Variants whose idf is positive for every term, so a passage holding a query term always
# scores above zero and is found: lucene log(1 + (N-n+.5)/(n+.5)), bm25l log((N+1)/(n+.5)),
# bm25+ log((N+1)/n) (Kamphuis et al., 2020, "Which BM25 do you mean?", ECIR). Robertson's
# log((N-n+.5)/(n+.5)) is <= 0 for a term in half the passages or more, and ATIRE's log(N/n)
# is 0 for a term in all of them: such terms find nothing. Those two stay available to
# library code (the rank_bm25 comparison in tests and benchmarks) but are not offered.
OFFERED_METHODS = ("lucene", "bm25l", "bm25+")
ALL_METHODS = OFFERED_METHODS + ("robertson", "atire")


@dataclass(frozen=True)
class BM25Config:
    k1: float = 1.2
    b: float = 0.75
    # One of OFFERED_METHODS ("lucene": Lucene/Pyserini default); "robertson" (= rank_bm25's
    # BM25Okapi when no term occurs in half of the passages or more) for comparisons only.
    method: str = "lucene"

    def __post_init__(self) -> None:
        if self.method not in ALL_METHODS:
            raise IndexerError(f"unknown BM25 method {self.method!r}", f"use one of: {', '.join(OFFERED_METHODS)}")
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise IndexerError(f"invalid BM25 parameters k1={self.k1} b={self.b}", "use k1 >= 0 and 0 <= b <= 1")

    def to_dict(self) -> dict:
        return asdict(self)


class TermIndex:
    """A bm25s index whose rows are chunk ids."""

    def __init__(self, config: BM25Config | None = None) -> None:
        self.config = config or BM25Config()
        self._bm25 = None
        self.chunk_ids: list[str] = []

    @property
    def size(self) -> int:
        return len(self.chunk_ids)

    def build(self, chunk_ids: Sequence[str], token_lists: Sequence[list[str]], show_progress: bool = False) -> None:
        bm25s = _bm25s()

        if len(chunk_ids) != len(token_lists):
            raise ValueError("chunk_ids and token_lists differ in length")
        self.chunk_ids = list(chunk_ids)
        if not self.chunk_ids:
            self._bm25 = None
            return
        bm25 = bm25s.BM25(k1=self.config.k1, b=self.config.b, method=self.config.method)
        # An empty token list would make bm25s drop the row; a placeholder keeps rows aligned.
        bm25.index([t if t else [""] for t in token_lists], show_progress=show_progress)
        self._bm25 = bm25

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        if self._bm25 is None:
            return np.zeros(0, dtype=np.float32)
        known = [t for t in query_tokens if t in self._bm25.vocab_dict]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        scores = np.asarray(self._bm25.get_scores(known), dtype=np.float32)
        nonoccurrence = getattr(self._bm25, "nonoccurrence_array", None)
        if nonoccurrence is not None:
            # bm25l / bm25+ (bm25s) add every query token's non-occurrence score to every passage, so a
            # passage holding none of the query tokens scored that constant and was "found" in keyword
            # mode. Only passages sharing a token count (the SearchBackend contract; the Milvus
            # backend's search does the same): the others score 0. Matching passages keep their score.
            constant = float(nonoccurrence[self._bm25.get_tokens_ids(known)].sum())
            scores = np.where(scores - constant > 1e-6 * max(1.0, abs(constant)), scores, 0.0).astype(np.float32)
        return scores

    def search(
        self, query_tokens: list[str], k: int, mask: np.ndarray | None = None
    ) -> list[tuple[str, float]]:
        """Top-k (chunk_id, score) with score > 0; `mask` (bool per row) restricts the rows."""
        scores = self.scores(query_tokens)
        if scores.size == 0 or k <= 0:
            return []
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        k = min(k, scores.size)
        top = np.argpartition(-scores, k - 1)[:k]
        # Ties broken by row (stable) so results are deterministic.
        top = top[np.lexsort((top, -scores[top]))]
        return [(self.chunk_ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "chunk_ids.json").write_text(json.dumps(self.chunk_ids))
        (directory / "config.json").write_text(json.dumps(self.config.to_dict()))
        if self._bm25 is not None:
            self._bm25.save(str(directory / "bm25s"), allow_pickle=False)

    @classmethod
    def load(cls, directory: Path, mmap: bool = False) -> "TermIndex":
        bm25s = _bm25s()

        try:
            config = BM25Config(**json.loads((directory / "config.json").read_text()))
            chunk_ids = json.loads((directory / "chunk_ids.json").read_text())
        except (OSError, ValueError, TypeError) as exc:
            raise IndexerError(
                f"BM25 files in {directory} are missing or unreadable: {exc}",
                "rebuild the index with `clinqa index build`",
            ) from exc
        index = cls(config)
        index.chunk_ids = chunk_ids
        if chunk_ids:
            index._bm25 = bm25s.BM25.load(str(directory / "bm25s"), mmap=mmap, allow_pickle=False)
        return index


def build_term_index(
    chunks: Sequence[tuple[str, str]],
    tokenize: Callable[[str], list[str]],
    config: BM25Config,
    show_progress: bool = False,
) -> TermIndex:
    from tqdm.auto import tqdm

    ids = [c for c, _ in chunks]
    tokens = [tokenize(t) for _, t in tqdm(chunks, desc="BM25 tokenize", disable=not show_progress, unit="chunk")]
    index = TermIndex(config)
    index.build(ids, tokens, show_progress=show_progress)
    return index
