"""The search-backend contract: everything outside `indexer/` reaches an index through it.

Two backends implement it: `indexer.backend.LocalBackend` (FAISS + bm25s files, manifest
`"backend": "faiss+bm25s"`) and `indexer.milvus.MilvusBackend` (Milvus Lite, standalone or
cluster, `"backend": "milvus"`). `indexer.backend.make_backend` picks one by the manifest's
`backend` field (txtai-style factory); `tests/backend_conformance.py` is the one test suite
every backend passes (Haystack-style conformance tests).

Semantics every backend honours:

* **Ids.** A passage is identified by its chunk id: 15 lowercase hex characters,
  `sha256(doc_id, start, text)[:15]` (`store.types.chunk_id_for`); the same content always
  gets the same id, so an unchanged chunk is never re-embedded.
* **Documents and passages** (text, offsets, titles, entity mentions, categories) live in the
  SQL document store of the generation (`store.DocumentStore`), in both backends; the search
  engine holds only what it searches and filters on (docs/decisions.md, "passages in SQL").
* **Scores.** Higher is better, in both legs; results come best first, ties by chunk id.
  Scales differ between backends and legs (bm25s leaves out BM25's `(k1 + 1)` factor; Milvus
  Lite reports BM25 negated, which the Milvus backend undoes), so never compare raw scores
  across backends: the retriever's fusion min-max normalises each leg (`retriever.fusion`).
* **Text search** is BM25 over `indexer.tokenize.tokenize(title + "\\n" + passage)` (the
  biomedical tokenisation, identical in both backends); only passages sharing at least one
  query token are returned. **Vector search** is inner product over L2-normalised vectors
  (cosine).
* **Filters** (`SearchFilter`): sources = any of; categories = the document's predicted
  category is any of; entities = every one is mentioned (a mention equal to the term or
  holding it as whole words). A filter matching nothing gives `[]`.
* **Writes and atomicity.** A backend object serves ONE generation. The writer changes a new
  generation (upsert/remove documents, add/remove vectors, annotations, `refresh`, `save`),
  then swaps `manifest.json` atomically and calls `publish`; readers keep the old generation
  until they reopen. Nothing a backend writes is visible to readers of the live generation
  before the swap.

Errors: a backend refuses what it cannot honour (missing files or collection, wrong
dimension, unreachable server, parts disagreeing on the chunk count) with an
`indexer.errors.IndexerError` carrying a hint (usually how to rebuild).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from retriever.types import SearchFilter
from store.types import Category, Document, Mention, Passage


@runtime_checkable
class SearchBackend(Protocol):
    """One index generation: the SQL document store plus a search engine (see module docstring).

    Example::

        backend = make_backend(manifest_or_config, generation_dir, ...).open()
        ids = backend.search_text("IL-6 in COVID-19", k=10)         # [(chunk_id, score), ...]
        passages = backend.passages([c for c, _ in ids])           # {chunk_id: Passage}
    """

    name: str  # the manifest's "backend" value
    dimension: int  # vector size the index was built with

    # -- lifecycle ---------------------------------------------------------------------------
    def create(self) -> "SearchBackend":
        """Create an empty generation (tables, files or collection)."""

    def open(self, expected_chunks: int | None = None, index_dir: Any = None) -> "SearchBackend":
        """Open an existing generation; raises IndexerError (with a rebuild hint) when its
        parts are missing, of another dimension, or disagree on the number of chunks."""

    def open_catalog(self) -> "SearchBackend":
        """Open only the document store (cheap), for catalog reads such as `checksums`."""

    def manifest_entry(self) -> dict[str, Any]:
        """Backend settings the writer records in manifest.json (e.g. {"milvus": {...}})."""

    def save(self) -> None:
        """Persist everything written so far (local files; Milvus flush)."""

    def close(self) -> None:
        """Release files, connections and clients. Idempotent."""

    def publish(self, keep_generations: set[str]) -> None:
        """Called after the manifest swap: make this generation the published one (Milvus
        server: move the alias) and drop engine-side data of generations not in `keep`."""

    # -- writes ------------------------------------------------------------------------------
    def upsert_documents(self, items: Iterable[tuple[Document, Sequence[Passage]]]) -> tuple[list[str], list[str]]:
        """Insert or replace documents and their passages in the store, one transaction.
        Returns (chunk ids added, chunk ids removed); a chunk both removed and re-added is
        in neither. The caller then `add`s vectors for the added and `remove`s the removed."""

    def remove_documents(self, doc_ids: Sequence[str]) -> list[str]:
        """Delete documents from the store; returns their chunk ids (then `remove` them)."""

    def set_annotations(self, mentions: dict[str, Sequence[Mention]], categories: dict[str, Category]) -> None:
        """Store entity mentions (per chunk id) and predicted categories (per doc id); the
        backend updates whatever it filters on."""

    def add(self, passages: Sequence[Passage], vectors: np.ndarray) -> None:
        """Index passages already in the store; `vectors` has shape (len(passages), dimension),
        float32, L2-normalised, row i for passage i. Adding an existing id replaces it."""

    def remove(self, chunk_ids: Sequence[str]) -> None:
        """Drop passages from the search index (unknown ids are ignored)."""

    def refresh(self, show_progress: bool = False) -> None:
        """Make all writes searchable (local: rebuild the BM25 term index from cached tokens)."""

    def record_build(self, action: str, manifest_hash: str, details: dict[str, Any]) -> None:
        """Append to the generation's build log (`builds()`)."""

    # -- search ------------------------------------------------------------------------------
    def search_text(self, query: str, k: int, where: SearchFilter | None = None) -> list[tuple[str, float]]:
        """BM25 top-k `(chunk_id, score)`, best first; only passages sharing a query token."""

    def search_vector(self, vector: np.ndarray, k: int, where: SearchFilter | None = None) -> list[tuple[str, float]]:
        """Inner-product top-k `(chunk_id, score)` for one query vector of shape (dimension,)."""

    # -- reads -------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Passages in the search index (equals the store's chunk count in a sound index)."""

    def passages(self, chunk_ids: Sequence[str]) -> dict[str, Passage]:
        """Passages (with entities and category) by chunk id; unknown ids are absent."""

    def document(self, doc_id: str) -> Document | None: ...

    def checksums(self, doc_ids: Sequence[str] | None = None) -> dict[str, str]:
        """doc id -> content checksum, for those documents (all when None)."""

    def existing(self, doc_ids: Sequence[str]) -> set[str]: ...

    def count_documents(self) -> int: ...

    def count_mentions(self) -> int: ...

    def count_categorised(self) -> int: ...

    def sources(self) -> list[str]:
        """Distinct source collections, sorted."""

    def list_documents(self, limit: int | None = None, offset: int = 0) -> list[Any]:
        """`store.DocumentInfo` rows, newest first."""

    def category_counts(self) -> list[tuple[str, str, int]]: ...

    def entity_counts(self, limit: int = 50, label: str | None = None) -> list[tuple[str, str, int]]: ...

    def builds(self) -> list[dict[str, Any]]: ...
