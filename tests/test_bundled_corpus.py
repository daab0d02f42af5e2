"""Issue 14.3: the bundled corpus is stored as written, and its shipped caches cover it.

`data/corpus/medquad.jsonl.gz` was once made by a loader that folded dashes, quotes, µ and
the like; the loaders now keep text as written (NFC at most, indexer/text.py), and the corpus
was regenerated with them (`scripts/build_default_corpus.py`). The precomputed vectors and
annotations were then brought up to date for the changed chunks only (`--reuse`), so a build
of the bundled corpus still embeds and tags nothing.
"""
from __future__ import annotations

import gzip
import json
import os
import unicodedata
from pathlib import Path

import pytest

from common.paths import BUNDLED_ANNOTATIONS, BUNDLED_CORPUS, BUNDLED_EMBEDDINGS
from indexer.text import normalize_text, normalize_title, unify_characters

# The MedQuAD XML archive the corpus is built from (data/corpus/README.md); not in every checkout.
MEDQUAD_XML = Path(os.environ.get("CLINQA_MEDQUAD_XML", "/work/shared/data/medquad/medquad-xml.tar.gz"))

pytestmark = pytest.mark.skipif(not BUNDLED_CORPUS.is_file(), reason="no bundled corpus in this checkout")


@pytest.fixture(scope="module")
def shipped() -> dict[str, dict]:
    with gzip.open(BUNDLED_CORPUS, "rt", encoding="utf-8") as fh:
        return {d["id"]: d for d in map(json.loads, fh)}


@pytest.mark.integration
@pytest.mark.skipif(not MEDQUAD_XML.is_file(), reason=f"no MedQuAD source archive at {MEDQUAD_XML}")
def test_every_document_a_fold_would_change_is_stored_as_written(shipped):
    from indexer.loaders import load_documents

    source = load_documents([MEDQUAD_XML], format="medquad").documents
    assert len(source) == len(shipped)
    foldable = [d for d in source if unify_characters(d.text) != d.text or unify_characters(d.title) != d.title]
    assert len(foldable) > 50  # dashes, curly quotes, µ, ¼, no-break spaces in the answers
    wrong = [d.doc_id for d in foldable
             if shipped[d.doc_id]["text"] != d.text or shipped[d.doc_id]["title"] != d.title]
    assert wrong == [], f"{len(wrong)} documents stored folded, e.g. {wrong[:3]}: rerun scripts/build_default_corpus.py"


@pytest.mark.unit
def test_shipped_text_keeps_dashes_quotes_and_symbols(shipped):
    """Without the source archive: the characters the old folding loader removed are there,
    and every text is already in its stored form (NFC, layout only)."""
    text = "".join(d["text"] for d in shipped.values())
    for ch in "\u2013\u2014\u2019\u201c\u201d\u00b5":  # – — ’ “ ” µ
        assert ch in text, f"{ch!r} missing: the corpus was folded"
    assert all(d["text"] == normalize_text(d["text"]) and d["title"] == normalize_title(d["title"])
               for d in shipped.values())
    assert all(unicodedata.is_normalized("NFC", d["text"]) for d in shipped.values())


def _chunked(only_foldable: bool):
    from indexer.loaders import load_documents
    from indexer.writer import IndexWriter

    docs = load_documents([BUNDLED_CORPUS]).documents
    if only_foldable:  # the documents the regeneration changed are among these
        docs = [d for d in docs if unify_characters(d.text) != d.text or unify_characters(d.title) != d.title]
    return docs, [p for _, ps in IndexWriter("/tmp/clinqa-unused", show_progress=False).chunk(docs) for p in ps]


@pytest.fixture(scope="module", params=[
    pytest.param(True, id="as-written-documents", marks=pytest.mark.integration),
    pytest.param(False, id="whole-corpus", marks=pytest.mark.slow),  # chunking 16,423 documents: ~25 s
])
def passages(request):
    """(documents, their default chunks): those a fold would change (fast), or all of them."""
    return _chunked(request.param)


@pytest.mark.skipif(not BUNDLED_EMBEDDINGS.is_file(), reason="no bundled vectors")
def test_shipped_vectors_cover_every_chunk(passages, shipped):
    from indexer.dense import EncoderConfig
    from indexer.embcache import EmbeddingCache, encoder_fingerprint
    from indexer.writer import embedding_text

    docs, chunks = passages
    cache = EmbeddingCache.load(BUNDLED_EMBEDDINGS, encoder_fingerprint(EncoderConfig()))
    assert cache is not None, "made by another encoder: rerun scripts/embed_corpus.py"
    hits, _ = cache.lookup([p.chunk_id for p in chunks], [embedding_text(p) for p in chunks])
    assert len(hits) == len(chunks), "stale vectors: python scripts/embed_corpus.py --reuse ..."
    if len(docs) == len(shipped):
        assert len(cache) == len(chunks)  # and nothing else


@pytest.mark.skipif(not BUNDLED_ANNOTATIONS.is_file(), reason="no bundled annotations")
def test_shipped_annotations_cover_every_chunk_and_document(passages, shipped):
    from indexer.annotate import AnnotationCache, model_fingerprint
    from tasks import shipped as shipped_models

    docs, chunks = passages
    whole = len(docs) == len(shipped)
    cache = AnnotationCache.load(BUNDLED_ANNOTATIONS, None if whole else {p.chunk_id for p in chunks},
                                 None if whole else {(d.doc_id, d.checksum) for d in docs})
    assert cache.ner_fp == model_fingerprint(shipped_models.SHIPPED_NER_DIR)
    assert cache.classifier_fp == model_fingerprint(shipped_models.SHIPPED_CLASSIFIER_DIR)
    assert set(cache.mentions) == {p.chunk_id for p in chunks}, "stale: python scripts/annotate_corpus.py --reuse ..."
    assert set(cache.categories) == {(d.doc_id, d.checksum) for d in docs}

