"""The Milvus backend end to end: `index build/add/remove --backend milvus`, the same results as
the local backend, atomic generations, refusals with hints, and its pure helpers."""
from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pytest

from indexer import bm25stats
from indexer.backends import make_backend
from indexer.bm25 import BM25Config, TermIndex
from indexer.dense import FaissConfig
from indexer.errors import IndexerError
from indexer.loaded import open_index
from indexer.manifest import IndexMismatchError, read_manifest
from indexer.milvus import MilvusConfig, entity_terms, milvus_filter
from indexer.tokenize import tokenize
from indexer.writer import IndexConfig, IndexWriter
from retriever import SearchFilter
from store import Mention
from test_index import DOCS, retriever_for, write_jsonl
from ui.cli import main

QUERIES = ["What causes COVID-19?", "IL-6 in severe disease", "first-line drug for type 2 diabetes",
           "optic nerve damage", "lactic acidosis kidney failure", "SARS-CoV-2 dexamethasone oxygen"]


# -- pure helpers ---------------------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize("method", bm25stats.SUPPORTED_METHODS)
def test_own_bm25_statistics_give_bm25s_scores(method):
    """The Milvus backend's BM25 (our statistics, weights at a reference length, exact rescoring)
    computes bm25s's scores for every offered method, whatever reference length a row used."""
    texts = ["glaucoma glaucoma optic nerve damage", "optic neuritis", "type 2 diabetes metformin metformin metformin",
             "glaucoma " * 40 + "pressure", "diabetes"]
    tokens = [t.split() for t in texts]
    cfg = BM25Config(method=method)
    local = TermIndex(cfg)
    local.build([str(i) for i in range(len(texts))], tokens)
    n, avgdl = len(texts), sum(map(len, tokens)) / len(texts)
    for query in (["glaucoma"], ["optic", "glaucoma", "glaucoma"], ["metformin", "diabetes"]):
        want = local.scores(query)
        for i, toks in enumerate(tokens):
            score, matched = 0.0, False
            for t in query:
                tf, df = toks.count(t), sum(t in x for x in tokens)
                qw = bm25stats.idf(method, df, n)
                score += qw * bm25stats.baseline(method, cfg.k1)
                if tf:
                    matched = True
                    for ref in (avgdl, avgdl * 0.37, avgdl * 5.0):  # any reference length gives tf back
                        stored = float(np.float32(bm25stats.weight(method, tf, len(toks), ref, cfg.k1, cfg.b)))
                        assert bm25stats.frequency(method, stored, len(toks), ref, cfg.k1, cfg.b) == tf
                        exact = bm25stats.weight(method, tf, len(toks), avgdl, cfg.k1, cfg.b)
                        lo, hi = bm25stats.ratio_bounds(avgdl, ref, ref, cfg.k1, cfg.b)
                        assert lo * stored * (1 - 1e-6) <= exact <= hi * stored * (1 + 1e-6)
                    score += qw * exact
            if matched:
                assert score == pytest.approx(float(want[i]), rel=1e-5), (query, i)
    assert bm25stats.term_key("il-6") == "il-6" and bm25stats.term_key("x" * 300).startswith("#")


@pytest.mark.unit
def test_entity_terms_are_the_whole_word_sequences():
    terms = entity_terms([Mention(0, 5, "Chemical", "Metformin  Hydrochloride"), Mention(0, 5, "Disease", "type 2 diabetes")])
    assert {"metformin hydrochloride", "metformin", "hydrochloride", "type 2 diabetes", "type 2", "2 diabetes",
            "diabetes", "type", "2"} == set(terms)
    assert "metform" not in terms and "type diabetes" not in terms


@pytest.mark.unit
def test_milvus_filter_expressions_are_quoted():
    assert milvus_filter(None) == "" and milvus_filter(SearchFilter()) == ""
    expr = milvus_filter(SearchFilter(sources=("a", 'b"c'), categories=("C14",), entities=("Metformin", "x\\y")))
    assert expr == ('source in ["a", "b\\"c"] and category in ["C14"] and array_contains(entity_terms, "metformin") '
                    'and array_contains(entity_terms, "x\\\\y")')


@pytest.mark.unit
def test_milvus_config_validates_prefix():
    assert MilvusConfig(uri="http://h:19530").is_server and not MilvusConfig(uri="/x/m.db").is_server
    with pytest.raises(IndexerError):
        MilvusConfig(prefix="bad-name")


# -- end to end -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("milvus")
    src = write_jsonl(root / "docs.jsonl", DOCS)
    IndexWriter(root / "local", show_progress=False).build([src])
    IndexWriter(root / "milvus", IndexConfig(backend="milvus"), show_progress=False).build([src])
    return root


