"""Opening an index directory for search (read side)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.backends import make_backend
from indexer.dense import encoder_ref
from indexer.manifest import IndexMismatchError, index_tokenizer, manifest_hash, read_manifest, rebuild_hint
from indexer.writer import IndexConfig
from retriever.backend import SearchBackend

log = logging.getLogger(__name__)


@dataclass
class LoadedIndex:
    index_dir: Path
    manifest: dict[str, Any]
    backend: SearchBackend

    @property
    def encoder_model(self) -> str:
        return self.manifest["encoder"]["model"]

    @property
    def manifest_hash(self) -> str:
        return manifest_hash(self.manifest)

    def close(self) -> None:
        self.backend.close()


def open_index(index_dir: Path | str, encoder: str | None = None) -> LoadedIndex:
    """Open the live generation of an index with the backend its manifest names ("backend":
    "faiss+bm25s" or "milvus"); refuse what this code cannot honour (IndexerError + hint)."""
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    built_with = manifest["encoder"]["model"]
    if encoder is not None and encoder_ref(encoder) != encoder_ref(built_with):
        raise IndexMismatchError(
            f"the index in {index_dir} was built with encoder {built_with!r}, not {encoder!r}",
            f"drop --encoder (the index's encoder is used by default), or {rebuild_hint(index_dir)} --encoder {encoder}",
        )
    _, tokenize = index_tokenizer(manifest, index_dir)
    config = IndexConfig.from_manifest(manifest)
    backend = make_backend(
        config.backend,
        index_dir / manifest["generation"],
        int(manifest["encoder"]["dimension"]),
        tokenize,
        config.faiss,
        config.bm25,
        database_url=config.database_url,
        milvus=config.milvus,
    )
    backend.open(expected_chunks=int(manifest["counts"]["chunks"]), index_dir=index_dir)
    return LoadedIndex(index_dir=index_dir, manifest=manifest, backend=backend)
