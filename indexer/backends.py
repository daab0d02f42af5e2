"""The search-backend factory: a backend kind (manifest "backend" or CLI name) -> its class.

Apart from `indexer.backend` (the shared store-backed base and the local FAISS + bm25s
backend) because the Milvus backend derives from that base: the factory sits above both.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from indexer.backend import LocalBackend, StoreBackedBackend, backend_kind
from indexer.bm25 import BM25Config
from indexer.dense import FaissConfig
from indexer.milvus import MilvusBackend, MilvusConfig


def make_backend(
    kind: str | None,
    directory: Path,
    dimension: int,
    tokenize: Callable[[str], list[str]],
    faiss_config: FaissConfig,
    bm25_config: BM25Config,
    database_url: str | None = None,
    milvus: Any = None,
    previous_generation: str | None = None,
) -> StoreBackedBackend:
    """The backend for one generation directory, by kind (manifest "backend" or CLI name).

    `milvus` is an `indexer.milvus.MilvusConfig` (None: Milvus Lite inside the generation).
    Raises IndexMismatchError for an unknown kind; the Milvus backend's ImportError says
    what to install. Constructing does no I/O: call `create()` or `open()`.
    """
    if backend_kind(kind) == "milvus":
        return MilvusBackend(directory, dimension, tokenize, bm25_config, milvus or MilvusConfig(),
                             database_url=database_url, faiss_config=faiss_config,
                             previous_generation=previous_generation)
    return LocalBackend(directory, dimension, tokenize, faiss_config, bm25_config, database_url=database_url)
