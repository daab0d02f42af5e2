"""Typed SQLAlchemy 2.x ORM models. Portable column types only (no SQLite-only SQL)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class DocumentRow(Base):
    __tablename__ = "documents"

    doc_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str] = mapped_column(String(256), default="", index=True)
    license: Mapped[str | None] = mapped_column(String(256), nullable=True)
    checksum: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    metadata_json: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)

    chunks: Mapped[list["ChunkRow"]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="ChunkRow.order"
    )


class ChunkRow(Base):
    __tablename__ = "chunks"

    chunk_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Integer form of chunk_id: the FAISS IndexIDMap2 id.
    key: Mapped[int] = mapped_column(BigInteger, unique=True, index=True)
    doc_id: Mapped[str] = mapped_column(
        String(512), ForeignKey("documents.doc_id", ondelete="CASCADE"), index=True
    )
    order: Mapped[int] = mapped_column("chunk_order", Integer)
    text: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column("char_start", Integer)
    end: Mapped[int] = mapped_column("char_end", Integer)

    document: Mapped[DocumentRow] = relationship(back_populates="chunks")

    __table_args__ = (Index("ix_chunks_doc_order", "doc_id", "chunk_order"),)


class MentionRow(Base):
    """An entity mention in a chunk (index-time NER). Deleted with its chunk (ON DELETE CASCADE)."""

    __tablename__ = "mentions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chunk_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("chunks.chunk_id", ondelete="CASCADE"), index=True
    )
    start: Mapped[int] = mapped_column("char_start", Integer)
    end: Mapped[int] = mapped_column("char_end", Integer)
    label: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)
    # normalize_mention(text): what entity filters match against
    norm: Mapped[str] = mapped_column(String(512), index=True)
    score: Mapped[float] = mapped_column(Float, default=1.0)


class CategoryRow(Base):
    """A document's predicted category (index-time classifier)."""

    __tablename__ = "doc_categories"

    doc_id: Mapped[str] = mapped_column(
        String(512), ForeignKey("documents.doc_id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    probability: Mapped[float] = mapped_column(Float)


class BuildRow(Base):
    """One row per index change (build, add, remove): when, what, which manifest."""

    __tablename__ = "index_builds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    manifest_hash: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Bm25TermRow(Base):
    """A BM25 term of a backend that keeps its own BM25 statistics (Milvus): the term's id (its
    sparse-vector dimension) and in how many passages it occurs (docs/decisions.md, issue 17)."""

    __tablename__ = "bm25_terms"

    # indexer.bm25stats.term_key(token): the token, or a hash of a token over 200 bytes
    term: Mapped[str] = mapped_column(String(256), primary_key=True)
    term_id: Mapped[int] = mapped_column(BigInteger, unique=True, index=True)
    df: Mapped[int] = mapped_column(Integer, default=0)


class Bm25StatRow(Base):
    """Corpus-wide BM25 numbers of that backend: docs (passages), length (sum of passage
    lengths in tokens), ref_min / ref_max (the reference lengths stored weights were computed with)."""

    __tablename__ = "bm25_stats"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
