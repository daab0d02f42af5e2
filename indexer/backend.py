"""Search backends over one index generation, and the factory keyed by the manifest.

`StoreBackedBackend` holds what every backend shares: the SQL document store (documents,
passages, annotations, build log). `LocalBackend` adds FAISS + bm25s files;
`indexer.milvus.MilvusBackend` adds a Milvus collection. Both implement
`retriever.backend.SearchBackend`; `indexer.backends.make_backend` picks one by name.
"""
from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexer.bm25 import BM25Config, TermIndex
from indexer.dense import FaissConfig, VectorIndex
from indexer.errors import IndexerError
from indexer.manifest import IndexMismatchError, rebuild_hint
from retriever.types import SearchFilter
from store import Category, Document, DocumentInfo, DocumentStore, Mention, Passage, StoreConfig, chunk_key

log = logging.getLogger(__name__)

DB_FILE = "clinqa.db"
FAISS_FILE = "dense.faiss"
BM25_DIR = "bm25"
TOKENS_FILE = "tokens.jsonl.gz"


def sqlite_url(generation_dir: Path) -> str:
    return f"sqlite:///{Path(generation_dir).resolve() / DB_FILE}"


class StoreBackedBackend:
    """The document-store half of the contract, shared by every backend: documents,
    passages, annotations and the build log live in SQL (`store.DocumentStore`)."""

    name = ""
    dimension = 0
    store: DocumentStore

    def open_catalog(self) -> "StoreBackedBackend":
        """Open only the document store (cheap: no vectors or engine), for catalog reads."""
        self.store.open(create=False)
        return self

    def upsert_documents(self, items: Iterable[tuple[Document, Sequence[Passage]]]) -> tuple[list[str], list[str]]:
        return self.store.upsert(items)

    def remove_documents(self, doc_ids: Sequence[str]) -> list[str]:
        return self.store.remove(doc_ids)

    def set_annotations(self, mentions: dict[str, Sequence[Mention]], categories: dict[str, Category]) -> None:
        if mentions:
            self.store.add_mentions(mentions)
        if categories:
            self.store.set_categories(categories)

    def record_build(self, action: str, manifest_hash: str, details: dict[str, Any]) -> None:
        self.store.record_build(action, manifest_hash, details)

    def publish(self, keep_generations: set[str]) -> None:
        """Nothing outside the generation directory to publish or drop."""

    def manifest_entry(self) -> dict[str, Any]:
        """Backend-specific settings recorded in the manifest (besides "backend": name)."""
        return {}

    def passages(self, chunk_ids: Sequence[str]) -> dict[str, Passage]:
        return self.store.passages(chunk_ids)

    def document(self, doc_id: str) -> Document | None:
        return self.store.document(doc_id)

    def checksums(self, doc_ids: Sequence[str] | None = None) -> dict[str, str]:
        return self.store.checksums(doc_ids)

    def existing(self, doc_ids: Sequence[str]) -> set[str]:
        return self.store.existing(doc_ids)

    def count_documents(self) -> int:
        return self.store.count_documents()

    def count_mentions(self) -> int:
        return self.store.count_mentions()

    def count_categorised(self) -> int:
        return self.store.count_categorised()

    def list_documents(self, limit: int | None = None, offset: int = 0) -> list[DocumentInfo]:
        return self.store.list_documents(limit=limit, offset=offset)

    def category_counts(self) -> list[tuple[str, str, int]]:
        return self.store.category_counts()

    def entity_counts(self, limit: int = 50, label: str | None = None) -> list[tuple[str, str, int]]:
        return self.store.entity_counts(limit, label)

    def builds(self) -> list[dict[str, Any]]:
        return self.store.builds()


