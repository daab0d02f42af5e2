"""Builds and changes index directories, atomically.

Layout of an index directory:

    DIR/manifest.json      what is in it and how it was built; names the live generation
    DIR/gen-<id>/          one generation: clinqa.db (SQLite), dense.faiss, bm25/
    DIR/.lock              serialises writers

Every change (build, add, remove) writes a *new* generation (a copy of the live one, then
changed), then swaps `manifest.json` with an atomic rename. A failure or a kill at any
point leaves the old manifest, and so the old generation, serving. The previous generation
is kept so that a server that loaded it keeps working until it reloads.
"""
from __future__ import annotations

import fcntl
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from indexer.annotate import AnnotateConfig, Annotator, check_add_annotators
from indexer.backend import StoreBackedBackend, backend_kind, check_dimension
from indexer.backends import make_backend
from indexer.bm25 import BM25Config
from indexer.chunking import ChunkingConfig
from indexer.dense import DenseEncoder, EncoderConfig, FaissConfig, encoder_ref
from indexer.distributed import process_with_ray
from indexer.embcache import EmbeddingCache, embed_with_cache, encoder_fingerprint
from indexer.errors import EmptyCorpusError, IndexerError
from indexer.loaders import LoadReport, load_documents
from indexer.manifest import (FORMAT_VERSION, TOKENIZER_NAME, IndexMismatchError, corpus_checksum, index_encoder_backend,
                              index_tokenizer, manifest_hash, read_manifest, rebuild_hint, write_manifest)
from indexer.milvus import MilvusConfig
from indexer.passages import chunk_documents, embedding_text, token_spans_for
from indexer.tokenize import TOKENIZERS
from store import Document, Passage

log = logging.getLogger(__name__)

GENERATION_PREFIX = "gen-"


