"""The document store: the only code that touches SQL."""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import create_engine, delete, event, func, insert, inspect, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from store.errors import StoreError
from store.models import Base, Bm25StatRow, Bm25TermRow, BuildRow, CategoryRow, ChunkRow, DocumentRow, MentionRow
from store.types import Category, Document, Mention, Passage, normalize_mention

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreConfig:
    """Any SQLAlchemy URL; the index uses `sqlite:///<index generation>/clinqa.db` by default."""

    url: str

    def __post_init__(self) -> None:
        if not self.url or "://" not in self.url:
            raise StoreError(
                f"invalid database URL {self.url!r}",
                "give an SQLAlchemy URL such as sqlite:///path/clinqa.db or "
                "postgresql+psycopg://user@host/db",
            )


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str
    title: str
    url: str | None
    source: str
    license: str | None
    checksum: str
    added_at: datetime
    num_chunks: int


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class DocumentStore:
    """Documents, their chunks and the index build log."""

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._annotated = False
        self._bm25 = False

    # -- lifecycle -------------------------------------------------------
    def open(self, create: bool = False) -> "DocumentStore":
        try:
            engine = create_engine(self.config.url)
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_pragmas)
            if create:
                Base.metadata.create_all(engine)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot open database {self.config.url}: {exc.__class__.__name__}: {exc}",
                "check the URL, that the server is running and that you may write there",
            ) from exc
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # Indexes built before annotations existed lack these tables: they read as empty.
        tables = set(inspect(engine).get_table_names())
        self._annotated = {MentionRow.__tablename__, CategoryRow.__tablename__} <= tables
        self._bm25 = {Bm25TermRow.__tablename__, Bm25StatRow.__tablename__} <= tables
        return self

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._engine = None
        self._sessions = None

    def __enter__(self) -> "DocumentStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def session(self) -> Session:
        if self._sessions is None:
            raise StoreError("the store is not open", "call DocumentStore.open() first")
        return self._sessions()

    # -- writes ----------------------------------------------------------
    def upsert(
        self, items: Iterable[tuple[Document, Sequence[Passage]]]
    ) -> tuple[list[str], list[str]]:
        """Insert or replace documents with their chunks in one transaction.

        Returns (chunk ids added, chunk ids removed) so callers can update the
        vector and term indexes without re-embedding unchanged chunks.
        """
        added: list[str] = []
        removed: list[str] = []
        with self.session() as s, s.begin():
            for doc, passages in items:
                old = s.get(DocumentRow, doc.doc_id)
                if old is not None:
                    old_ids = [c.chunk_id for c in old.chunks]
                    s.delete(old)
                    s.flush()
                    removed.extend(old_ids)
                row = DocumentRow(
                    doc_id=doc.doc_id,
                    title=doc.title,
                    text=doc.text,
                    url=doc.url,
                    source=doc.source,
                    license=doc.license,
                    checksum=doc.checksum,
                    metadata_json=dict(doc.metadata),
                )
                row.chunks = [
                    ChunkRow(
                        chunk_id=p.chunk_id,
                        key=p.key,
                        doc_id=doc.doc_id,
                        order=p.order,
                        text=p.text,
                        start=p.start,
                        end=p.end,
                    )
                    for p in passages
                ]
                s.add(row)
                added.extend(p.chunk_id for p in passages)
        # A chunk that is both removed and re-added (same content) needs no change.
        both = set(added) & set(removed)
        return [c for c in added if c not in both], [c for c in removed if c not in both]

    def remove(self, doc_ids: Sequence[str]) -> list[str]:
        """Delete documents; returns the chunk ids that went with them."""
        with self.session() as s, s.begin():
            chunk_ids = list(
                s.scalars(select(ChunkRow.chunk_id).where(ChunkRow.doc_id.in_(list(doc_ids))))
            )
            s.execute(delete(ChunkRow).where(ChunkRow.doc_id.in_(list(doc_ids))))
            s.execute(delete(DocumentRow).where(DocumentRow.doc_id.in_(list(doc_ids))))
        return chunk_ids

    def add_mentions(self, mentions: dict[str, Sequence[Mention]]) -> int:
        """Store entity mentions per chunk id (replacing earlier ones); returns how many."""
        self._require_annotations()
        n = 0
        with self.session() as s, s.begin():
            ids = list(mentions)
            for i in range(0, len(ids), 500):
                s.execute(delete(MentionRow).where(MentionRow.chunk_id.in_(ids[i : i + 500])))
            rows = [
                {"chunk_id": c, "char_start": m.start, "char_end": m.end, "label": m.label, "text": m.text,
                 "norm": normalize_mention(m.text)[:512], "score": float(m.score)}
                for c, ms in mentions.items() for m in ms
            ]
            if rows:
                s.execute(MentionRow.__table__.insert(), rows)
            n = len(rows)
        return n

    def set_categories(self, categories: dict[str, Category]) -> None:
        """Store each document's predicted category (replacing an earlier one)."""
        self._require_annotations()
        with self.session() as s, s.begin():
            for doc_id, c in categories.items():
                s.merge(CategoryRow(doc_id=doc_id, label=c.label, name=c.name, probability=float(c.probability)))

    def _require_annotations(self) -> None:
        if not self._annotated:
            raise StoreError(
                "this index database has no annotation tables (built by an older clinqa)",
                "rebuild the index with `clinqa index build` to store entities and categories",
            )

    def record_build(self, action: str, manifest_hash: str, details: dict[str, Any]) -> None:
        with self.session() as s, s.begin():
            s.add(BuildRow(action=action, manifest_hash=manifest_hash, details=details))

    # -- BM25 statistics (kept by backends whose engine only takes dot products: Milvus) --
    @property
    def has_bm25_stats(self) -> bool:
        """Whether this database has the BM25 statistics tables (indexes built before issue 17 lack them)."""
        return self._bm25

    def bm25_clear(self) -> None:
        """Forget all BM25 statistics (a fresh build)."""
        with self.session() as s, s.begin():
            s.execute(delete(Bm25TermRow))
            s.execute(delete(Bm25StatRow))

    def bm25_stats(self) -> dict[str, float]:
        """docs, length, ref_min, ref_max (absent ones as 0)."""
        out = {"docs": 0.0, "length": 0.0, "ref_min": 0.0, "ref_max": 0.0}
        with self.session() as s:
            out.update({r.name: r.value for r in s.scalars(select(Bm25StatRow))})
        return out

    def bm25_terms(self, terms: Sequence[str]) -> dict[str, tuple[int, int]]:
        """term -> (term id, document frequency) for the known ones among `terms`."""
        out: dict[str, tuple[int, int]] = {}
        terms = list(dict.fromkeys(terms))
        with self.session() as s:
            for i in range(0, len(terms), 500):
                q = select(Bm25TermRow.term, Bm25TermRow.term_id, Bm25TermRow.df).where(
                    Bm25TermRow.term.in_(terms[i : i + 500]))
                out.update({t: (int(tid), int(df)) for t, tid, df in s.execute(q)})
        return out

    def bm25_update(self, added: dict[str, int], removed: dict[int, int], docs: int, length: int,
                    ref: float | None = None) -> dict[str, int]:
        """Apply one change to the BM25 statistics, in one transaction: `added` term -> number of
        new passages holding it, `removed` term id -> number of dropped passages holding it,
        `docs` / `length` the change in passages and in total length, `ref` a reference length
        used for new weights (widens ref_min / ref_max). Returns term -> id for `added`
        (new terms get the next free ids, from 1; ids are never reused)."""
        with self.session() as s, s.begin():
            rows: dict[str, list[int]] = {}  # term -> [term id, df]
            by_id = list(removed)
            for i in range(0, len(by_id), 500):
                q = select(Bm25TermRow.term, Bm25TermRow.term_id, Bm25TermRow.df).where(
                    Bm25TermRow.term_id.in_(by_id[i : i + 500]))
                rows.update({t: [int(tid), int(df)] for t, tid, df in s.execute(q)})
            missing = [t for t in added if t not in rows]
            for i in range(0, len(missing), 500):
                q = select(Bm25TermRow.term, Bm25TermRow.term_id, Bm25TermRow.df).where(
                    Bm25TermRow.term.in_(missing[i : i + 500]))
                rows.update({t: [int(tid), int(df)] for t, tid, df in s.execute(q)})
            changed = set(rows)
            for t, (tid, _df) in list(rows.items()):
                if tid in removed:
                    rows[t][1] -= removed[tid]
            next_id = int(s.scalar(select(func.max(Bm25TermRow.term_id))) or 0) + 1
            fresh = []
            ids: dict[str, int] = {}
            for t, n in added.items():
                if t in rows:
                    rows[t][1] += n
                    ids[t] = rows[t][0]
                else:
                    ids[t] = next_id
                    fresh.append({"term": t, "term_id": next_id, "df": n})
                    next_id += 1
            updates = [{"term": t, "df": rows[t][1]} for t in changed]
            for i in range(0, len(updates), 5000):
                s.execute(update(Bm25TermRow), updates[i : i + 5000])
            for i in range(0, len(fresh), 5000):
                s.execute(insert(Bm25TermRow), fresh[i : i + 5000])
            stats = {r.name: r for r in s.scalars(select(Bm25StatRow))}

            def put(name: str, value: float) -> None:
                if name in stats:
                    stats[name].value = value
                else:
                    s.add(Bm25StatRow(name=name, value=value))

            put("docs", (stats["docs"].value if "docs" in stats else 0.0) + docs)
            put("length", (stats["length"].value if "length" in stats else 0.0) + length)
            if ref is not None:
                put("ref_min", min(ref, stats["ref_min"].value) if "ref_min" in stats else ref)
                put("ref_max", max(ref, stats["ref_max"].value) if "ref_max" in stats else ref)
        return ids

    # -- reads -----------------------------------------------------------
    def checksums(self, doc_ids: Sequence[str] | None = None) -> dict[str, str]:
        with self.session() as s:
            q = select(DocumentRow.doc_id, DocumentRow.checksum)
            if doc_ids is not None:
                q = q.where(DocumentRow.doc_id.in_(list(doc_ids)))
            return {d: c for d, c in s.execute(q)}

    def existing(self, doc_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        ids = list(doc_ids)
        with self.session() as s:
            for i in range(0, len(ids), 500):
                found.update(
                    s.scalars(select(DocumentRow.doc_id).where(DocumentRow.doc_id.in_(ids[i : i + 500])))
                )
        return found

    def count_documents(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(DocumentRow)) or 0)

    def count_chunks(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(ChunkRow)) or 0)

    def passages(self, chunk_ids: Sequence[str]) -> dict[str, Passage]:
        """Passages by chunk id (missing ids are absent from the result)."""
        out: dict[str, Passage] = {}
        ids = list(dict.fromkeys(chunk_ids))
        with self.session() as s:
            for i in range(0, len(ids), 500):
                q = (
                    select(ChunkRow, DocumentRow)
                    .join(DocumentRow, ChunkRow.doc_id == DocumentRow.doc_id)
                    .where(ChunkRow.chunk_id.in_(ids[i : i + 500]))
                )
                for chunk, doc in s.execute(q):
                    out[chunk.chunk_id] = _passage(chunk, doc)
        return self._annotate(out)

    def _annotate(self, passages: dict[Any, Passage]) -> dict[Any, Passage]:
        """Attach stored entity mentions and document categories to passages."""
        if not self._annotated or not passages:
            return passages
        by_chunk = {p.chunk_id: k for k, p in passages.items()}
        doc_ids = list({p.doc_id for p in passages.values()})
        mentions: dict[str, list[Mention]] = {}
        cats: dict[str, Category] = {}
        with self.session() as s:
            ids = list(by_chunk)
            for i in range(0, len(ids), 500):
                q = select(MentionRow).where(MentionRow.chunk_id.in_(ids[i : i + 500])).order_by(MentionRow.start)
                for m in s.scalars(q):
                    mentions.setdefault(m.chunk_id, []).append(Mention(m.start, m.end, m.label, m.text, m.score))
            for i in range(0, len(doc_ids), 500):
                for c in s.scalars(select(CategoryRow).where(CategoryRow.doc_id.in_(doc_ids[i : i + 500]))):
                    cats[c.doc_id] = Category(c.label, c.probability, c.name)
        return {
            k: replace(p, entities=tuple(mentions.get(p.chunk_id, ())), category=cats.get(p.doc_id))
            for k, p in passages.items()
        }

    def chunks_mentioning(self, entity: str) -> set[str]:
        """Chunk ids with a mention equal to `entity`, or containing it as whole words
        ("metformin" matches "metformin hydrochloride", not "metformins")."""
        term = normalize_mention(entity)
        if not self._annotated or not term:
            return set()
        esc = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self.session() as s:
            q = select(MentionRow.chunk_id).where(
                or_(
                    MentionRow.norm == term,
                    MentionRow.norm.like(f"{esc} %", escape="\\"),
                    MentionRow.norm.like(f"% {esc}", escape="\\"),
                    MentionRow.norm.like(f"% {esc} %", escape="\\"),
                )
            )
            return set(s.scalars(q))

    def chunks_in_categories(self, labels: Sequence[str]) -> set[str]:
        """Chunk ids of documents whose predicted category is one of `labels`."""
        if not self._annotated or not labels:
            return set()
        with self.session() as s:
            q = (
                select(ChunkRow.chunk_id)
                .join(CategoryRow, CategoryRow.doc_id == ChunkRow.doc_id)
                .where(CategoryRow.label.in_(list(labels)))
            )
            return set(s.scalars(q))

    def category_counts(self) -> list[tuple[str, str, int]]:
        """(label, name, number of documents) per predicted category, most frequent first."""
        if not self._annotated:
            return []
        with self.session() as s:
            q = (
                select(CategoryRow.label, func.max(CategoryRow.name), func.count())
                .group_by(CategoryRow.label)
                .order_by(func.count().desc(), CategoryRow.label)
            )
            return [(label, name or "", int(n)) for label, name, n in s.execute(q)]

    def entity_counts(self, limit: int = 50, label: str | None = None) -> list[tuple[str, str, int]]:
        """(normalised mention, label, number of chunks) for the most frequent entities."""
        if not self._annotated:
            return []
        with self.session() as s:
            q = select(MentionRow.norm, MentionRow.label, func.count(func.distinct(MentionRow.chunk_id)).label("n"))
            if label:
                q = q.where(MentionRow.label == label)
            q = q.group_by(MentionRow.norm, MentionRow.label).order_by(
                func.count(func.distinct(MentionRow.chunk_id)).desc(), MentionRow.norm
            ).limit(limit)
            return [(norm, lab, int(n)) for norm, lab, n in s.execute(q)]

    def count_mentions(self) -> int:
        if not self._annotated:
            return 0
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(MentionRow)) or 0)

    def count_categorised(self) -> int:
        if not self._annotated:
            return 0
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(CategoryRow)) or 0)

    def passages_by_key(self, keys: Sequence[int]) -> dict[int, Passage]:
        out: dict[int, Passage] = {}
        ks = [int(k) for k in dict.fromkeys(keys)]
        with self.session() as s:
            for i in range(0, len(ks), 500):
                q = (
                    select(ChunkRow, DocumentRow)
                    .join(DocumentRow, ChunkRow.doc_id == DocumentRow.doc_id)
                    .where(ChunkRow.key.in_(ks[i : i + 500]))
                )
                for chunk, doc in s.execute(q):
                    out[chunk.key] = _passage(chunk, doc)
        return self._annotate(out)

    def iter_chunks(self, batch_size: int = 2000) -> Iterator[tuple[str, str, str, str]]:
        """(chunk_id, text, source, title) of every chunk, in chunk-id order."""
        last = ""
        while True:
            with self.session() as s:
                rows = s.execute(
                    select(ChunkRow.chunk_id, ChunkRow.text, DocumentRow.source, DocumentRow.title)
                    .join(DocumentRow, ChunkRow.doc_id == DocumentRow.doc_id)
                    .where(ChunkRow.chunk_id > last)
                    .order_by(ChunkRow.chunk_id)
                    .limit(batch_size)
                ).all()
            if not rows:
                return
            for chunk_id, text, source, title in rows:
                yield chunk_id, text, source, title
            last = rows[-1][0]

    def chunk_sources(self) -> dict[str, str]:
        """Source collection of every chunk (no text loaded: used to build search filters)."""
        with self.session() as s:
            return dict(
                s.execute(select(ChunkRow.chunk_id, DocumentRow.source).join(DocumentRow, ChunkRow.doc_id == DocumentRow.doc_id)).all()
            )

    def document(self, doc_id: str) -> Document | None:
        with self.session() as s:
            row = s.get(DocumentRow, doc_id)
            if row is None:
                return None
            return Document(
                doc_id=row.doc_id,
                title=row.title,
                text=row.text,
                url=row.url,
                source=row.source,
                license=row.license,
                metadata=dict(row.metadata_json or {}),
            )

    def list_documents(self, limit: int | None = None, offset: int = 0) -> list[DocumentInfo]:
        with self.session() as s:
            counts = (
                select(ChunkRow.doc_id, func.count().label("n"))
                .group_by(ChunkRow.doc_id)
                .subquery()
            )
            q = (
                select(DocumentRow, func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.doc_id == DocumentRow.doc_id)
                .order_by(DocumentRow.added_at.desc(), DocumentRow.doc_id)
                .offset(offset)
            )
            if limit is not None:
                q = q.limit(limit)
            return [
                DocumentInfo(
                    doc_id=d.doc_id,
                    title=d.title,
                    url=d.url,
                    source=d.source,
                    license=d.license,
                    checksum=d.checksum,
                    added_at=d.added_at,
                    num_chunks=int(n),
                )
                for d, n in s.execute(q)
            ]

    def sources(self) -> list[str]:
        with self.session() as s:
            return sorted(s.scalars(select(DocumentRow.source).distinct()))

    def builds(self) -> list[dict[str, Any]]:
        with self.session() as s:
            return [
                {
                    "created_at": b.created_at.isoformat(),
                    "action": b.action,
                    "manifest_hash": b.manifest_hash,
                    "details": b.details,
                }
                for b in s.scalars(select(BuildRow).order_by(BuildRow.id))
            ]


def _passage(chunk: ChunkRow, doc: DocumentRow) -> Passage:
    return Passage(
        chunk_id=chunk.chunk_id,
        doc_id=chunk.doc_id,
        order=chunk.order,
        text=chunk.text,
        start=chunk.start,
        end=chunk.end,
        title=doc.title,
        url=doc.url,
        source=doc.source,
        license=doc.license,
    )