@pytest.mark.integration
def test_manifest_names_the_backend_and_lite_lives_in_the_generation(pair):
    m = read_manifest(pair / "milvus")
    assert m["backend"] == "milvus" and m["milvus"] == {"uri": None, "prefix": "clinqa", "collection": "passages"}
    assert (pair / "milvus" / m["generation"] / "milvus.db").is_dir()
    assert not (pair / "milvus" / m["generation"] / "dense.faiss").exists()
    assert read_manifest(pair / "local")["backend"] == "faiss+bm25s"


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_same_results_as_local(pair, mode):
    local, rl = retriever_for(pair / "local", mode)
    milvus, rm = retriever_for(pair / "milvus", mode)
    try:
        for q in QUERIES:
            a, b = rl.search(q), rm.search(q)
            assert [h.passage.chunk_id for h in a] == [h.passage.chunk_id for h in b], q
            # The same scores: exact inner product, and bm25s's BM25 from our own statistics (issue 17).
            assert [h.score for h in a] == pytest.approx([h.score for h in b], rel=1e-4, abs=1e-5), q
    finally:
        local.close()
        milvus.close()


@pytest.mark.integration
def test_add_remove_and_atomic_failure(tmp_path, monkeypatch, pair):
    src = write_jsonl(tmp_path / "a.jsonl", DOCS[:2])
    index = tmp_path / "index"
    IndexWriter(index, IndexConfig(backend="milvus"), show_progress=False).build([src])
    more = write_jsonl(tmp_path / "b.jsonl", DOCS[2:])
    report = IndexWriter(index, show_progress=False).add([more])  # backend from the manifest
    assert report.added == ("covid",) and report.chunks == read_manifest(index)["counts"]["chunks"]
    loaded, r = retriever_for(index, "bm25")
    assert r.search("SARS-CoV-2")[0].passage.doc_id == "covid"
    # Issue 17: the added document scores as in a fresh build of the same documents (it scored ~10x lower).
    fresh = open_index(pair / "milvus")
    try:
        for q in ["SARS-CoV-2", "dexamethasone", "IL-6 glaucoma metformin", "patients"]:
            got, want = loaded.backend.search_text(q, 10), fresh.backend.search_text(q, 10)
            assert [c for c, _ in got] == [c for c, _ in want] and got, q
            assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-6), q
    finally:
        fresh.close()
    loaded.close()
    before = read_manifest(index)["generation"]

    def boom(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr("indexer.milvus.MilvusBackend.refresh", boom)
    with pytest.raises(RuntimeError):
        IndexWriter(index, show_progress=False).remove(["covid"])
    monkeypatch.undo()
    assert read_manifest(index)["generation"] == before  # the old generation still serves
    loaded, r = retriever_for(index, "bm25")
    assert r.search("SARS-CoV-2")[0].passage.doc_id == "covid"
    loaded.close()
    assert IndexWriter(index, show_progress=False).remove(["covid"]).removed == ("covid",)
    loaded, r = retriever_for(index, "bm25")
    assert all(h.passage.doc_id != "covid" for h in r.search("SARS-CoV-2 COVID-19"))
    assert loaded.backend.size == read_manifest(index)["counts"]["chunks"]
    loaded.close()


@pytest.mark.integration
def test_shared_uri_keeps_a_collection_per_generation(tmp_path):
    """The server layout on a Lite file: add copies the live collection, publish drops old ones."""
    uri = str(tmp_path / "shared" / "m.db")
    index = tmp_path / "index"
    IndexWriter(index, IndexConfig(backend="milvus", milvus=MilvusConfig(uri=uri, prefix="t1")),
                show_progress=False).build([write_jsonl(tmp_path / "a.jsonl", DOCS[:2])])
    for i, doc in enumerate(DOCS[2:]):
        IndexWriter(index, show_progress=False).add([write_jsonl(tmp_path / f"b{i}.jsonl", [doc])])
    IndexWriter(index, show_progress=False).remove(["glaucoma"])
    m = read_manifest(index)
    assert m["milvus"]["uri"] == uri and m["milvus"]["collection"].startswith("t1_gen_")
    loaded = open_index(index)
    try:
        assert loaded.backend.size == m["counts"]["chunks"] and loaded.backend.existing(["glaucoma"]) == set()
        from pymilvus import MilvusClient  # noqa: PLC0415 - only to look inside

        names = set(loaded.backend._connect().list_collections())
        assert m["milvus"]["collection"] in names and len([n for n in names if n.startswith("t1_gen_")]) == 2
    finally:
        loaded.close()


@pytest.mark.integration
def test_fresh_build_over_many_segments_scores_like_local(tmp_path, monkeypatch):
    """Milvus Lite seals a segment whenever its memtable fills (128 MB, ~20k passages): a large fresh
    build was scored per segment too. Here every write seals one; BM25 must still equal bm25s's."""
    import milvus_lite.engine.collection as lite

    from backend_conformance import BM25_QUERIES, DIM, DOCS as CDOCS, NEW_DOCS, passage_of, vector_of

    monkeypatch.setattr(lite, "MEMTABLE_MEMORY_LIMIT", 1)  # flush after every write
    docs = CDOCS + NEW_DOCS
    backends = {}
    for kind in ("local", "milvus"):
        b = make_backend(kind, tmp_path / kind, DIM, tokenize, FaissConfig(), BM25Config()).create()
        b.upsert_documents([(d, [passage_of(d)]) for d in docs])
        for d in docs:  # one write (one Lite segment) per passage
            b.add([passage_of(d)], vector_of(passage_of(d).chunk_id)[None, :])
        b.refresh()
        b.save()
        backends[kind] = b
    try:
        data = tmp_path / "milvus" / "milvus.db" / "collections" / "passages" / "partitions" / "_default" / "data"
        assert len(list(data.glob("*.parquet"))) >= 2  # several segments (Lite compacts some of them)
        for q in BM25_QUERIES:
            want, got = backends["local"].search_text(q, 10), backends["milvus"].search_text(q, 10)
            assert [c for c, _ in got] == [c for c, _ in want], q
            assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-5), q
    finally:
        for b in backends.values():
            b.close()


