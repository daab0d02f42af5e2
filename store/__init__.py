"""Relational store (SQLAlchemy 2.x): documents, chunks and index builds."""
from store.errors import StoreError
from store.store import DocumentInfo, DocumentStore, StoreConfig
from store.types import Document, Passage, chunk_id_for, chunk_key

__all__ = [
    "Document",
    "DocumentInfo",
    "DocumentStore",
    "Passage",
    "StoreConfig",
    "StoreError",
    "chunk_id_for",
    "chunk_key",
]
