"""Ray for the batch work of an index build: chunk -> embed -> NER over passages, classify over
documents, as Ray Data `map_batches` stages on actor pools (each model loaded once per actor).

The stages call the same code as a single-process build (`IndexWriter.chunk`,
`DenseEncoder.encode`, `Annotator`), and the writer stores the results in the same order
through the same backend calls, so the index is the same (vectors may differ in the last
float bits, as sentence-transformers batches texts differently; top-10 results agree).

`ray_session` starts a local Ray (no dashboard, a private temp dir, usage stats off) unless an
address is given, and always shuts down what it started.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from indexer.annotate import Annotator
from indexer.dense import DenseEncoder
from indexer.errors import IndexerError
from indexer.passages import chunk_documents, embedding_text, token_spans_for
from store import Category, Document, Mention, Passage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RayConfig:
    """address: a running Ray cluster (`ray://host:10001` or `host:6379`); None = start a local
    Ray for this run. num_cpus: CPUs of that local Ray (None: all). actors: actor-pool size per
    model stage. batch_size: rows per `map_batches` call."""

    address: str | None = None
    num_cpus: int | None = None
    actors: int = 2
    batch_size: int = 64

    def __post_init__(self) -> None:
        if self.actors < 1 or self.batch_size < 1:
            raise IndexerError(f"invalid Ray settings: actors={self.actors}, batch_size={self.batch_size}",
                               "use at least one actor and a batch size of at least 1")


@contextmanager
def ray_session(config: RayConfig) -> Iterator[Any]:
    """Ray initialised for the duration of the block; shut down afterwards if we started it."""
    # Offline and private: no usage report, no auth token written under $HOME.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise IndexerError("--ray needs Ray Data", 'pip install "ray[data]"') from exc
    if ray.is_initialized():
        yield ray
        return
    temp = None
    try:
        if config.address:
            ray.init(address=config.address, include_dashboard=False, log_to_driver=False)
        else:
            # Unix socket paths must stay short: a private folder directly under /tmp.
            temp = tempfile.mkdtemp(prefix="clinqa-ray-", dir="/tmp" if os.path.isdir("/tmp") else None)
            ray.init(num_cpus=config.num_cpus, include_dashboard=False, _temp_dir=temp, log_to_driver=False,
                     _node_ip_address="127.0.0.1",  # a local Ray listens on loopback only
                     configure_logging=False)
    except Exception as exc:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
        raise IndexerError(f"cannot start or reach Ray ({config.address or 'local'}): {exc}",
                           "check --ray-address (ray://host:10001 or host:6379), or drop it to start a local Ray") from exc
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        yield ray
    finally:
        ray.shutdown()
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


# -- stages (callable classes: Ray builds one per actor, so models load once per actor) --------
def _docs_of(batch: dict[str, np.ndarray]) -> list[Document]:
    return [Document(d, t, x, url=u or None, source=s, license=lic or None, metadata=json.loads(m))
            for d, t, x, u, s, lic, m in zip(batch["doc_id"], batch["title"], batch["text"], batch["url"],
                                              batch["source"], batch["license"], batch["metadata"])]


class ChunkStage:
    """Documents -> passages (the writer's own chunker and word-piece tokenizer)."""

    def __init__(self, index_config: Any) -> None:
        self.config = index_config
        self.spans = token_spans_for(index_config)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        out: dict[str, list] = {k: [] for k in ("chunk_id", "doc_id", "order", "text", "start", "end", "title", "source")}
        for _doc, passages in chunk_documents(_docs_of(batch), self.config, self.spans):
            for p in passages:
                for k in out:
                    out[k].append(getattr(p, k))
        return out


def _passages_of(batch: dict[str, np.ndarray]) -> list[Passage]:
    return [Passage(c, d, int(o), t, int(s), int(e), title=ti, source=so)
            for c, d, o, t, s, e, ti, so in zip(batch["chunk_id"], batch["doc_id"], batch["order"], batch["text"],
                                                 batch["start"], batch["end"], batch["title"], batch["source"])]


class EmbedStage:
    """Passages -> + "vector" (float32, L2-normalised), the index's encoder."""

    def __init__(self, encoder_config: Any) -> None:
        self.encoder = DenseEncoder(encoder_config)
        self.encoder.warm_up()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        batch = dict(batch)
        batch["vector"] = self.encoder.encode([embedding_text(p) for p in _passages_of(batch)])
        return batch


class TagStage:
    """Passages -> + "mentions" (JSON list of [start, end, label, text, score]) from the NER model."""

    def __init__(self, annotate_config: Any) -> None:
        self.annotator = Annotator(annotate_config, show_progress=False).warm_up() if annotate_config.enabled else None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        batch = dict(batch)
        found = self.annotator.entities(_passages_of(batch)) if self.annotator else {}
        batch["mentions"] = np.asarray([json.dumps([[m.start, m.end, m.label, m.text, m.score] for m in found.get(c, [])])
                                        for c in batch["chunk_id"]], dtype=object)
        return batch


class ClassifyStage:
    """Documents -> (doc_id, category JSON or "") from the classifier."""

    def __init__(self, annotate_config: Any) -> None:
        self.annotator = Annotator(annotate_config, show_progress=False).warm_up() if annotate_config.enabled else None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        cats = self.annotator.categories(_docs_of(batch)) if self.annotator else {}
        return {"doc_id": list(batch["doc_id"]),
                "category": [json.dumps(asdict(cats[d])) if d in cats else "" for d in batch["doc_id"]]}


@dataclass
class RayResults:
    """What the stages produced, keyed like the single-process build uses it."""

    items: list[tuple[Document, list[Passage]]]
    vectors: dict[str, np.ndarray]
    mentions: dict[str, list[Mention]]
    categories: dict[str, Category]


def process_with_ray(docs: Sequence[Document], index_config: Any, config: RayConfig) -> RayResults:
    """Chunk, embed, tag and classify `docs` on Ray; returns results in the documents' order."""
    rows = [{"doc_id": d.doc_id, "title": d.title, "text": d.text, "url": d.url or "", "source": d.source,
             "license": d.license or "", "metadata": json.dumps(d.metadata, default=str)} for d in docs]
    pool = config.actors
    # Without annotation (--no-annotate) the NER and classify stages are not scheduled at all:
    # no actors started, no second pass over the documents.
    annotate = index_config.annotate.enabled
    with ray_session(config) as ray:
        ds = ray.data.from_items(rows)
        stages = (
            ds.map_batches(ChunkStage, fn_constructor_kwargs={"index_config": index_config}, compute=ray.data.ActorPoolStrategy(size=1),
                           batch_size=config.batch_size, batch_format="numpy")
            .map_batches(EmbedStage, fn_constructor_kwargs={"encoder_config": index_config.encoder},
                         compute=ray.data.ActorPoolStrategy(size=pool), batch_size=config.batch_size, batch_format="numpy")
        )
        if annotate:
            stages = stages.map_batches(TagStage, fn_constructor_kwargs={"annotate_config": index_config.annotate},
                                        compute=ray.data.ActorPoolStrategy(size=pool), batch_size=config.batch_size,
                                        batch_format="numpy")
        passages = stages.take_all()
        categories = ds.map_batches(ClassifyStage, fn_constructor_kwargs={"annotate_config": index_config.annotate},
                                    compute=ray.data.ActorPoolStrategy(size=pool), batch_size=config.batch_size,
                                    batch_format="numpy").take_all() if annotate else []
    by_doc: dict[str, list[Passage]] = {}
    vectors: dict[str, np.ndarray] = {}
    mentions: dict[str, list[Mention]] = {}
    for r in passages:
        p = Passage(r["chunk_id"], r["doc_id"], int(r["order"]), r["text"], int(r["start"]), int(r["end"]),
                    title=r["title"], source=r["source"])
        by_doc.setdefault(p.doc_id, []).append(p)
        vectors[p.chunk_id] = np.asarray(r["vector"], dtype=np.float32)
        found = [Mention(int(s), int(e), lab, txt, float(sc)) for s, e, lab, txt, sc in json.loads(r.get("mentions") or "[]")]
        if found:
            mentions[p.chunk_id] = found
    items = [(d, sorted(by_doc.get(d.doc_id, []), key=lambda p: p.order)) for d in docs]
    cats = {r["doc_id"]: Category(**json.loads(r["category"])) for r in categories if r["category"]}
    return RayResults(items, vectors, mentions, cats)
