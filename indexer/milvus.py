"""`MilvusBackend`: the search-backend contract on Milvus (Lite in-process, standalone or cluster).

One pymilvus `MilvusClient` talks to all three: a path ending in `.db` opens Milvus Lite in
this process, `http://host:19530` a server (token from `$CLINQA_MILVUS_TOKEN`).

What lives where (docs/decisions.md):
* SQL (the generation's `clinqa.db`, as in the local backend): documents, passages, offsets,
  entity mentions, categories, build log. `passages()` reads from there.
* The Milvus collection: per passage the chunk id (primary key), the dense vector, our own
  biomedical token stream for BM25, and the fields filters need (source, category, entity terms).

BM25 on our tokens: Milvus analyzers offer no whitespace tokenizer here (only `standard` and
`jieba`), and `standard` splits "IL-6" and "SARS-CoV-2". So every token of
`indexer.tokenize.tokenize` is written as an opaque word, `t` + 16 hex digits of its BLAKE2b
hash, which the standard tokenizer keeps whole; queries are encoded the same way. Term
frequencies, document lengths and idf are then those of the local backend's bm25s index
(Milvus BM25 = Lucene's formula; bm25s leaves out the constant `k1 + 1`, so scores differ by
a factor, rankings do not).

Generations:
* default (no URI): a Milvus Lite database `milvus.db/` inside each generation directory,
  collection `passages`. It is copied with the generation, so build/add/remove are atomic
  exactly like the local backend (the manifest swap publishes the new copy).
* a URI (server, or a Lite path outside the index): one collection per generation,
  `<prefix>_<generation>`; `index add/remove` copy the live collection (no re-embedding) and
  change the copy; after the manifest swap `publish` points the alias `<prefix>` at it and
  drops older generations' collections (the previous one is kept for readers still on it).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer.backend import DB_FILE, StoreBackedBackend, sqlite_url
from indexer.bm25 import BM25Config
from indexer.dense import FaissConfig
from indexer.errors import IndexerError
from indexer.manifest import IndexMismatchError, rebuild_hint
from retriever.types import SearchFilter
from store import Category, DocumentStore, Mention, Passage, StoreConfig, normalize_mention

log = logging.getLogger(__name__)

LITE_DIR = "milvus.db"
LITE_COLLECTION = "passages"
TOKEN_ENV = "CLINQA_MILVUS_TOKEN"
# Milvus limits: VARCHAR <= 65,535 bytes, ARRAY capacity <= 4,096, top-k <= 16,384.
MAX_TOKENS_CHARS = 65_000
MAX_ENTITY_TERMS = 1024
MAX_TERM_BYTES = 256
MAX_NGRAM_WORDS = 12
MAX_TOP_K = 16_384
BATCH = 1000
_ROW_FIELDS = ["chunk_id", "doc_id", "vector", "tokens", "source", "category", "entity_terms"]


@dataclass(frozen=True)
class MilvusConfig:
    """Where the Milvus collection lives.

    uri: None = Milvus Lite inside each generation directory; a path ending in `.db` = a Milvus
    Lite database there (shared by generations); `http(s)://host:port` = a server or cluster.
    prefix: collection-name prefix and alias for shared URIs (two indexes on one server need
    two prefixes). The token is read from `$CLINQA_MILVUS_TOKEN`, never stored in the manifest.
    """

    uri: str | None = None
    prefix: str = "clinqa"
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,100}", self.prefix):
            raise IndexerError(
                f"invalid Milvus collection prefix {self.prefix!r}",
                "use letters, digits and underscores, starting with a letter",
            )

    @property
    def is_server(self) -> bool:
        return bool(self.uri) and "://" in str(self.uri)

    def to_manifest(self) -> dict[str, Any]:
        return {"uri": self.uri, "prefix": self.prefix}

    @classmethod
    def from_manifest(cls, entry: dict[str, Any] | None) -> "MilvusConfig":
        entry = entry or {}
        return cls(uri=entry.get("uri"), prefix=entry.get("prefix", "clinqa"))


def encode_tokens(tokens: Sequence[str]) -> str:
    """Our BM25 tokens as words Milvus' `standard` analyzer keeps whole: `t` + 16 hex digits
    of BLAKE2b(token) each, space-separated. Collisions: about 2^-64 per token pair."""
    return " ".join("t" + hashlib.blake2b(t.encode("utf-8"), digest_size=8).hexdigest() for t in tokens)


def entity_terms(mentions: Sequence[Mention]) -> list[str]:
    """Every contiguous word sequence of each normalised mention, so that
    `array_contains(entity_terms, term)` equals the SQL rule "a mention equals the term or holds
    it as whole words" (`DocumentStore.chunks_mentioning`). Mentions over 12 words contribute
    sequences of at most 12 words; at most 1,024 terms per passage."""
    out: dict[str, None] = {}
    for m in mentions:
        words = normalize_mention(m.text)[:512].split(" ")
        for i in range(len(words)):
            for j in range(i + 1, min(len(words), i + MAX_NGRAM_WORDS) + 1):
                term = " ".join(words[i:j])
                if term and len(term.encode("utf-8")) <= MAX_TERM_BYTES:
                    out[term] = None
        full = " ".join(words)
        if full and len(full.encode("utf-8")) <= MAX_TERM_BYTES:
            out[full] = None
    terms = list(out)
    if len(terms) > MAX_ENTITY_TERMS:
        log.warning("passage has %d entity terms; keeping the first %d", len(terms), MAX_ENTITY_TERMS)
    return terms[:MAX_ENTITY_TERMS]


def _literal(value: str) -> str:
    """A Milvus expression string literal (double quotes, backslash escapes)."""
    return json.dumps(value, ensure_ascii=False)


def milvus_filter(where: SearchFilter | None) -> str:
    """The Milvus boolean expression for a `SearchFilter` ("" = no filter): sources any-of,
    categories any-of, entities all-of (see `entity_terms`)."""
    if not where:
        return ""
    parts = []
    if where.sources:
        parts.append(f"source in [{', '.join(_literal(s) for s in where.sources)}]")
    if where.categories:
        parts.append(f"category in [{', '.join(_literal(c) for c in where.categories)}]")
    for entity in where.entities:
        parts.append(f"array_contains(entity_terms, {_literal(normalize_mention(entity))})")
    return " and ".join(parts)


# Milvus Lite runs one in-process server per database path, shared by every client of this
# process and kept until released: count our users so the last close releases the lock.
_LITE_USERS: dict[str, int] = {}


def _held_elsewhere(path: str) -> bool:
    """Whether another process holds the Milvus Lite database at `path` (its LOCK flock)."""
    import fcntl

    lock = os.path.join(path, "LOCK")
    if not os.path.exists(lock):
        return False
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def _release_lite(path: str | None) -> None:
    if path is None:
        return
    _LITE_USERS[path] = _LITE_USERS.get(path, 1) - 1
    if _LITE_USERS[path] <= 0:
        _LITE_USERS.pop(path, None)
        try:
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(path)
        except Exception as exc:  # pragma: no cover - released at exit anyway
            log.debug("releasing Milvus Lite %s: %s", path, exc)


def _collection_name(prefix: str, generation: str) -> str:
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', generation)}"


def _milvus_hint(uri: str) -> str:
    return (f"check that a Milvus server answers at {uri} (and ${TOKEN_ENV} if it needs a token), "
            "or drop --milvus-uri to use Milvus Lite inside the index directory")


class MilvusBackend(StoreBackedBackend):
    """Milvus collection (dense FLAT/HNSW inner product + BM25 on our tokens) + the SQL store.

    Example::

        backend = MilvusBackend(gen_dir, 384, tokenize, BM25Config(), MilvusConfig()).create()
        backend.upsert_documents(items); backend.add(passages, vectors); backend.save()
    """

    name = "milvus"

    def __init__(
        self,
        directory: Path,
        dimension: int,
        tokenize: Callable[[str], list[str]],
        bm25_config: BM25Config,
        config: MilvusConfig,
        database_url: str | None = None,
        faiss_config: FaissConfig | None = None,
        previous_generation: str | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.dimension = dimension
        self.tokenize = tokenize
        self.bm25_config = bm25_config
        self.config = config
        # The FAISS settings choose the Milvus vector index: flat -> FLAT (exact), hnsw -> HNSW.
        self.vector_index = faiss_config or FaissConfig()
        self.previous_generation = previous_generation
        self._read_only = False  # set by open(): a reader may fall back to a snapshot copy
        self._snapshot: str | None = None
        self._lite_path: str | None = None
        self.store = DocumentStore(StoreConfig(database_url or sqlite_url(self.directory)))
        self._client: Any = None
        if config.uri is None:
            self.uri = str(self.directory / LITE_DIR)
            self.collection = LITE_COLLECTION
        else:
            self.uri = str(config.uri)
            self.collection = _collection_name(config.prefix, self.directory.name)

    def manifest_entry(self) -> dict[str, Any]:
        return {"milvus": {**self.config.to_manifest(), "collection": self.collection}}

    # -- lifecycle -----------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        # gRPC's C core would print keepalive chatter ("too_many_pings") on the terminal; Milvus Lite's
        # in-process server logs a full traceback for each RPC it lacks (AllocTimestamp, which
        # pymilvus asks once while creating an index and then does without).
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise IndexerError("the Milvus backend needs pymilvus and milvus-lite",
                               "pip install pymilvus milvus-lite") from exc
        try:
            if self.config.is_server:
                self._client = MilvusClient(uri=self.uri, token=os.environ.get(TOKEN_ENV, ""),
                                            timeout=self.config.timeout_s)
            else:
                Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
                self._client = self._open_lite(MilvusClient)
        except IndexerError:
            raise
        except Exception as exc:  # unreachable server, bad token, unreadable database
            raise IndexerError(f"cannot connect to Milvus at {self.uri}: {exc.__class__.__name__}: {exc}",
                               _milvus_hint(self.uri)) from exc
        return self._client

    def _open_lite(self, client_class: Any) -> Any:
        """Milvus Lite lets one process hold a database (an flock on its LOCK file, kept until the
        database is released). A live generation is never written (writers change a copy), so a
        reader that finds it held by another process (`clinqa serve` running) opens a private
        snapshot copy instead; a writer is refused with a hint."""
        path = os.path.abspath(self.uri)
        if _LITE_USERS.get(path, 0) == 0 and _held_elsewhere(path):
            if not self._read_only:
                raise IndexerError(f"another process holds the Milvus Lite database {path}",
                                   "wait for it to finish (or stop it) and retry; a Milvus server (--milvus-uri) "
                                   "has no such limit")
            self._snapshot = tempfile.mkdtemp(prefix="clinqa-milvus-")
            copy = Path(self._snapshot) / LITE_DIR
            shutil.copytree(path, copy, ignore=shutil.ignore_patterns("LOCK"))
            log.info("Milvus Lite database %s is held by another process; searching a private copy", path)
            path = str(copy)
        client = client_class(path)
        self._lite_path = path
        _LITE_USERS[path] = _LITE_USERS.get(path, 0) + 1
        return client

    def create(self) -> "MilvusBackend":
        self.directory.mkdir(parents=True, exist_ok=True)
        self.store.open(create=True)
        client = self._connect()
        if client.has_collection(self.collection):
            client.drop_collection(self.collection)
        self._create_collection(client, self.collection)
        return self

    def _create_collection(self, client: Any, name: str) -> None:
        from pymilvus import DataType, Function, FunctionType

        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("chunk_id", DataType.VARCHAR, max_length=32, is_primary=True)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=4096)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        schema.add_field("tokens", DataType.VARCHAR, max_length=65_535, enable_analyzer=True,
                         analyzer_params={"tokenizer": "standard"})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("source", DataType.VARCHAR, max_length=1024)
        schema.add_field("category", DataType.VARCHAR, max_length=128)
        schema.add_field("entity_terms", DataType.ARRAY, element_type=DataType.VARCHAR,
                         max_capacity=MAX_ENTITY_TERMS, max_length=MAX_TERM_BYTES)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["tokens"], output_field_names=["sparse"]))
        params = client.prepare_index_params()
        if self.vector_index.kind == "hnsw":
            params.add_index(field_name="vector", index_type="HNSW", metric_type="IP",
                             params={"M": self.vector_index.hnsw_m, "efConstruction": 200})
        else:
            params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                         params={"bm25_k1": self.bm25_config.k1, "bm25_b": self.bm25_config.b})
        client.create_collection(name, schema=schema, index_params=params)

    def open(self, expected_chunks: int | None = None, index_dir: Path | None = None) -> "MilvusBackend":
        where = index_dir or self.directory
        # Only the live generation is opened without a previous one; writers open copies.
        self._read_only = self.previous_generation is None
        if self.config.uri is None and not (self.directory / LITE_DIR).is_dir():
            raise IndexMismatchError(f"the Milvus Lite database {self.directory / LITE_DIR} is missing",
                                     rebuild_hint(where) + " --backend milvus")
        self.store.open(create=False)
        client = self._connect()
        if not client.has_collection(self.collection):
            if self.previous_generation and client.has_collection(
                    _collection_name(self.config.prefix, self.previous_generation)):
                self._copy_collection(client, _collection_name(self.config.prefix, self.previous_generation))
            else:
                raise IndexMismatchError(
                    f"Milvus at {self.uri} has no collection {self.collection!r} (dropped, or another server?)",
                    rebuild_hint(where) + f" --backend milvus --milvus-uri {self.config.uri or 'URI'}",
                )
        dim = self._collection_dimension(client)
        if dim != self.dimension:
            raise IndexMismatchError(
                f"Milvus collection {self.collection!r} holds {dim}-dimensional vectors; the manifest says {self.dimension}",
                rebuild_hint(where) + " --backend milvus",
            )
        client.load_collection(self.collection)
        sizes = {"database": self.store.count_chunks(), "milvus": self.size}
        if expected_chunks is not None:
            sizes["manifest"] = expected_chunks
        if len(set(sizes.values())) != 1:
            raise IndexMismatchError(f"index parts disagree on the number of chunks: {sizes}", rebuild_hint(where))
        return self

    def _collection_dimension(self, client: Any) -> int | None:
        for f in client.describe_collection(self.collection).get("fields", []):
            if f.get("name") == "vector":
                return int(f.get("params", {}).get("dim", 0))
        return None

    def _copy_collection(self, client: Any, source: str) -> None:
        """A new generation on a shared URI starts as a copy of the live one (vectors copied,
        nothing re-embedded)."""
        log.info("copying Milvus collection %s -> %s", source, self.collection)
        self._create_collection(client, self.collection)
        client.load_collection(source)
        it = client.query_iterator(source, batch_size=BATCH, output_fields=_ROW_FIELDS)
        try:
            while True:
                rows = it.next()
                if not rows:
                    break
                client.insert(self.collection, [{k: r[k] for k in _ROW_FIELDS} for r in rows])
        finally:
            it.close()

    def save(self) -> None:
        if self._client is not None:
            self._client.flush(self.collection)

    def close(self) -> None:
        self.store.close()
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None
                _release_lite(self._lite_path)
                self._lite_path = None
        if self._snapshot:
            shutil.rmtree(self._snapshot, ignore_errors=True)
            self._snapshot = None

    def publish(self, keep_generations: set[str]) -> None:
        """Shared URI: alias `<prefix>` -> this generation; drop collections of other generations."""
        if self.config.uri is None:
            return  # Lite inside the generation: the directory swap is the publication
        client = self._connect()
        try:
            try:
                client.alter_alias(self.collection, self.config.prefix)
            except Exception:
                client.create_alias(self.collection, self.config.prefix)
        except Exception as exc:  # Milvus Lite has no aliases; the manifest names the collection anyway
            log.info("Milvus alias %s not set: %s", self.config.prefix, exc)
        keep = {_collection_name(self.config.prefix, g) for g in keep_generations}
        for name in client.list_collections():
            if name.startswith(f"{self.config.prefix}_gen_") and name not in keep:
                client.drop_collection(name)

    # -- writes --------------------------------------------------------------------------------
    def set_annotations(self, mentions: dict[str, Sequence[Mention]], categories: dict[str, Category]) -> None:
        super().set_annotations(mentions, categories)
        # Rows already in Milvus whose filter fields changed (e.g. an unchanged chunk of a
        # document whose category changed) are rewritten with their stored vectors.
        client = self._connect()
        ids = set(mentions)
        if categories:
            docs = list(categories)
            for i in range(0, len(docs), BATCH):
                expr = f"doc_id in [{', '.join(_literal(d) for d in docs[i:i + BATCH])}]"
                ids.update(r["chunk_id"] for r in client.query(self.collection, filter=expr, output_fields=["chunk_id"]))
        self._rewrite_filter_fields(sorted(ids))

    def _rewrite_filter_fields(self, chunk_ids: list[str]) -> None:
        client = self._connect()
        for i in range(0, len(chunk_ids), BATCH):
            part = chunk_ids[i : i + BATCH]
            rows = client.get(self.collection, ids=part, output_fields=_ROW_FIELDS)
            if not rows:
                continue
            passages = self.store.passages([r["chunk_id"] for r in rows])
            fresh = []
            for r in rows:
                p = passages.get(r["chunk_id"])
                if p is None:
                    continue
                fresh.append({**{k: r[k] for k in _ROW_FIELDS}, **self._filter_fields(p)})
            if fresh:
                client.upsert(self.collection, fresh)

    @staticmethod
    def _filter_fields(p: Passage) -> dict[str, Any]:
        return {"source": p.source or "", "category": p.category.label if p.category else "",
                "entity_terms": entity_terms(p.entities)}

    def add(self, passages: Sequence[Passage], vectors: np.ndarray) -> None:
        if len(passages) == 0:
            return
        if vectors.shape != (len(passages), self.dimension):
            raise IndexerError(
                f"vector shape {vectors.shape} does not match {len(passages)} passages x {self.dimension} dims",
                "the encoder changed: rebuild the index with `clinqa index build`",
            )
        client = self._connect()
        # Annotations and sources come from the store (the writer stores them first).
        stored = self.store.passages([p.chunk_id for p in passages])
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        rows = []
        for p, v in zip(passages, vecs):
            q = stored.get(p.chunk_id, p)
            tokens = encode_tokens(self.tokenize(f"{q.title}\n{q.text}"))
            if len(tokens) > MAX_TOKENS_CHARS:
                log.warning("passage %s has more BM25 tokens than Milvus holds; truncated", p.chunk_id)
                tokens = tokens[: tokens.rfind(" ", 0, MAX_TOKENS_CHARS)]
            rows.append({"chunk_id": p.chunk_id, "doc_id": q.doc_id, "vector": v, "tokens": tokens,
                         **self._filter_fields(q)})
        for i in range(0, len(rows), BATCH):
            client.upsert(self.collection, rows[i : i + BATCH])

    def remove(self, chunk_ids: Sequence[str]) -> None:
        ids = list(chunk_ids)
        if not ids:
            return
        client = self._connect()
        for i in range(0, len(ids), BATCH):
            client.delete(self.collection, ids=ids[i : i + BATCH])

    def refresh(self, show_progress: bool = False) -> None:
        """Milvus indexes on insert; a flush seals the segments so counts and BM25 statistics
        include every write."""
        self.save()

    # -- search --------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        client = self._connect()
        res = client.query(self.collection, filter="", output_fields=["count(*)"], **self._consistency)
        return int(res[0]["count(*)"]) if res else 0

    @property
    def _consistency(self) -> dict[str, str]:
        # A server must see this writer's own inserts at once; Milvus Lite is always consistent
        # (and has no timestamp service to ask).
        return {"consistency_level": "Strong"} if self.config.is_server else {}

    def _search(self, data: Any, field: str, metric: str, k: int, where: SearchFilter | None,
                params: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        if k <= 0:
            return []
        expr = milvus_filter(where)
        client = self._connect()
        res = client.search(self.collection, data=data, anns_field=field, limit=min(k, MAX_TOP_K),
                            filter=expr, output_fields=[], search_params={"metric_type": metric, "params": params or {}},
                            **self._consistency)
        # Milvus Lite reports BM25 negated; BM25 is never negative, so |score| is the score.
        hits = [(str(h.get("chunk_id") or h["id"]), abs(float(h["distance"])) if metric == "BM25" else float(h["distance"]))
                for h in (res[0] if res else [])]
        hits.sort(key=lambda h: (-h[1], h[0]))
        return hits

    def search_text(self, query: str, k: int, where: SearchFilter | None = None) -> list[tuple[str, float]]:
        tokens = self.tokenize(query)
        if not tokens:
            return []
        hits = self._search([encode_tokens(tokens)], "sparse", "BM25", k, where)
        return [h for h in hits if h[1] > 0]

    def search_vector(self, vector: np.ndarray, k: int, where: SearchFilter | None = None) -> list[tuple[str, float]]:
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        params = {"ef": max(self.vector_index.hnsw_ef_search, k)} if self.vector_index.kind == "hnsw" else {}
        return self._search([q.tolist()], "vector", "IP", k, where, params)

    def sources(self) -> list[str]:
        return self.store.sources()


__all__ = ["MilvusBackend", "MilvusConfig", "encode_tokens", "entity_terms", "milvus_filter", "DB_FILE"]