@pytest.mark.integration
def test_mismatches_are_refused_with_hints(pair, tmp_path):
    # An index built before issue 17 (Milvus' BM25 function, no statistics of ours) must be rebuilt.
    old = tmp_path / "old"
    shutil.copytree(pair / "milvus", old)
    with sqlite3.connect(old / read_manifest(old)["generation"] / "clinqa.db") as db:
        db.execute("DROP TABLE bm25_stats")
    with pytest.raises(IndexMismatchError) as err:
        open_index(old)
    assert "older clinqa" in err.value.message and "--backend milvus" in err.value.hint
    broken = tmp_path / "broken"
    shutil.copytree(pair / "milvus", broken)
    m = read_manifest(broken)
    shutil.rmtree(broken / m["generation"] / "milvus.db")
    with pytest.raises(IndexMismatchError) as err:
        open_index(broken)
    assert "--backend milvus" in err.value.hint
    # A shared URI whose collection is gone.
    m["milvus"] = {"uri": str(tmp_path / "empty.db"), "prefix": "clinqa", "collection": "x"}
    (broken / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexMismatchError) as err:
        open_index(broken)
    assert "no collection" in err.value.message and "rebuild" in err.value.hint
    # Nothing listens on port 1 of this machine.
    m["milvus"] = {"uri": "http://127.0.0.1:1", "prefix": "clinqa"}
    (broken / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexerError) as err:
        open_index(broken)
    assert "CLINQA_MILVUS_TOKEN" in err.value.hint


@pytest.mark.integration
def test_cli_build_backend_milvus(tmp_path, capsys, pair):
    src = write_jsonl(tmp_path / "docs.jsonl", DOCS)
    assert main(["-q", "index", "build", "--index", str(tmp_path / "i"), "--backend", "milvus", "--no-annotate",
                 "--json", str(src)]) == 0
    capsys.readouterr()
    assert read_manifest(tmp_path / "i")["backend"] == "milvus"
    for index in (tmp_path / "i", pair / "local"):
        assert main(["search", "--index", str(index), "--json", "IL-6 levels"]) == 0
    milvus_out, local_out = capsys.readouterr().out.strip().splitlines()
    ids = lambda line: [h["chunk_id"] for h in json.loads(line)["hits"]]  # noqa: E731
    assert ids(milvus_out) == ids(local_out) and ids(milvus_out)
    assert main(["index", "info", "--index", str(tmp_path / "i"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sources"] == sorted({d.get("source", "") for d in DOCS})


@pytest.mark.integration
def test_a_lite_database_held_by_another_process_is_searched_through_a_snapshot(pair, tmp_path):
    """Milvus Lite admits one process per database: a second reader (a shell next to
    `clinqa serve`) searches a private copy of the never-written live generation; a writer is
    not needed: writers change a copy. Closing releases the database for other processes."""
    import os
    import subprocess
    import sys

    code = ("import sys; from indexer.loaded import open_index; i = open_index(sys.argv[1]); "
            "print(bool(i.backend._snapshot), i.backend.search_text('glaucoma', 1)[0][0]); i.close()")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def other_process() -> list[str]:
        out = subprocess.run([sys.executable, "-c", code, str(index)], capture_output=True, text=True,
                             env=env, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout.split()

    index = tmp_path / "index"
    shutil.copytree(pair / "milvus", index)
    held = open_index(index)
    try:
        expected = held.backend.search_text("glaucoma", 1)[0][0]
        assert other_process() == ["True", expected]
        # A writer in another process changes a copy of the held generation: no conflict.
        extra = {"id": "gout", "title": "Gout", "source": "demo", "text": "Gout is caused by urate crystals."}
        add = subprocess.run([sys.executable, "-m", "ui.cli", "-q", "index", "add", "--index", str(index),
                              "--no-annotate", str(write_jsonl(tmp_path / "x.jsonl", [extra]))],
                             capture_output=True, text=True, env=env, timeout=300)
        assert add.returncode == 0, add.stderr[-2000:]
        assert held.backend.existing(["gout"]) == set()  # the reader keeps its generation
    finally:
        held.close()
    assert other_process() == ["False", expected]  # released on close (and the add published a new generation)
    assert read_manifest(index)["counts"]["documents"] == len(DOCS) + 1
