"""Issue 17, found next to the Milvus BM25 fault: `--ray --no-annotate` must not schedule the NER and
classify stages, and the "passages per second" rate must count the encoder alone (not the backend's
writes, which on Milvus Lite outlast embedding a small batch, nor Ray's work, which overlaps other stages).
Both without starting Ray or loading a model."""
from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np
import pytest

from indexer import distributed
from indexer.annotate import AnnotateConfig
from indexer.distributed import RayConfig, RayResults, process_with_ray
from indexer.writer import IndexConfig, IndexWriter
from store import Document, Passage


class _FakeDataset:
    """Records which stages are scheduled; `take_all` returns canned rows."""

    def __init__(self, log: list[str], rows: list[dict]) -> None:
        self.log, self.rows = log, rows

    def map_batches(self, fn, **_kwargs):
        self.log.append(fn.__name__)
        return self

    def take_all(self):
        return self.rows


def _fake_ray(log: list[str], rows: list[dict]):
    class Data:
        @staticmethod
        def from_items(_items):
            return _FakeDataset(log, rows)

        @staticmethod
        def ActorPoolStrategy(size):  # noqa: N802 - Ray's name
            return size

    class Ray:
        data = Data

    @contextmanager
    def session(_config):
        yield Ray

    return session


@pytest.mark.unit
@pytest.mark.parametrize("annotate", [False, True])
def test_ray_schedules_ner_and_classify_only_when_annotating(monkeypatch, annotate):
    log: list[str] = []
    row = {"chunk_id": "0" * 15, "doc_id": "a", "order": 0, "text": "Aspirin lowers fever.", "start": 0, "end": 21,
           "title": "", "source": "", "vector": np.ones(4, np.float32), "mentions": "[]", "category": ""}
    monkeypatch.setattr(distributed, "ray_session", _fake_ray(log, [row]))
    cfg = IndexConfig(annotate=AnnotateConfig(ner_model="NER", classifier_model="CLS") if annotate else AnnotateConfig())
    out = process_with_ray([Document("a", "", "Aspirin lowers fever.")], cfg, RayConfig())
    expected = ["ChunkStage", "EmbedStage"] + (["TagStage", "ClassifyStage"] if annotate else [])
    assert log == expected
    assert [p.chunk_id for _, ps in out.items for p in ps] == ["0" * 15] and out.mentions == {} and out.categories == {}


class _SlowBackend:
    dimension = 4

    def add(self, passages, vectors):
        time.sleep(0.2)  # a Milvus Lite insert


class _FastEncoder:
    dimension = 4

    def encode(self, texts):
        return np.ones((len(texts), 4), np.float32)


@pytest.mark.unit
def test_embedding_rate_counts_the_encoder_only(monkeypatch):
    passages = [Passage(f"{i:015x}", "a", i, f"text {i}", 0, 6) for i in range(3)]
    writer = IndexWriter("/nonexistent", show_progress=False)
    monkeypatch.setattr(writer, "_encoder_ready", lambda: _FastEncoder())
    monkeypatch.setattr(writer, "_embedding_cache", lambda: None)
    writer._embed_into(_SlowBackend(), passages)
    assert 0 < writer._stats["embed_seconds"] < 0.1  # not the 0.2 s the backend took
    on_ray = IndexWriter("/nonexistent", show_progress=False)
    done = RayResults([], {p.chunk_id: np.ones(4, np.float32) for p in passages}, {}, {})
    on_ray._embed_into(_SlowBackend(), passages, done)
    assert on_ray._stats["embed_seconds"] == 0.0  # embedded on Ray: no rate is claimed
