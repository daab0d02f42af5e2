"""Frozen dataclasses shared across package boundaries.

`store` is the lowest layer (every other package depends on its data model and it
depends on none of them), so the boundary types live here.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

# FAISS ids are signed int64; 60 bits of the content hash keeps them positive.
_KEY_BITS = 60


def chunk_id_for(doc_id: str, start: int, text: str) -> str:
    """Stable, content-derived chunk id (15 hex chars = 60 bits).

    The same document id, offset and text always give the same id, so BM25 rows,
    FAISS ids and SQL rows join on it across rebuilds and processes.
    """
    digest = hashlib.sha256(f"{doc_id}\x00{start}\x00{text}".encode("utf-8")).hexdigest()
    return digest[: _KEY_BITS // 4]


def chunk_key(chunk_id: str) -> int:
    """Integer key of a chunk id, used as the FAISS `IndexIDMap2` id."""
    return int(chunk_id, 16)


def text_checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Document:
    """A source document as loaded from disk (before chunking)."""

    doc_id: str
    title: str
    text: str
    url: str | None = None
    source: str = ""  # collection name, e.g. "MedQuAD/GARD"
    license: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def checksum(self) -> str:
        return text_checksum(f"{self.title}\x00{self.text}")


def normalize_mention(text: str) -> str:
    """Lookup form of an entity mention or entity filter: case-folded, single spaces."""
    return " ".join(text.casefold().split())


@dataclass(frozen=True)
class Mention:
    """An entity found in a passage by the NER model at index time.

    `start`/`end` are character offsets into `Passage.text`."""

    start: int
    end: int
    label: str  # entity type, e.g. "Disease" or "Chemical"
    text: str
    score: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "label": self.label, "text": self.text, "score": self.score}


@dataclass(frozen=True)
class Category:
    """A document's predicted category (index-time classifier) and its probability."""

    label: str
    probability: float
    name: str = ""  # human-readable label name, when the model provides one

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "name": self.name, "probability": self.probability}


@dataclass(frozen=True)
class Passage:
    """A chunk of a document: the unit that is indexed, retrieved and read.

    `start`/`end` are character offsets into the document text, so
    `document.text[start:end] == text` always holds.
    """

    chunk_id: str
    doc_id: str
    order: int
    text: str
    start: int
    end: int
    title: str = ""
    url: str | None = None
    source: str = ""
    license: str | None = None
    # Index-time annotations (empty when the index was built without NER / classifier).
    entities: tuple[Mention, ...] = ()
    category: Category | None = None

    @property
    def key(self) -> int:
        return chunk_key(self.chunk_id)
