"""The search-backend conformance suite (Haystack-style): one set of tests every backend passes.

`tests/test_backend_conformance.py` runs it on the local backend and on Milvus Lite, and on a
Milvus server when `CLINQA_MILVUS_URI` is set. The tests talk only to the contract in
`retriever/backend.py`, with a tiny corpus, hand-made annotations and deterministic
vectors (no models), so they are fast and exact.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from indexer.backends import make_backend
from indexer.bm25 import BM25Config
from indexer.dense import FaissConfig
from indexer.errors import IndexerError
from indexer.tokenize import tokenize
from retriever.backend import SearchBackend
from retriever.types import SearchFilter
from store import Category, Document, Mention, Passage, chunk_id_for

DIM = 16

DOCS = [
    Document("il6", "Cytokines", "Interleukin IL-6 levels rise in severe disease and predict ventilation.", source="pubmed"),
    Document("sars", "Coronavirus", "COVID-19 is caused by SARS-CoV-2, a betacoronavirus.", source="pubmed"),
    Document("beta", "Heart failure", "A β-blocker such as metoprolol lowers mortality in heart failure.", source="medquad"),
    Document("metformin", "Diabetes", "Metformin hydrochloride is first-line for type 2 diabetes; lactic acidosis is rare.",
             source="medquad"),
    Document("glaucoma", "Glaucoma", "Glaucoma damages the optic nerve; intraocular pressure is the main risk factor.",
             source="gard"),
    Document("insulin", "Insulin", "Insulin therapy in type 2 diabetes can cause hypoglycemia and weight gain.",
             source="gard"),
]
MENTIONS = {
    "il6": [("Interleukin IL-6", "Chemical")],
    "beta": [("metoprolol", "Chemical"), ("heart failure", "Disease")],
    "metformin": [("Metformin hydrochloride", "Chemical"), ("type 2 diabetes", "Disease"), ("lactic acidosis", "Disease")],
    "insulin": [("Insulin", "Chemical"), ("type 2 diabetes", "Disease"), ("hypoglycemia", "Disease")],
    "glaucoma": [("Glaucoma", "Disease")],
}
CATEGORIES = {"il6": "C01", "sars": "C01", "beta": "C14", "metformin": "C18", "insulin": "C18", "glaucoma": "C11"}


def passage_of(doc: Document) -> Passage:
    return Passage(chunk_id_for(doc.doc_id, 0, doc.text), doc.doc_id, 0, doc.text, 0, len(doc.text),
                   title=doc.title, source=doc.source)


def vector_of(chunk_id: str) -> np.ndarray:
    """A deterministic unit vector per chunk id (the same in every backend)."""
    rng = np.random.default_rng(int(hashlib.sha256(chunk_id.encode()).hexdigest()[:8], 16))
    v = rng.standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


PASSAGES = {d.doc_id: passage_of(d) for d in DOCS}
CID = {d: p.chunk_id for d, p in PASSAGES.items()}


def mentions_for(doc_id: str, text: str | None = None) -> list[Mention]:
    text = PASSAGES[doc_id].text if text is None else text
    out = []
    for surface, label in MENTIONS.get(doc_id, []):
        i = text.find(surface)
        if i >= 0:
            out.append(Mention(i, i + len(surface), label, surface, 0.9))
    return out


def _annotations(docs) -> tuple[dict[str, list[Mention]], dict[str, Category]]:
    mentions = {passage_of(d).chunk_id: mentions_for(d.doc_id, d.text) for d in docs if d.doc_id in MENTIONS}
    labels = {d.doc_id: CATEGORIES.get(d.doc_id, "C23") for d in docs}
    return ({c: m for c, m in mentions.items() if m},
            {d: Category(label, 0.8, f"name {label}") for d, label in labels.items()})


def build_generation(kind: str, directory: Path, milvus=None, docs=DOCS) -> SearchBackend:
    """Write a generation through the contract only, the way `IndexWriter.build` does."""
    backend = make_backend(kind, directory, DIM, tokenize, FaissConfig(), BM25Config(), milvus=milvus).create()
    passages = [passage_of(d) for d in docs]
    added, removed = backend.upsert_documents([(d, [p]) for d, p in zip(docs, passages)])
    assert sorted(added) == sorted(p.chunk_id for p in passages) and removed == []
    backend.set_annotations(*_annotations(docs))
    backend.add(passages, np.stack([vector_of(p.chunk_id) for p in passages]))
    backend.refresh()
    backend.save()
    backend.close()
    return make_backend(kind, directory, DIM, tokenize, FaissConfig(), BM25Config(), milvus=milvus).open(
        expected_chunks=len(docs))


def change_generation(backend: SearchBackend, upsert=(), remove=(), refresh=True) -> None:
    """Add/update and remove documents through the contract, the way `IndexWriter.add` and
    `IndexWriter.remove` do (only new chunks are added; replaced chunks are removed first)."""
    if upsert:
        by_id = {passage_of(d).chunk_id: passage_of(d) for d in upsert}
        added, removed = backend.upsert_documents([(d, [passage_of(d)]) for d in upsert])
        backend.remove(removed)
        backend.set_annotations(*_annotations(upsert))
        if added:
            backend.add([by_id[c] for c in added], np.stack([vector_of(c) for c in added]))
    if remove:
        backend.remove(backend.remove_documents(list(remove)))
    if refresh:
        backend.refresh()


# Later documents for the change tests: new ones, and a changed version of "metformin".
NEW_DOCS = [
    Document("asthma", "Asthma", "Asthma is a chronic airway disease; inhaled corticosteroids reduce exacerbations "
             "and hospital admissions in asthma.", source="gard"),
    Document("statin", "Statins", "Statins lower LDL cholesterol and reduce cardiovascular mortality; myopathy is a "
             "rare adverse effect of statin therapy in diabetes.", source="pubmed"),
]
METFORMIN_V2 = Document("metformin", "Diabetes", "Metformin hydrochloride remains first-line therapy for type 2 "
                        "diabetes. It rarely causes lactic acidosis, mostly with kidney failure, and lowers glucose "
                        "production in the liver.", source="medquad")
BM25_QUERIES = ["asthma", "statin", "metformin", "diabetes", "glaucoma", "insulin therapy", "heart failure",
                "type 2 diabetes lactic acidosis", "SARS-CoV-2", "IL-6 severe disease", "mortality",
                "adverse effect", "corticosteroids asthma exacerbations", "kidney failure"]


def docs_of(backend: SearchBackend, hits) -> list[str]:
    passages = backend.passages([c for c, _ in hits])
    return [passages[c].doc_id for c, _ in hits]


class BackendConformance:
    """Subclass with a `backend` fixture (an open backend over `build_generation`, shared by
    read-only tests), a `fresh` fixture ((backend, reopen) over a generation of its own;
    `reopen(dimension=DIM)` gives a new, unopened backend object over the same generation) and
    a `build_other` fixture (build_other(docs, name): an open backend over another new generation)."""

    # -- counts, ids, passages ------------------------------------------------------------------
    def test_counts_and_catalog(self, backend):
        assert isinstance(backend, SearchBackend)
        assert backend.size == len(DOCS) and backend.count_documents() == len(DOCS)
        assert backend.sources() == ["gard", "medquad", "pubmed"]
        assert backend.count_mentions() == sum(len(v) for v in MENTIONS.values())
        assert backend.count_categorised() == len(DOCS)
        assert backend.existing(["il6", "nope"]) == {"il6"}
        assert backend.checksums(["beta"]) == {"beta": DOCS[2].checksum}
        assert backend.document("sars").text == DOCS[1].text
        assert {d.doc_id for d in backend.list_documents()} == set(CID)
        assert ("C18", "name C18", 2) in backend.category_counts()
        assert ("type 2 diabetes", "Disease", 2) in backend.entity_counts(5)

    def test_passages_by_id_carry_annotations(self, backend):
        got = backend.passages([CID["metformin"], "0" * 15])
        assert list(got) == [CID["metformin"]]
        p = got[CID["metformin"]]
        assert p.text == PASSAGES["metformin"].text and p.category.label == "C18"
        assert {m.text for m in p.entities} == {"Metformin hydrochloride", "type 2 diabetes", "lactic acidosis"}

    # -- text search: our biomedical tokenisation ------------------------------------------------
    @pytest.mark.parametrize("query, doc", [
        ("IL-6", "il6"), ("il6", "il6"), ("interleukin", "il6"),
        ("SARS-CoV-2", "sars"), ("sars cov 2", "sars"), ("sarscov2", "sars"),
        ("β-blocker", "beta"), ("beta blocker", "beta"), ("betablocker", "beta"),
    ])
    def test_biomedical_tokens(self, backend, query, doc):
        hits = backend.search_text(query, 3)
        assert hits and docs_of(backend, hits)[0] == doc

    def test_text_scores_best_first_ids_and_no_nonmatching(self, backend):
        hits = backend.search_text("diabetes therapy", 10)
        assert set(docs_of(backend, hits)) == {"metformin", "insulin"}  # only passages sharing a token
        assert all(re.fullmatch(r"[0-9a-f]{15}", c) for c, _ in hits)
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
        assert backend.search_text("the of and", 5) == []  # stop words only: no tokens
        assert backend.search_text("xylophone", 5) == []

    # -- vector search ---------------------------------------------------------------------------
    def test_vector_search_is_inner_product(self, backend):
        hits = backend.search_vector(vector_of(CID["glaucoma"]), 3)
        assert hits[0][0] == CID["glaucoma"] and hits[0][1] == pytest.approx(1.0, abs=1e-4)
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True)
        expected = sorted(CID.values(), key=lambda c: -float(vector_of(c) @ vector_of(CID["glaucoma"])))[:3]
        assert [c for c, _ in hits] == expected
        assert len(backend.search_vector(vector_of(CID["il6"]), 100)) == len(DOCS)

    # -- filters, on both legs -------------------------------------------------------------------
    def test_filter_sources_any_of(self, backend):
        where = SearchFilter(sources=("gard", "pubmed"))
        assert set(docs_of(backend, backend.search_vector(vector_of(CID["beta"]), 10, where))) == {
            "il6", "sars", "glaucoma", "insulin"}
        assert docs_of(backend, backend.search_text("diabetes", 10, where)) == ["insulin"]

    def test_filter_categories_any_of(self, backend):
        where = SearchFilter(categories=("C14", "C11"))
        assert set(docs_of(backend, backend.search_vector(vector_of(CID["il6"]), 10, where))) == {"beta", "glaucoma"}

    def test_filter_entities_all_of_whole_words(self, backend):
        one = SearchFilter(entities=("Metformin",))  # case-folded, whole word of "metformin hydrochloride"
        assert docs_of(backend, backend.search_vector(vector_of(CID["il6"]), 10, one)) == ["metformin"]
        both = SearchFilter(entities=("type 2 diabetes", "hypoglycemia"))
        assert docs_of(backend, backend.search_text("diabetes", 10, both)) == ["insulin"]
        assert backend.search_vector(vector_of(CID["il6"]), 10, SearchFilter(entities=("metform",))) == []
        assert backend.search_vector(vector_of(CID["il6"]), 10, SearchFilter(entities=("2 diabetes",))) != []

    def test_filters_combine_and_can_match_nothing(self, backend):
        where = SearchFilter(sources=("gard",), categories=("C18",), entities=("insulin",))
        assert docs_of(backend, backend.search_text("insulin diabetes", 10, where)) == ["insulin"]
        nothing = SearchFilter(sources=("no-such-source",))
        assert backend.search_text("diabetes", 10, nothing) == []
        assert backend.search_vector(vector_of(CID["il6"]), 10, nothing) == []
        odd = SearchFilter(sources=('we"ird\\source',), entities=('a "quoted" term',))
        assert backend.search_text("diabetes", 10, odd) == []

    # -- changes ---------------------------------------------------------------------------------
    def test_remove_and_upsert(self, fresh):
        backend, _ = fresh
        removed = backend.remove_documents(["glaucoma"])
        assert removed == [CID["glaucoma"]]
        backend.remove(removed)
        backend.refresh()
        assert backend.size == len(DOCS) - 1
        assert CID["glaucoma"] not in [c for c, _ in backend.search_vector(vector_of(CID["glaucoma"]), 10)]
        assert backend.search_text("glaucoma", 5) == []
        # Adding an existing id replaces its vector (no duplicate row).
        backend.add([PASSAGES["sars"]], vector_of(CID["glaucoma"])[None, :])
        backend.refresh()
        assert backend.size == len(DOCS) - 1
        assert backend.search_vector(vector_of(CID["glaucoma"]), 1)[0][0] == CID["sars"]

    def test_changed_category_reaches_the_filter(self, fresh):
        backend, _ = fresh
        backend.set_annotations({}, {"glaucoma": Category("C99", 0.7, "other")})
        backend.refresh()
        assert docs_of(backend, backend.search_text("glaucoma", 5, SearchFilter(categories=("C99",)))) == ["glaucoma"]
        assert backend.search_text("glaucoma", 5, SearchFilter(categories=("C11",))) == []

    def test_bm25_after_add_update_remove_equals_a_fresh_build(self, fresh, build_other):
        """Issue 17: after any change (add; update of a changed document, remove and re-adding an
        existing id together) BM25 scores and ranking equal those of a fresh build of the same
        documents. (Few flushes on purpose: Milvus Lite compacts at four data files, which hid the bug.)"""
        backend, reopen = fresh

        def same_bm25(got_backend, want_backend):
            for q in BM25_QUERIES:
                got, want = got_backend.search_text(q, 20), want_backend.search_text(q, 20)
                assert [c for c, _ in got] == [c for c, _ in want], q
                assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-3), q

        change_generation(backend, upsert=NEW_DOCS[:1])  # `clinqa index add` of one document
        same_bm25(backend, build_other(DOCS + NEW_DOCS[:1], "gen-add"))
        change_generation(backend, upsert=NEW_DOCS[1:] + [METFORMIN_V2], remove=["glaucoma"], refresh=False)
        backend.add([PASSAGES["sars"]], vector_of(CID["beta"])[None, :])  # an existing id again: replaced
        backend.refresh()
        final = [d for d in DOCS if d.doc_id not in ("glaucoma", "metformin")] + NEW_DOCS + [METFORMIN_V2]
        backend.save()
        backend.close()
        changed = reopen().open(expected_chunks=len(final))
        reference = build_other(final, "gen-final")
        same_bm25(changed, reference)
        assert changed.search_text("glaucoma", 5) == []
        assert docs_of(changed, changed.search_text("asthma", 1)) == ["asthma"]

    # -- refusing mismatches -----------------------------------------------------------------------
    def test_reopen_checks_counts_and_dimension(self, fresh):
        backend, reopen = fresh
        backend.close()
        assert reopen().open(expected_chunks=len(DOCS)).size == len(DOCS)
        with pytest.raises(IndexerError) as err:
            reopen().open(expected_chunks=len(DOCS) + 1)
        assert "rebuild" in err.value.hint
        with pytest.raises(IndexerError) as err:
            reopen(dimension=DIM * 2).open()
        assert "rebuild" in err.value.hint
