import pytest

from store import Document, DocumentStore, Passage, StoreConfig, StoreError, chunk_id_for, chunk_key

pytestmark = pytest.mark.unit


def _doc(doc_id: str, text: str, source: str = "test") -> tuple[Document, list[Passage]]:
    doc = Document(doc_id=doc_id, title=f"T {doc_id}", text=text, url=f"https://x/{doc_id}", source=source,
                   license="CC BY 4.0", metadata={"k": 1})
    half = len(text) // 2
    parts = [(0, half), (half, len(text))]
    passages = [
        Passage(chunk_id_for(doc_id, s, text[s:e]), doc_id, i, text[s:e], s, e, doc.title, doc.url, source, doc.license)
        for i, (s, e) in enumerate(parts)
    ]
    return doc, passages


@pytest.fixture()
def store(tmp_path):
    s = DocumentStore(StoreConfig(f"sqlite:///{tmp_path}/t.db")).open(create=True)
    yield s
    s.close()


def test_chunk_ids_are_stable_and_content_derived():
    a = chunk_id_for("d1", 0, "hello")
    assert a == chunk_id_for("d1", 0, "hello")
    assert a != chunk_id_for("d1", 1, "hello") != chunk_id_for("d2", 0, "hello")
    assert len(a) == 15 and 0 < chunk_key(a) < 2**63
    assert f"{chunk_key(a):015x}" == a


def test_upsert_roundtrip_and_offsets(store):
    doc, ps = _doc("d1", "Metformin lowers glucose. It is first line in type 2 diabetes.")
    added, removed = store.upsert([(doc, ps)])
    assert added == [p.chunk_id for p in ps] and removed == []
    got = store.passages([p.chunk_id for p in ps])
    for p in ps:
        assert got[p.chunk_id] == p
        assert doc.text[got[p.chunk_id].start:got[p.chunk_id].end] == p.text
    assert store.passages_by_key([ps[0].key])[ps[0].key] == ps[0]
    back = store.document("d1")
    assert back.text == doc.text and back.metadata == {"k": 1}
    assert store.count_documents() == 1 and store.count_chunks() == 2


def test_changed_document_replaces_chunks(store):
    store.upsert([_doc("d1", "aaaa bbbb")])
    doc2, ps2 = _doc("d1", "aaaa cccc")
    added, removed = store.upsert([(doc2, ps2)])
    # the unchanged first half keeps its chunk id; only the changed half is new
    assert len(added) == 1 and len(removed) == 1
    assert store.count_chunks() == 2
    assert store.checksums() == {"d1": doc2.checksum}


def test_remove_returns_chunk_ids_and_lists(store):
    store.upsert([_doc("d1", "one two three"), _doc("d2", "four five six", source="other")])
    info = {i.doc_id: i for i in store.list_documents()}
    assert info["d1"].num_chunks == 2 and info["d2"].source == "other"
    assert store.sources() == ["other", "test"]
    removed = store.remove(["d1", "nope"])
    assert len(removed) == 2
    assert store.count_documents() == 1 and store.existing(["d1", "d2"]) == {"d2"}


def test_build_log(store):
    store.record_build("build", "abc", {"documents": 3})
    assert store.builds()[0]["action"] == "build" and store.builds()[0]["details"] == {"documents": 3}


def test_bad_url_is_actionable():
    with pytest.raises(StoreError) as err:
        StoreConfig("not a url")
    assert "sqlite:///" in err.value.hint


def test_bm25_statistics_change_with_adds_and_removes(store):
    """The Milvus backend's BM25 statistics (issue 17): ids are assigned once and kept; document
    frequencies and totals follow every change in one transaction; a clear starts over."""
    assert store.has_bm25_stats and store.bm25_stats() == {"docs": 0.0, "length": 0.0, "ref_min": 0.0, "ref_max": 0.0}
    ids = store.bm25_update({"il-6": 2, "covid": 1}, {}, docs=2, length=30, ref=15.0)
    assert sorted(ids.values()) == [1, 2]
    more = store.bm25_update({"covid": 1, "sepsis": 1}, {ids["il-6"]: 1}, docs=0, length=4, ref=16.0)
    assert more["covid"] == ids["covid"] and more["sepsis"] == 3  # existing ids kept, new ones next
    assert store.bm25_terms(["il-6", "covid", "sepsis", "nope"]) == {
        "il-6": (ids["il-6"], 1), "covid": (ids["covid"], 2), "sepsis": (3, 1)}
    assert store.bm25_stats() == {"docs": 2.0, "length": 34.0, "ref_min": 15.0, "ref_max": 16.0}
    store.bm25_update({}, {ids["il-6"]: 1, 3: 1}, docs=-1, length=-10)
    assert store.bm25_terms(["il-6", "sepsis"]) == {"il-6": (ids["il-6"], 0), "sepsis": (3, 0)}
    store.bm25_clear()
    assert store.bm25_terms(["covid"]) == {} and store.bm25_stats()["docs"] == 0.0
