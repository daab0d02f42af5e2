"""`MilvusBackend`: the search-backend contract on Milvus (Lite in-process, standalone or cluster).

One pymilvus `MilvusClient` talks to all three: a path ending in `.db` opens Milvus Lite in
this process, `http://host:19530` a server (token from `$CLINQA_MILVUS_TOKEN`).

What lives where (docs/decisions.md):
* SQL (the generation's `clinqa.db`, as in the local backend): documents, passages, offsets,
  entity mentions, categories, build log. `passages()` reads from there.
* The Milvus collection: per passage the chunk id (primary key), the dense vector, its BM25
  term weights (a sparse vector) with its length and reference length, and the fields filters
  need (source, category, entity terms).
* SQL also holds the BM25 statistics (passages, total length, each term's id and document
  frequency), updated by every add and remove.

BM25 on our tokens, with our own statistics (issue 17, docs/decisions.md): Milvus' BM25 function
takes its statistics (passage count, average length, document frequencies) from one segment
at a time in Milvus Lite, so a passage added later was scored as if the corpus were its own
segment. The backend therefore keeps those statistics in the SQL store (`bm25_terms`,
`bm25_stats`), stores per passage a sparse vector of BM25 term weights (term ids from the store,
weights `indexer.bm25stats.weight` at a reference length `ref`, plus the passage length `dl`),
and searches it by inner product with a query vector of idf weights; the candidates Milvus
returns are rescored exactly with the current average length, and the search widens until the
top k is provably right (`indexer.bm25stats`). Scores are bm25s's, so both backends agree.

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

import json
import logging
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer import bm25stats
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
# Milvus limits: ARRAY capacity <= 4,096, top-k <= 16,384.
MAX_ENTITY_TERMS = 1024
MAX_TERM_BYTES = 256
MAX_NGRAM_WORDS = 12
MAX_TOP_K = 16_384
BATCH = 1000
# A sparse vector needs a nonzero weight: a passage without BM25 tokens holds this reserved
# dimension (term ids start at 1), which no query asks for.
PLACEHOLDER_TERM = 0
# Passages sampled to choose the reference length of a fresh build's weights.
REF_SAMPLE = 2000
_ROW_FIELDS = ["chunk_id", "doc_id", "vector", "sparse", "dl", "ref", "source", "category", "entity_terms"]


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
    """Milvus collection (dense FLAT/HNSW inner product + BM25 term weights, inner product) + the
    SQL store (documents, passages, annotations and the BM25 statistics).

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
        if bm25_config.method not in bm25stats.SUPPORTED_METHODS:
            raise IndexerError(f"the Milvus backend does not offer BM25 method {bm25_config.method!r}",
                               f"use one of {', '.join(bm25stats.SUPPORTED_METHODS)} (--bm25-method)")
        self._ref: float | None = None  # reference length of the weights this object writes
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
        self.store.bm25_clear()
        client = self._connect()
        if client.has_collection(self.collection):
            client.drop_collection(self.collection)
        self._create_collection(client, self.collection)
        return self

    def _create_collection(self, client: Any, name: str) -> None:
        from pymilvus import DataType

        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("chunk_id", DataType.VARCHAR, max_length=32, is_primary=True)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=4096)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        # BM25 term weights at the reference length `ref`; `dl` = the passage's length in tokens.
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dl", DataType.INT64)
        schema.add_field("ref", DataType.DOUBLE)
        schema.add_field("source", DataType.VARCHAR, max_length=1024)
        schema.add_field("category", DataType.VARCHAR, max_length=128)
        schema.add_field("entity_terms", DataType.ARRAY, element_type=DataType.VARCHAR,
                         max_capacity=MAX_ENTITY_TERMS, max_length=MAX_TERM_BYTES)
        params = client.prepare_index_params()
        if self.vector_index.kind == "hnsw":
            params.add_index(field_name="vector", index_type="HNSW", metric_type="IP",
                             params={"M": self.vector_index.hnsw_m, "efConstruction": 200})
        else:
            params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
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
        fields = self._collection_fields(client)
        if "dl" not in fields or "tokens" in fields or not self.store.has_bm25_stats:
            raise IndexMismatchError(
                f"the Milvus index in {where} was built by an older clinqa whose BM25 scores were wrong after "
                "index add/remove (Milvus' own BM25 statistics, issue 17)",
                rebuild_hint(where) + " --backend milvus",
            )
        dim = int(fields["vector"].get("params", {}).get("dim", 0))
        if dim != self.dimension:
            raise IndexMismatchError(
                f"Milvus collection {self.collection!r} holds {dim}-dimensional vectors; the manifest says {self.dimension}",
                rebuild_hint(where) + " --backend milvus",
            )
        client.load_collection(self.collection)
        sizes = {"database": self.store.count_chunks(), "milvus": self.size,
                 "bm25 statistics": int(self.store.bm25_stats()["docs"])}
        if expected_chunks is not None:
            sizes["manifest"] = expected_chunks
        if len(set(sizes.values())) != 1:
            raise IndexMismatchError(f"index parts disagree on the number of chunks: {sizes}", rebuild_hint(where))
        return self

    def _collection_fields(self, client: Any) -> dict[str, dict[str, Any]]:
        return {f.get("name"): f for f in client.describe_collection(self.collection).get("fields", [])}

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
        last = {p.chunk_id: i for i, p in enumerate(passages)}  # one id twice: the last one wins
        passages = [passages[i] for i in last.values()]
        vecs = np.ascontiguousarray(vectors[list(last.values())], dtype=np.float32)
        # Annotations and sources come from the store (the writer stores them first).
        stored = self.store.passages([p.chunk_id for p in passages])
        texts = [stored.get(p.chunk_id, p) for p in passages]
        counted = []
        for q in texts:
            tokens = self.tokenize(f"{q.title}\n{q.text}")
            # bm25s indexes a passage without tokens as one empty token: length 1.
            counted.append((Counter(bm25stats.term_key(t) for t in tokens), max(len(tokens), 1)))
        ref = self._reference_length([dl for _, dl in counted])
        # Rows this replaces leave the statistics, the new ones enter them, in one transaction.
        old = self._rows([p.chunk_id for p in passages])
        added: Counter[str] = Counter()
        for counts, _ in counted:
            added.update(counts.keys())
        ids = self.store.bm25_update(dict(added), self._term_counts(old), docs=len(passages) - len(old),
                                     length=sum(dl for _, dl in counted) - sum(int(r["dl"]) for r in old), ref=ref)
        cfg = self.bm25_config
        rows = []
        for q, (counts, dl), v in zip(texts, counted, vecs):
            sparse = {}
            for term, tf in counts.items():
                w = bm25stats.weight(cfg.method, tf, dl, ref, cfg.k1, cfg.b)
                if w > 0:
                    sparse[ids[term]] = w
            rows.append({"chunk_id": q.chunk_id, "doc_id": q.doc_id, "vector": v,
                         "sparse": sparse or {PLACEHOLDER_TERM: 1.0}, "dl": dl, "ref": ref, **self._filter_fields(q)})
        for i in range(0, len(rows), BATCH):
            client.upsert(self.collection, rows[i : i + BATCH])

    def _reference_length(self, lengths: Sequence[int]) -> float:
        """The average length this object's weights are computed with: the index's current one,
        or for a fresh build (no statistics yet) an estimate from up to 2,000 passages spread
        over the store (which already holds the whole build). Any value gives exact scores
        (`search_text` rescores); a close one keeps searches to one round."""
        if self._ref is None:
            stats = self.store.bm25_stats()
            if stats["docs"] > 0:
                self._ref = stats["length"] / stats["docs"]
            else:
                total = self.store.count_chunks()
                if total <= len(lengths):
                    sample = list(lengths)
                else:
                    step = max(1, total // REF_SAMPLE)
                    sample = [max(len(self.tokenize(f"{title}\n{text}")), 1)
                              for i, (_c, text, _s, title) in enumerate(self.store.iter_chunks()) if i % step == 0]
                self._ref = float(np.mean(sample)) if sample else 1.0
        return self._ref

    def _rows(self, chunk_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The stored BM25 side (sparse, dl) of those rows that exist."""
        client = self._connect()
        out = []
        ids = list(dict.fromkeys(chunk_ids))
        for i in range(0, len(ids), BATCH):
            out.extend(client.get(self.collection, ids=ids[i : i + BATCH], output_fields=["sparse", "dl"],
                                  **self._consistency))
        return out

    @staticmethod
    def _term_counts(rows: Sequence[dict[str, Any]]) -> dict[int, int]:
        counts: Counter[int] = Counter()
        for r in rows:
            counts.update(int(t) for t in r["sparse"] if int(t) != PLACEHOLDER_TERM)
        return dict(counts)

    def remove(self, chunk_ids: Sequence[str]) -> None:
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return
        client = self._connect()
        old = self._rows(ids)
        if old:
            self.store.bm25_update({}, self._term_counts(old), docs=-len(old), length=-sum(int(r["dl"]) for r in old))
        for i in range(0, len(ids), BATCH):
            client.delete(self.collection, ids=ids[i : i + BATCH])

    def refresh(self, show_progress: bool = False) -> None:
        """Milvus indexes on insert; a flush seals the segments so counts include every write.
        (BM25 statistics are ours and already current: nothing depends on segments.)"""
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
        hits = [(str(h.get("chunk_id") or h["id"]), float(h["distance"])) for h in (res[0] if res else [])]
        hits.sort(key=lambda h: (-h[1], h[0]))
        return hits

    def search_text(self, query: str, k: int, where: SearchFilter | None = None) -> list[tuple[str, float]]:
        """Exact BM25 (bm25s's scores) from our statistics: Milvus ranks candidates by the stored
        weights (inner product with idf weights); the candidates are rescored with the current
        average length, and more are fetched until no passage outside them can reach the top k."""
        tokens = self.tokenize(query)
        if not tokens or k <= 0:
            return []
        cfg = self.bm25_config
        stats = self.store.bm25_stats()
        n = int(stats["docs"])
        if n <= 0:
            return []
        avgdl = stats["length"] / n
        counts = Counter(bm25stats.term_key(t) for t in tokens)
        known = self.store.bm25_terms(list(counts))
        weights = {tid: counts[t] * bm25stats.idf(cfg.method, df, n) for t, (tid, df) in known.items() if df > 0}
        if not weights:
            return []
        constant = bm25stats.baseline(cfg.method, cfg.k1) * sum(weights.values())
        _, hi = bm25stats.ratio_bounds(avgdl, stats["ref_min"], stats["ref_max"], cfg.k1, cfg.b)
        hi *= 1 + 1e-5  # stored weights are float32: allow for their rounding
        # Twice k at first: the k-th exact score then nearly always clears the bound in one round.
        limit = min(MAX_TOP_K, max(2 * k, k + 20))
        expr = milvus_filter(where)
        client = self._connect()
        while True:
            res = client.search(self.collection, data=[weights], anns_field="sparse", limit=limit, filter=expr,
                                output_fields=["sparse", "dl", "ref"], search_params={"metric_type": "IP", "params": {}},
                                **self._consistency)
            hits = list(res[0]) if res else []
            scored = sorted(((str(h.get("chunk_id") or h["id"]), self._exact(h.get("entity") or h, weights, avgdl))
                             for h in hits), key=lambda x: (-x[1], x[0]))
            if len(hits) < limit or limit >= MAX_TOP_K:
                break  # every passage holding a query term is among them (or Milvus gives no more)
            lowest = min(float(h["distance"]) for h in hits)
            if len(scored) >= k and scored[k - 1][1] >= hi * lowest:
                break  # nothing outside can beat the k-th
            limit = min(MAX_TOP_K, limit * 4)
        return [(c, s + constant) for c, s in scored[:k] if s + constant > 0]

    def _exact(self, row: dict[str, Any], weights: dict[int, float], avgdl: float) -> float:
        """sum of query weight x exact passage weight over the query's terms in this row."""
        cfg = self.bm25_config
        sparse, dl, ref = row["sparse"], float(row["dl"]), float(row["ref"])
        exact = bm25stats.length_matters(cfg.k1, cfg.b)
        total = 0.0
        for tid, qw in weights.items():
            w = sparse.get(tid)
            if not w:
                continue
            if exact:
                tf = bm25stats.frequency(cfg.method, float(w), dl, ref, cfg.k1, cfg.b)
                w = bm25stats.weight(cfg.method, tf, dl, avgdl, cfg.k1, cfg.b)
            total += qw * float(w)
        return total

    def search_vector(self, vector: np.ndarray, k: int, where: SearchFilter | None = None) -> list[tuple[str, float]]:
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        params = {"ef": max(self.vector_index.hnsw_ef_search, k)} if self.vector_index.kind == "hnsw" else {}
        return self._search([q.tolist()], "vector", "IP", k, where, params)

    def sources(self) -> list[str]:
        return self.store.sources()


__all__ = ["MilvusBackend", "MilvusConfig", "entity_terms", "milvus_filter", "DB_FILE"]
