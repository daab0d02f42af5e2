"""`manifest.json`: what an index directory holds and how it was built (txtai-style)."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from indexer.errors import IndexerError
from indexer.tokenize import TOKENIZER_NAME, TOKENIZERS, BiomedicalTokenizer

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class IndexNotFoundError(IndexerError):
    pass


class IndexMismatchError(IndexerError):
    pass


def index_tokenizer(manifest: dict[str, Any], index_dir: Path | str) -> tuple[str, BiomedicalTokenizer]:
    """(name, tokenizer) of the BM25 rules an index was built with (its manifest's
    "tokenizer"); IndexMismatchError with a rebuild hint for rules this clinqa does not know."""
    name = manifest.get("tokenizer")
    if name not in TOKENIZERS:
        raise IndexMismatchError(
            f"the index was tokenised with {name!r}; this clinqa knows {sorted(TOKENIZERS)}",
            rebuild_hint(index_dir),
        )
    return name, TOKENIZERS[name]


def index_encoder_backend(manifest: dict[str, Any], requested: str | None, index_dir: Path | str) -> str:
    """The encoder backend an index was built with (its manifest's encoder "backend"; "torch"
    for indexes older than the option). `requested` (None = whatever the index has) must be
    that backend: passages and queries are embedded alike, so a different one is refused
    with IndexMismatchError and a rebuild hint."""
    built = manifest.get("encoder", {}).get("backend", "torch")
    if requested is not None and requested != built:
        raise IndexMismatchError(
            f"the index was built with encoder backend {built!r}, not {requested!r}",
            f"drop --encoder-backend to use {built!r}, or {rebuild_hint(index_dir)} with --encoder-backend {requested}",
        )
    return built


def rebuild_hint(index_dir: Path | str) -> str:
    return (
        f"rebuild it: clinqa index build --index {index_dir} SOURCE... "
        "(the bundled corpus is data/corpus/medquad.jsonl.gz)"
    )


def manifest_hash(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def corpus_checksum(doc_checksums: dict[str, str]) -> str:
    h = hashlib.sha256()
    for doc_id in sorted(doc_checksums):
        h.update(f"{doc_id}\x00{doc_checksums[doc_id]}\n".encode())
    return h.hexdigest()


def read_manifest(index_dir: Path) -> dict[str, Any]:
    path = Path(index_dir) / MANIFEST
    if not Path(index_dir).is_dir():
        raise IndexNotFoundError(
            f"no index directory at {index_dir}",
            f"build one first: clinqa index build --index {index_dir} data/corpus/medquad.jsonl.gz",
        )
    if not path.is_file():
        raise IndexNotFoundError(
            f"{index_dir} has no {MANIFEST}, so it is not a clinqa index (or its first build never finished)",
            f"build one: clinqa index build --index {index_dir} SOURCE...",
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexMismatchError(f"{path} is unreadable: {exc}", rebuild_hint(index_dir)) from exc
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"{path} has index format version {version!r}; this clinqa reads version {FORMAT_VERSION}",
            rebuild_hint(index_dir),
        )
    for key in ("generation", "encoder", "bm25", "chunking", "counts"):
        if key not in manifest:
            raise IndexMismatchError(f"{path} lacks the field {key!r}", rebuild_hint(index_dir))
    return manifest


def write_manifest(index_dir: Path, manifest: dict[str, Any]) -> None:
    """Atomic: write a temporary file, fsync, then rename over the old manifest."""
    path = Path(index_dir) / MANIFEST
    tmp = path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    dir_fd = os.open(index_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