@dataclass(frozen=True)
class IndexConfig:
    """How an index is built. Recorded in the manifest; `add` reuses the manifest's values."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    faiss: FaissConfig = field(default_factory=FaissConfig)
    bm25: BM25Config = field(default_factory=BM25Config)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    # Counts chunk sizes in this model's word pieces; the default reader shares its vocabulary.
    chunk_tokenizer: str | None = None
    database_url: str | None = None  # None: SQLite inside the generation directory
    # Entity mentions and document categories stored at index time (off unless models are named).
    annotate: AnnotateConfig = field(default_factory=AnnotateConfig)
    # Search backend: "local" (FAISS + bm25s files) or "milvus" (retriever/backend.py contract).
    backend: str = "local"
    milvus: MilvusConfig = field(default_factory=MilvusConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "backend", backend_kind(self.backend))

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> "IndexConfig":
        enc = manifest["encoder"]
        ch = manifest["chunking"]
        return cls(
            encoder=EncoderConfig(
                model=enc["model"], max_seq_length=enc.get("max_seq_length", 256), precision=enc.get("precision", "fp32"),
                backend=enc.get("backend", "torch"),
            ),
            faiss=FaissConfig(**manifest.get("faiss", {})),
            bm25=BM25Config(**manifest["bm25"]),
            chunking=ChunkingConfig(max_tokens=ch["max_tokens"], overlap_tokens=ch["overlap_tokens"]),
            chunk_tokenizer=ch.get("tokenizer"),
            database_url=manifest.get("database_url"),
            annotate=AnnotateConfig.from_manifest(manifest.get("annotations")),
            backend=backend_kind(manifest.get("backend")),
            milvus=MilvusConfig.from_manifest(manifest.get("milvus")),
        )


@dataclass(frozen=True)
class ChangeReport:
    """What a build/add/remove did (the CLI prints it; tests check it)."""

    action: str
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    failures: tuple[Any, ...] = ()
    skipped: tuple[Any, ...] = ()  # loaders.Skipped: documents deliberately not indexed, with the reason
    chunks_embedded: int = 0
    chunks_from_cache: int = 0  # of chunks_embedded, vectors loaded precomputed (embcache)
    embed_seconds: float = 0.0  # embedding time alone, without model loading
    documents: int = 0
    chunks: int = 0
    seconds: float = 0.0
    manifest: dict[str, Any] = field(default_factory=dict, compare=False)

    def summary(self) -> str:
        parts = [f"{self.action}:"]
        if self.action != "remove":
            parts.append(
                f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
                f"{len(self.skipped)} skipped, {len(self.failures)} failed;"
            )
        else:
            parts.append(f"{len(self.removed)} removed, {len(self.missing)} not found;")
        parts.append(
            f"index now holds {self.documents} documents / {self.chunks} chunks "
            f"({self.chunks_embedded} passages vectorised; {self.seconds:.1f} s in all)"
        )
        return " ".join(parts)


class IndexWriter:
    """The only code that writes an index directory."""

    def __init__(self, index_dir: Path | str, config: IndexConfig | None = None, show_progress: bool = True,
                 ray: Any = None) -> None:
        """`ray`: an `indexer.distributed.RayConfig` to run a build's chunk/embed/NER/classify on Ray."""
        self.index_dir = Path(index_dir)
        self.config = config or IndexConfig()
        self.show_progress = show_progress
        self.ray = ray
        self._encoder: DenseEncoder | None = None
        self._annotator: Annotator | None = None
        self._token_spans: Callable[[str], list[tuple[int, int]]] | None = None
        self._dim: int | None = None  # from the manifest when changing an index, else from the encoder
        self._tokenizer_name = TOKENIZER_NAME  # a change to an existing index keeps its BM25 rules
        self._stats = {"from_cache": 0, "embed_seconds": 0.0}

    # -- public ------------------------------------------------------------
    def build(self, sources: Sequence[str | Path], format: str | None = None,
              transform: Callable[[Document], Document] | None = None) -> ChangeReport:
        """Build a fresh index from sources; replaces whatever the directory served.
        `transform` (e.g. de-identification) is applied to every document first, as in `add`."""
        self._tokenizer_name = TOKENIZER_NAME  # a fresh build takes the current BM25 rules
        report = self._load(sources, format)
        docs = _dedupe(report.documents)
        if transform is not None:
            docs = [transform(d) for d in docs]
        if not docs:
            raise EmptyCorpusError(
                "no documents to index: "
                + (f"{len(report.failures)} file(s) failed to load" if report.failures else "the sources are empty")
                + _what_was_not_loaded(report),
                "pass files or folders holding .jsonl/.jsonl.gz, MedQuAD .xml/.tar.gz, PubMedQA/SQuAD .json, "
                ".txt, .md, .html or .pdf documents",
            )
        with self._locked():
            self._check_target()
            start = time.perf_counter()
            # With Ray the model work runs on a cluster first; storing it is the same code below.
            done = None
            if self.ray is not None:
                done = process_with_ray(docs, self.config, self.ray)
            gen = self._new_generation()
            try:
                backend = self._backend(gen, create=True)
                items = done.items if done else self.chunk(docs)
                added, _ = backend.upsert_documents(items)
                passages = [p for _, ps in items for p in ps]
                # Annotations first: a backend that filters in its engine (Milvus) indexes them with the vectors.
                self._annotate_into(backend, docs, passages, done)
                self._embed_into(backend, passages, done)
                backend.refresh(show_progress=self.show_progress)
                backend.save()
                manifest = self._manifest(gen, backend, created_at=None)
                backend.record_build("build", manifest_hash(manifest), {"documents": len(docs)})
                backend.close()
                self._swap(manifest, backend)
            except BaseException:
                shutil.rmtree(gen, ignore_errors=True)
                raise
            return ChangeReport(
                action="build",
                added=tuple(d.doc_id for d in docs),
                failures=tuple(report.failures),
                skipped=tuple(report.skipped),
                chunks_embedded=len(passages),
                chunks_from_cache=self._stats["from_cache"],
                embed_seconds=self._stats["embed_seconds"],
                documents=manifest["counts"]["documents"],
                chunks=manifest["counts"]["chunks"],
                seconds=time.perf_counter() - start,
                manifest=manifest,
            )

    def add(self, sources: Sequence[str | Path], format: str | None = None,
            transform: Callable[[Document], Document] | None = None) -> ChangeReport:
        """Add or update documents without re-embedding unchanged chunks, with the encoder, chunking
        and annotation models the index was built with (manifest.json). Raises IndexMismatchError
        when the writer's config names another encoder, encoder backend, NER model or classifier
        (leave them at their defaults / None to use the index's own)."""
        report = self._load(sources, format)
        docs = _dedupe(report.documents)
        if transform is not None:
            docs = [transform(d) for d in docs]
        with self._locked():
            manifest = read_manifest(self.index_dir)
            self._adopt(manifest)
            start = time.perf_counter()
            current = self.index_dir / manifest["generation"]
            known = self._checksums(current, [d.doc_id for d in docs])
            new = [d for d in docs if d.doc_id not in known]
            changed = [d for d in docs if d.doc_id in known and known[d.doc_id] != d.checksum]
            unchanged = [d for d in docs if d.doc_id in known and known[d.doc_id] == d.checksum]
            if not new and not changed:
                return ChangeReport(
                    action="add", unchanged=tuple(d.doc_id for d in unchanged), failures=tuple(report.failures),
                    skipped=tuple(report.skipped),
                    documents=manifest["counts"]["documents"], chunks=manifest["counts"]["chunks"],
                    seconds=time.perf_counter() - start, manifest=manifest,
                )
            gen = self._copy_generation(current)
            try:
                backend = self._backend(gen, create=False, previous=current.name)
                backend.open(expected_chunks=manifest["counts"]["chunks"], index_dir=self.index_dir)
                items = self.chunk(new + changed)
                added_ids, removed_ids = backend.upsert_documents(items)
                backend.remove(removed_ids)
                by_id = {p.chunk_id: p for _, ps in items for p in ps}
                self._annotate_into(backend, new + changed, [by_id[c] for c in added_ids])
                self._embed_into(backend, [by_id[c] for c in added_ids])
                backend.refresh(show_progress=self.show_progress)
                backend.save()
                new_manifest = self._manifest(gen, backend, created_at=manifest.get("created_at"))
                backend.record_build(
                    "add", manifest_hash(new_manifest),
                    {"added": [d.doc_id for d in new][:1000], "updated": [d.doc_id for d in changed][:1000]},
                )
                backend.close()
                self._swap(new_manifest, backend)
            except BaseException:
                shutil.rmtree(gen, ignore_errors=True)
                raise
            return ChangeReport(
                action="add",
                added=tuple(d.doc_id for d in new),
                updated=tuple(d.doc_id for d in changed),
                unchanged=tuple(d.doc_id for d in unchanged),
                failures=tuple(report.failures),
                skipped=tuple(report.skipped),
                chunks_embedded=len(added_ids),
                chunks_from_cache=self._stats["from_cache"],
                embed_seconds=self._stats["embed_seconds"],
                documents=new_manifest["counts"]["documents"],
                chunks=new_manifest["counts"]["chunks"],
                seconds=time.perf_counter() - start,
                manifest=new_manifest,
            )

    def remove(self, doc_ids: Sequence[str]) -> ChangeReport:
        with self._locked():
            manifest = read_manifest(self.index_dir)
            self._adopt(manifest)
            start = time.perf_counter()
            current = self.index_dir / manifest["generation"]
            known = self._checksums(current, list(doc_ids))
            present = [d for d in doc_ids if d in known]
            missing = tuple(d for d in doc_ids if d not in known)
            if not present:
                return ChangeReport(action="remove", missing=missing, documents=manifest["counts"]["documents"],
                                    chunks=manifest["counts"]["chunks"], manifest=manifest)
            gen = self._copy_generation(current)
            try:
                backend = self._backend(gen, create=False, previous=current.name)
                backend.open(expected_chunks=manifest["counts"]["chunks"], index_dir=self.index_dir)
                removed_chunks = backend.remove_documents(present)
                backend.remove(removed_chunks)
                backend.refresh(show_progress=self.show_progress)
                backend.save()
                new_manifest = self._manifest(gen, backend, created_at=manifest.get("created_at"))
                backend.record_build("remove", manifest_hash(new_manifest), {"removed": present[:1000]})
                backend.close()
                self._swap(new_manifest, backend)
            except BaseException:
                shutil.rmtree(gen, ignore_errors=True)
                raise
            return ChangeReport(
                action="remove", removed=tuple(present), missing=missing,
                documents=new_manifest["counts"]["documents"], chunks=new_manifest["counts"]["chunks"],
                seconds=time.perf_counter() - start, manifest=new_manifest,
            )

    # -- steps -------------------------------------------------------------
    def _load(self, sources: Sequence[str | Path], format: str | None) -> LoadReport:
        missing = [str(s) for s in sources if not Path(s).exists()]
        if missing:
            raise IndexerError(
                f"source not found: {', '.join(missing)}",
                "check the path; sources are files or folders of documents",
            )
        return load_documents(list(sources), format=format)

    def _encoder_ready(self) -> DenseEncoder:
        if self._encoder is None:
            self._encoder = DenseEncoder(self.config.encoder)
            self._encoder.warm_up()
        return self._encoder

    def _spans(self) -> Callable[[str], list[tuple[int, int]]]:
        if self._token_spans is None:
            self._token_spans = token_spans_for(self.config)
        return self._token_spans

    def chunk(self, docs: Sequence[Document]) -> list[tuple[Document, list[Passage]]]:
        """Documents with the passages `build`/`add` would index (no I/O on the index directory)."""
        return chunk_documents(docs, self.config, self._spans(), self.show_progress)

    def _embed_into(self, backend: StoreBackedBackend, passages: Sequence[Passage], done: Any = None) -> None:
        """Embed and add passages; `done` (RayResults) holds vectors computed on Ray.

        `embed_seconds` counts the encoder alone (not model loading, not the backend's writes,
        which on Milvus Lite take longer than embedding a small batch); vectors computed on Ray
        count nothing, as their time overlapped the other stages there (the CLI then prints no rate)."""
        if not passages:
            return
        encoder = self._encoder_ready() if done is None else None
        cache = self._embedding_cache() if done is None else None
        batch = 2048
        bar = tqdm(total=len(passages), desc="embed", unit="chunk", disable=not self.show_progress)
        for i in range(0, len(passages), batch):
            part = passages[i : i + batch]
            if encoder is None:  # computed on Ray
                vectors = np.stack([done.vectors[p.chunk_id] for p in part])
            else:
                start = time.perf_counter()
                vectors, hits = embed_with_cache(encoder, [p.chunk_id for p in part],
                                                 [embedding_text(p) for p in part], cache)
                self._stats["embed_seconds"] += time.perf_counter() - start
                self._stats["from_cache"] += hits
            check_dimension(vectors, backend.dimension)
            backend.add(part, vectors)
            bar.update(len(part))
        bar.close()

    def _embedding_cache(self) -> EmbeddingCache | None:
        path = self.config.encoder.cache
        if not path or not Path(path).is_file():
            return None
        return EmbeddingCache.load(Path(path), encoder_fingerprint(self.config.encoder))

    def _annotate_into(self, backend: StoreBackedBackend, docs: Sequence[Document], passages: Sequence[Passage],
                       done: Any = None) -> None:
        """Store NER mentions of new chunks and categories of new/changed documents."""
        if not self.config.annotate.enabled:
            return
        if done is not None:
            backend.set_annotations(done.mentions, done.categories)
            return
        if self._annotator is None:
            self._annotator = Annotator(self.config.annotate, show_progress=self.show_progress).warm_up()
        backend.set_annotations(self._annotator.entities(passages), self._annotator.categories(docs))

    def _backend(self, gen: Path, create: bool, previous: str | None = None) -> StoreBackedBackend:
        """The configured backend over generation `gen`; `previous` (the live generation) is
        what a backend with data outside the directory (a Milvus server) copies from."""
        backend = make_backend(
            self.config.backend, gen, self._dimension, TOKENIZERS[self._tokenizer_name], self.config.faiss,
            self.config.bm25,
            database_url=self.config.database_url, milvus=self.config.milvus, previous_generation=previous,
        )
        return backend.create() if create else backend

    @property
    def _dimension(self) -> int:
        if self._dim is None:
            self._dim = self._encoder_ready().dimension
        return self._dim

    def _adopt(self, manifest: dict[str, Any]) -> None:
        """Changes to an existing index use the settings it was built with."""
        wanted = self.config.encoder.model
        built = manifest["encoder"]["model"]
        if self._explicit_encoder and encoder_ref(wanted) != encoder_ref(built):
            raise IndexMismatchError(
                f"the index was built with encoder {built!r}, not {wanted!r}",
                f"drop --encoder to use {built!r}, or {rebuild_hint(self.index_dir)} with --encoder {wanted}",
            )
        # Like --encoder: a backend other than the default must be the index's own.
        backend = self.config.encoder.backend
        index_encoder_backend(manifest, backend if backend != EncoderConfig().backend else None, self.index_dir)
        # And annotation models: None adopts the index's own; another one would tag the new
        # documents differently from the old, so entity filters would mean two things.
        asked = self.config.annotate
        check_add_annotators(manifest, asked.ner_model, asked.classifier_model, False, self.index_dir)
        self.config = IndexConfig.from_manifest(manifest)
        self._dim = int(manifest["encoder"]["dimension"])
        self._tokenizer_name, _ = index_tokenizer(manifest, self.index_dir)

    @property
    def _explicit_encoder(self) -> bool:
        return self.config.encoder.model != EncoderConfig().model

    def _checksums(self, gen: Path, doc_ids: list[str]) -> dict[str, str]:
        """Checksums of those documents in the live generation (read only)."""
        backend = self._backend(gen, create=False)
        try:
            return backend.open_catalog().checksums(doc_ids)
        finally:
            backend.close()

    def _manifest(self, gen: Path, backend: StoreBackedBackend, created_at: str | None) -> dict[str, Any]:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        checksums = backend.checksums()
        return {
            "format_version": FORMAT_VERSION,
            "generation": gen.name,
            "created_at": created_at or now,
            "updated_at": now,
            "backend": backend.name,
            "encoder": {
                "model": encoder_ref(self.config.encoder.model),
                "dimension": backend.dimension,
                "max_seq_length": self.config.encoder.max_seq_length,
                "precision": self._encoder_ready().precision if self._encoder else self.config.encoder.precision,
                "backend": self.config.encoder.backend,
                "normalized": True,
                "embedded_text": "title + newline + passage",
            },
            "faiss": asdict(self.config.faiss),
            "bm25": self.config.bm25.to_dict(),
            "tokenizer": self._tokenizer_name,
            "chunking": {
                "max_tokens": self.config.chunking.max_tokens,
                "overlap_tokens": self.config.chunking.overlap_tokens,
                "tokenizer": encoder_ref(self.config.chunk_tokenizer or self.config.encoder.model),
            },
            "database_url": self.config.database_url,
            "annotations": self.config.annotate.to_manifest(),
            "counts": {
                "documents": len(checksums), "chunks": backend.size,
                "entity_mentions": backend.count_mentions(), "categorised_documents": backend.count_categorised(),
            },
            "corpus_checksum": corpus_checksum(checksums),
            **backend.manifest_entry(),
        }

    # -- directory handling --------------------------------------------------
    def _check_target(self) -> None:
        d = self.index_dir
        if d.exists() and not d.is_dir():
            raise IndexerError(f"{d} exists and is not a directory", "choose another --index path")
        if d.is_dir():
            foreign = [p.name for p in d.iterdir()
                       if not (p.name.startswith(GENERATION_PREFIX) or p.name in {"manifest.json", ".lock"}
                               or p.name.startswith(".manifest.json"))]
            if foreign and not (d / "manifest.json").exists():
                raise IndexerError(
                    f"{d} is not empty and is not a clinqa index (found {', '.join(sorted(foreign)[:3])})",
                    "pass an empty or new directory to --index",
                )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.index_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Owner-only like every other file of the index (os.open: the mode applies at creation).
        fd = os.open(self.index_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a+") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexerError(
                    f"another process is changing the index in {self.index_dir}",
                    "wait for it to finish, then run this command again",
                ) from exc
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _new_generation(self) -> Path:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        gen = self.index_dir / f"{GENERATION_PREFIX}{stamp}-{uuid.uuid4().hex[:8]}"
        gen.mkdir(mode=0o700)
        return gen

    def _copy_generation(self, current: Path) -> Path:
        if not current.is_dir():
            raise IndexMismatchError(f"the live generation {current} is missing", rebuild_hint(self.index_dir))
        gen = self._new_generation()
        for item in current.iterdir():
            if item.is_dir():
                shutil.copytree(item, gen / item.name)
            else:
                shutil.copy2(item, gen / item.name)
        return gen

    def _swap(self, manifest: dict[str, Any], backend: StoreBackedBackend) -> None:
        previous = None
        try:
            previous = read_manifest(self.index_dir)["generation"]
        except IndexerError:
            pass
        write_manifest(self.index_dir, manifest)
        keep = {manifest["generation"], previous}
        backend.publish({g for g in keep if g})
        backend.close()
        # Older generations (and debris of killed builds) go; the previous one stays for live readers.
        for p in self.index_dir.iterdir():
            if p.name.startswith(GENERATION_PREFIX) and p.name not in keep:
                shutil.rmtree(p, ignore_errors=True)
        for root, dirs, files in os.walk(self.index_dir / manifest["generation"]):
            for name in files:
                os.chmod(os.path.join(root, name), 0o600)
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o700)


def _what_was_not_loaded(report: LoadReport, limit: int = 10) -> str:
    """Each failed input and skipped document, one per line (at most `limit` of each), so an
    index build that loads nothing says why for every input, as `index add` does."""
    lines = []
    for kind, items in (("failed", report.failures), ("skipped", report.skipped)):
        lines += [f"\n  {kind}: {item}" for item in items[:limit]]
        if len(items) > limit:
            lines.append(f"\n  ... and {len(items) - limit} more {kind}")
    return "".join(lines)


def _dedupe(docs: Sequence[Document]) -> list[Document]:
    """The same doc id twice in one run: the last one wins (as a later file would)."""
    seen: dict[str, Document] = {}
    for d in docs:
        if d.doc_id in seen:
            log.warning("document id %s appears more than once; keeping the last", d.doc_id)
        seen[d.doc_id] = d
    return list(seen.values())
