"""Relational store (SQLAlchemy 2.x): documents, chunks and index builds."""
from store.errors import StoreError
from store.store import DocumentInfo, DocumentStore, StoreConfig
from store.types import Category, Document, Mention, Passage, chunk_id_for, chunk_key, normalize_mention

__all__ = [
    "Category",
    "Document",
    "Mention",
    "normalize_mention",
    "DocumentInfo",
    "DocumentStore",
    "Passage",
    "StoreConfig",
    "StoreError",
    "chunk_id_for",
    "chunk_key",
]
