"""Issue 14.10: precomputed passage vectors (indexer/embcache.py) and their use by builds."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexer.dense import DenseEncoder, EncoderConfig
from indexer.embcache import (
    EmbeddingCache,
    bundled_embeddings_path,
    dequantize,
    embed_with_cache,
    encoder_fingerprint,
    quantize_int8,
)


@pytest.mark.unit
def test_int8_round_trip_keeps_direction():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(200, 384)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    q, scales = quantize_int8(v)
    back = dequantize(q, scales)
    assert q.dtype == np.int8 and scales.dtype == np.float32
    assert np.allclose(np.linalg.norm(back, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(v * back, axis=1)) > 0.999


@pytest.mark.unit
def test_cache_matches_chunk_id_and_text(tmp_path):
    rng = np.random.default_rng(1)
    v = rng.normal(size=(3, 8)).astype(np.float32)
    cache = EmbeddingCache.from_vectors("fp", ["c1", "c2", "c3"], ["t1", "t2", "t3"], v)
    path = tmp_path / "e.npz"
    cache.save(path)
    loaded = EmbeddingCache.load(path, "fp")
    assert len(loaded) == 3 and EmbeddingCache.load(path, "other encoder") is None
    hits, vectors = loaded.lookup(["c3", "cX", "c1", "c2"], ["t3", "t1", "t1", "title changed"])
    assert hits == [0, 2] and vectors.shape == (2, 8)
    assert np.sum(vectors[0] * v[2] / np.linalg.norm(v[2])) > 0.999
    with np.load(path, allow_pickle=False) as z:  # plain arrays, no pickled objects
        assert json.loads(str(z["meta"]))["dtype"] == "int8"


@pytest.mark.unit
def test_updated_cache_reuses_unchanged_rows_byte_for_byte_and_embeds_only_the_rest(tmp_path):
    rng = np.random.default_rng(2)
    v = rng.normal(size=(3, 8)).astype(np.float32)
    old = EmbeddingCache.from_vectors("fp", ["c1", "c2", "c3"], ["t1", "t2", "t3"], v)
    calls = []

    def encode(texts):
        calls.append(list(texts))
        out = rng.normal(size=(len(texts), 8)).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    new, reused = old.updated(["c1", "c4", "c2"], ["t1", "t4", "t2 with a new title"], encode)
    assert reused == 1 and calls == [["t4", "t2 with a new title"]]  # one call, new/changed chunks only
    assert len(new) == 3 and new.fingerprint == "fp"  # c3 (no longer in the corpus) is dropped
    new.save(tmp_path / "e.npz")
    with np.load(tmp_path / "e.npz", allow_pickle=False) as z:
        assert [c.decode() for c in z["chunk_ids"]] == ["c1", "c4", "c2"]
        q_old, s_old = quantize_int8(v[:1])
        assert np.array_equal(z["vectors"][0], q_old[0]) and z["scales"][0] == s_old[0]
    hits, _ = EmbeddingCache.load(tmp_path / "e.npz", "fp").lookup(["c2", "c4"], ["t2 with a new title", "t4"])
    assert hits == [0, 1]
    assert old.updated(["c1"], ["t1"], encode)[1] == 1 and len(calls) == 1  # nothing new: no encoder call


@pytest.mark.unit
def test_unreadable_cache_is_a_clear_error(tmp_path):
    from indexer.errors import IndexerError

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(IndexerError) as err:
        EmbeddingCache.load(bad, "fp")
    assert "embed_corpus.py" in err.value.hint


@pytest.mark.integration
def test_build_loads_cached_vectors_instead_of_embedding(tmp_path):
    """A build takes a cached vector (here a deliberately different one, so it is visible)
    for a matching chunk, and embeds the chunk whose text changed."""
    from indexer.loaded import open_index
    from indexer.loaders import load_documents
    from indexer.writer import IndexConfig, IndexWriter, embedding_text
    from store.types import chunk_key

    src = tmp_path / "d.jsonl"
    src.write_text(json.dumps({"id": "a", "title": "A", "text": "Aspirin lowers fever."}) + "\n"
                   + json.dumps({"id": "b", "title": "B", "text": "Beta blockers slow the heart."}) + "\n")
    writer = IndexWriter(tmp_path / "unused", show_progress=False)
    passages = [p for _, ps in writer.chunk(load_documents([src]).documents) for p in ps]
    config = EncoderConfig()
    marker = np.zeros((2, 384), dtype=np.float32)
    marker[:, 0] = 1.0  # not what MiniLM would give
    texts = [embedding_text(p) for p in passages]
    texts[1] = "B\nan older text of b"  # b's cached entry is stale
    cache_path = tmp_path / "cache.npz"
    EmbeddingCache.from_vectors(encoder_fingerprint(config), [p.chunk_id for p in passages], texts, marker).save(cache_path)

    cfg = IndexConfig(encoder=EncoderConfig(cache=str(cache_path)))
    report = IndexWriter(tmp_path / "index", cfg, show_progress=False).build([src])
    assert report.chunks_embedded == 2 and report.chunks_from_cache == 1
    index = open_index(tmp_path / "index")
    try:
        faiss_index = index.backend.vectors.index
        a = faiss_index.reconstruct(chunk_key(passages[0].chunk_id))
        b = faiss_index.reconstruct(chunk_key(passages[1].chunk_id))
    finally:
        index.close()
    assert a[0] > 0.99  # the cached vector
    assert b[0] < 0.9 and abs(np.linalg.norm(b) - 1) < 1e-4  # embedded afresh


@pytest.mark.integration
def test_embed_with_cache_keeps_input_order():
    enc = DenseEncoder(EncoderConfig(precision="fp32"))
    texts = ["gout and uric acid", "asthma inhaler", "glaucoma eye pressure"]
    fresh = enc.encode(texts)
    cache = EmbeddingCache.from_vectors("fp", ["x2"], [texts[1]], fresh[1:2])
    vectors, hits = embed_with_cache(enc, ["x1", "x2", "x3"], texts, cache)
    assert hits == 1 and np.allclose(np.sum(vectors * fresh, axis=1), 1.0, atol=1e-3)


@pytest.mark.integration
@pytest.mark.skipif(not bundled_embeddings_path().is_file(), reason="no bundled embeddings in this checkout")
def test_bundled_embeddings_cover_the_bundled_corpus():
    """The shipped file was made by the packaged encoder and covers the corpus's chunks."""
    import gzip

    from indexer.loaders import load_documents
    from indexer.writer import IndexWriter, embedding_text
    from common.paths import BUNDLED_CORPUS

    cache = EmbeddingCache.load(bundled_embeddings_path(), encoder_fingerprint(EncoderConfig()))
    assert cache is not None and len(cache) > 30_000
    assert bundled_embeddings_path().stat().st_size < 26e6
    sample = Path(__file__).parent / ".." / "data"
    with gzip.open(BUNDLED_CORPUS, "rt", encoding="utf-8") as fh:
        lines = [next(fh) for _ in range(40)]
    tmp = Path("/tmp/clinqa-test-bundled-sample.jsonl")
    tmp.write_text("".join(lines), encoding="utf-8")
    passages = [p for _, ps in IndexWriter("/tmp/unused", show_progress=False).chunk(load_documents([tmp]).documents)
                for p in ps]
    hits, vectors = cache.lookup([p.chunk_id for p in passages], [embedding_text(p) for p in passages])
    assert len(hits) == len(passages)
    fresh = DenseEncoder(EncoderConfig(precision="fp32")).encode([embedding_text(p) for p in passages[:8]])
    assert np.min(np.sum(fresh * vectors[:8], axis=1)) > 0.995
