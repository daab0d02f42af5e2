"""Ray: an index built with --ray equals the single-process build; batch questions on Ray give
the single-process answers in order. One local Ray (2 CPUs) for the module; slow (~1-2 min)."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from indexer.annotate import AnnotateConfig
from indexer.distributed import RayConfig, ray_session
from indexer.loaded import open_index
from indexer.writer import IndexConfig, IndexWriter
from pipeline.batch import run_questions
from pipeline.engine import EngineConfig, QAEngine
from retriever import RetrieverConfig
from tasks.testing import make_tiny_base, make_tiny_sequence_classifier, make_tiny_token_classifier
from test_index import DOCS, write_jsonl
from ui.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.integration]

MORE = [{"id": f"extra{i}", "title": f"Note {i}", "source": "extra",
         "text": f"Patient {i} with type 2 diabetes started metformin; IL-6 was {i}.{i} pg/mL. " * (1 + i % 3)}
        for i in range(12)]
QUERIES = ["IL-6 in severe COVID-19", "metformin lactic acidosis", "glaucoma optic nerve", "diabetes first-line drug",
           "SARS-CoV-2 dexamethasone"]


@pytest.fixture(scope="module")
def ray_local():
    with ray_session(RayConfig(num_cpus=2)) as ray:
        yield ray
    assert not ray.is_initialized()  # always shut down


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory, ray_local):
    root = tmp_path_factory.mktemp("ray")
    base = make_tiny_base(root / "base")
    cfg = IndexConfig(annotate=AnnotateConfig(
        ner_model=str(make_tiny_token_classifier(root / "ner", base=base)),
        classifier_model=str(make_tiny_sequence_classifier(root / "cls", labels=("C14", "C18"), base=base))))
    src = write_jsonl(root / "docs.jsonl", DOCS + MORE)
    IndexWriter(root / "single", cfg, show_progress=False).build([src])
    IndexWriter(root / "ray", cfg, show_progress=False, ray=RayConfig(actors=1, batch_size=4)).build([src])
    IndexWriter(root / "ray-milvus", replace(cfg, backend="milvus"), show_progress=False,
                ray=RayConfig(actors=1)).build([src])
    return root


def test_ray_build_into_milvus(two_builds):
    single, milvus = open_index(two_builds / "single"), open_index(two_builds / "ray-milvus")
    try:
        assert milvus.manifest["backend"] == "milvus" and milvus.manifest["counts"] == single.manifest["counts"]
        for q in QUERIES:  # same BM25 scores; exact ties (templated notes): local orders by row, Milvus by chunk id
            a = [c for c, _ in single.backend.search_text(q, 10)]
            b = [c for c, _ in milvus.backend.search_text(q, 10)]
            assert a[0] == b[0] and len(a) == len(b) and len(set(a) & set(b)) >= min(8, len(a)), q
    finally:
        single.close()
        milvus.close()


def test_ray_build_equals_single_process(two_builds):
    single, ray = open_index(two_builds / "single"), open_index(two_builds / "ray")
    try:
        a, b = single.manifest, ray.manifest
        assert a["counts"] == b["counts"] and a["corpus_checksum"] == b["corpus_checksum"]
        ids = [c for c, _ in single.backend.search_text("diabetes metformin IL-6 glaucoma covid", 100)]
        pa, pb = single.backend.passages(ids), ray.backend.passages(ids)
        assert pa == pb  # same passages, offsets, entity mentions and categories
        assert b["counts"]["categorised_documents"] == len(DOCS + MORE)
        va, vb = single.backend.vectors.index, ray.backend.vectors.index
        keys = [pa[c].key for c in ids]
        # Same encoder, other batches: bf16 CPUs round differently per batch (cosine > 0.9999 documented).
        cos = np.sum(np.stack([va.reconstruct(k) for k in keys]) * np.stack([vb.reconstruct(k) for k in keys]), axis=1)
        assert cos.min() > 0.9995
        for k in keys[:5]:  # the same dense top-10 from either index
            v = va.reconstruct(k)
            assert [c for c, _ in single.backend.search_vector(v, 10)] == [c for c, _ in ray.backend.search_vector(v, 10)]
    finally:
        single.close()
        ray.close()


def test_ray_batch_questions_equal_single_process(two_builds, tmp_path, capsys):
    index = two_builds / "ray"
    queries = write_jsonl(tmp_path / "q.jsonl", [{"id": f"q{i}", "question": q} for i, q in enumerate(QUERIES)])
    for extra in ([], ["--ray", "--ray-actors", "1"]):
        assert main(["search", "--index", str(index), "--queries", str(queries), "--top-k", "10", *extra]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    plain, on_ray = [json.loads(x) for x in lines[:len(QUERIES)]], [json.loads(x) for x in lines[len(QUERIES):]]
    assert [r["id"] for r in on_ray] == [f"q{i}" for i in range(len(QUERIES))]
    assert [[h["chunk_id"] for h in r["hits"]] for r in plain] == [[h["chunk_id"] for h in r["hits"]] for r in on_ray]
    # ask (reader included), through the library call `eval e2e --ray` uses.
    config = EngineConfig(index_dir=index, retriever=RetrieverConfig(top_k=3))
    engine = QAEngine(config)
    try:
        expected = [engine.ask(q) for q in QUERIES[:2]]
    finally:
        engine.close()
    got = run_questions(config, QUERIES[:2], "ask", {}, RayConfig(actors=1))
    assert [[a.answer.text for a in r.answers] for r in got] == [[a.answer.text for a in r.answers] for r in expected]
    assert [dict(h.ranks) for h in got[0].hits] == [dict(h.ranks) for h in expected[0].hits]


def test_ray_needs_queries(two_builds, capsys):
    assert main(["search", "--index", str(two_builds / "ray"), "--ray", "glaucoma"]) == 1
    assert "--queries" in capsys.readouterr().err