class LocalBackend(StoreBackedBackend):
    """FAISS (`IndexIDMap2`, inner product) + bm25s + the document store, in one directory."""

    name = "faiss+bm25s"

    def __init__(
        self,
        directory: Path,
        dimension: int,
        tokenize: Callable[[str], list[str]],
        faiss_config: FaissConfig,
        bm25_config: BM25Config,
        database_url: str | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.dimension = dimension
        self.tokenize = tokenize
        self.faiss_config = faiss_config
        self.bm25_config = bm25_config
        self.store = DocumentStore(StoreConfig(database_url or sqlite_url(self.directory)))
        self.vectors = VectorIndex(dimension, faiss_config)
        self.terms = TermIndex(bm25_config)
        self._tokens: dict[str, list[str]] = {}
        self._key_source: dict[int, str] = {}
        self._filter_cache: dict[SearchFilter, set[str]] = {}

    # -- lifecycle -------------------------------------------------------
    def create(self) -> "LocalBackend":
        self.directory.mkdir(parents=True, exist_ok=True)
        self.store.open(create=True)
        return self

    def open(self, expected_chunks: int | None = None, index_dir: Path | None = None) -> "LocalBackend":
        where = index_dir or self.directory
        faiss_path = self.directory / FAISS_FILE
        if not faiss_path.is_file() or not (self.directory / BM25_DIR).is_dir():
            raise IndexMismatchError(
                f"index files are missing in {self.directory} ({FAISS_FILE} or {BM25_DIR}/)",
                rebuild_hint(where),
            )
        self.store.open(create=False)
        self.vectors = VectorIndex.load(faiss_path, self.dimension, self.faiss_config)
        self.terms = TermIndex.load(self.directory / BM25_DIR)
        db_chunks = self.store.count_chunks()
        sizes = {"database": db_chunks, "faiss": self.vectors.size, "bm25": self.terms.size}
        if expected_chunks is not None:
            sizes["manifest"] = expected_chunks
        if len(set(sizes.values())) != 1:
            raise IndexMismatchError(
                f"index parts disagree on the number of chunks: {sizes}",
                rebuild_hint(where),
            )
        self._refresh_sources()
        return self

    def close(self) -> None:
        self.store.close()

    def _refresh_sources(self) -> None:
        sources = self.store.chunk_sources()
        self._filter_cache = {}
        self._key_source = {chunk_key(c): s for c, s in sources.items()}

    # -- writes ----------------------------------------------------------
    def add(self, passages: Sequence[Passage], vectors: np.ndarray) -> None:
        keys = [p.key for p in passages]
        # An id already indexed is replaced, not duplicated (FAISS would keep both rows).
        present = set(keys) & set(self.vectors.ids().tolist()) if self.vectors.size else set()
        if present:
            self.vectors.remove(sorted(present))
        self.vectors.add(keys, vectors)

    def remove(self, chunk_ids: Sequence[str]) -> None:
        self.vectors.remove([chunk_key(c) for c in chunk_ids])

    def refresh(self, show_progress: bool = False) -> None:
        """bm25s cannot add rows (idf changes), so the term index is rebuilt from cached tokens."""
        self._load_tokens()
        ids: list[str] = []
        token_lists: list[list[str]] = []
        for chunk_id, text, _src, title in self.store.iter_chunks():
            tokens = self._tokens.get(chunk_id)
            if tokens is None:
                tokens = self.tokenize(f"{title}\n{text}")
                self._tokens[chunk_id] = tokens
            ids.append(chunk_id)
            token_lists.append(tokens)
        live = set(ids)
        self._tokens = {c: t for c, t in self._tokens.items() if c in live}
        self.terms = TermIndex(self.bm25_config)
        self.terms.build(ids, token_lists, show_progress=show_progress)

    def _load_tokens(self) -> None:
        path = self.directory / BM25_DIR / TOKENS_FILE
        if self._tokens or not path.is_file():
            return
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                chunk_id, tokens = json.loads(line)
                self._tokens[chunk_id] = tokens

    def save(self) -> None:
        self.vectors.save(self.directory / FAISS_FILE)
        self.terms.save(self.directory / BM25_DIR)
        with gzip.GzipFile(self.directory / BM25_DIR / TOKENS_FILE, "wb", mtime=0) as raw:
            for chunk_id in self.terms.chunk_ids:
                raw.write((json.dumps([chunk_id, self._tokens.get(chunk_id, [])]) + "\n").encode())

    # -- reads -----------------------------------------------------------
    @property
    def size(self) -> int:
        return self.terms.size

    def search_text(self, query: str, k: int, where: SearchFilter | None = None) -> list[tuple[str, float]]:
        if not where:
            return self.terms.search(self.tokenize(query), k)
        allowed = self._allowed(where)
        if not allowed:
            return []
        mask = np.isin(np.asarray(self.terms.chunk_ids, dtype=object), list(allowed))
        return self.terms.search(self.tokenize(query), k, mask=mask)

    def search_vector(self, vector: np.ndarray, k: int, where: SearchFilter | None = None) -> list[tuple[str, float]]:
        if where:
            results = self._search_vector_subset(vector, k, [chunk_key(c) for c in self._allowed(where)])
        else:
            results = self.vectors.search(vector, k)
        return [(f"{key:015x}", score) for key, score in results]

    def _allowed(self, where: SearchFilter) -> set[str]:
        """Chunk ids passing the filter; the last few filters are cached (the BM25 and dense
        legs of one query ask for the same one)."""
        cached = self._filter_cache.get(where)
        if cached is not None:
            return cached
        sets: list[set[str]] = []
        if where.sources:
            wanted = set(where.sources)
            sets.append({f"{key:015x}" for key, src in self._key_source.items() if src in wanted})
        for entity in where.entities:
            sets.append(self.store.chunks_mentioning(entity))
        if where.categories:
            sets.append(self.store.chunks_in_categories(where.categories))
        allowed = set.intersection(*sets) if sets else set()
        if len(self._filter_cache) >= 16:
            self._filter_cache.pop(next(iter(self._filter_cache)))
        self._filter_cache[where] = allowed
        return allowed

    def _search_vector_subset(self, vector: np.ndarray, k: int, keys: list[int]) -> list[tuple[int, float]]:
        import faiss

        if not keys:
            return []
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(keys, dtype=np.int64)))
        q = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        scores, ids = self.vectors.index.search(q, min(k, len(keys)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    def sources(self) -> list[str]:
        return sorted(set(self._key_source.values()))


def check_dimension(vectors: np.ndarray, dimension: int) -> None:
    if vectors.ndim != 2 or vectors.shape[1] != dimension:
        raise IndexerError(
            f"encoder produced vectors of shape {vectors.shape}, the index expects dimension {dimension}",
            "use the encoder the index was built with, or rebuild the index",
        )


# The manifest's "backend" value -> backend; "local" is the CLI's name for the default.
LOCAL_NAMES = ("faiss+bm25s", "local")
BACKEND_NAMES = ("local", "milvus")


def backend_kind(name: str | None) -> str:
    """Canonical backend kind ("local" or "milvus") of a manifest/CLI name; manifests written
    before backends were pluggable lack the field and are local."""
    if name is None or name in LOCAL_NAMES:
        return "local"
    if name == "milvus":
        return "milvus"
    raise IndexMismatchError(
        f"unknown search backend {name!r}",
        f"use one of {', '.join(BACKEND_NAMES)} (clinqa index build --backend ...)",
    )
