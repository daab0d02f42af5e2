"""The small interface a search backend implements (FAISS + bm25s today, Milvus later)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from retriever.types import SearchFilter
from store.types import Passage


@runtime_checkable
class SearchBackend(Protocol):
    def add(self, passages: Sequence[Passage], vectors: np.ndarray) -> None: ...

    def remove(self, chunk_ids: Sequence[str]) -> None: ...

    def search_text(self, query: str, k: int, where: SearchFilter | None = None) -> list[tuple[str, float]]: ...

    def search_vector(self, vector: np.ndarray, k: int, where: SearchFilter | None = None) -> list[tuple[str, float]]: ...

    def passages(self, chunk_ids: Sequence[str]) -> dict[str, Passage]: ...
