"""Precomputed passage vectors of the bundled corpus (`scripts/embed_corpus.py`).

Embedding the bundled corpus (33,926 passages) is most of its build time on a CPU, so the
vectors ship with it, like its annotations: `data/corpus/medquad.embeddings.npz`. A build
uses a stored vector only when

- the encoder fingerprint matches (sha256 of the encoder's weights file, its
  `max_seq_length` and the windowing of long texts: `encoder_fingerprint`), and
- the chunk id (content-derived: document id, offset, passage text) *and* a hash of the
  embedded text (title + newline + passage) match, so a changed title is embedded again.

Everything else is embedded as usual. Vectors are stored as int8 with one float32 scale
per vector (symmetric per-vector quantisation, as in sentence-transformers'
`quantize_embeddings` "int8" but with a per-row range); loaded back they are re-normalised.
The file is a plain `.npz` read with `allow_pickle=False`; the recall of int8 against fp32
vectors is measured by `scripts/embed_corpus.py --check` (docs/benchmarks.md).
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from common.paths import BUNDLED_EMBEDDINGS
from indexer.dense import DenseEncoder, EncoderConfig, resolve_encoder_path
from indexer.errors import IndexerError

log = logging.getLogger(__name__)

# Bump when the way texts become vectors changes (windowing, pooling, embedded text).
EMBEDDING_SCHEME = "title+newline+passage;windows=max_seq_length-2,overlap=1/4;mean"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.onnx")


def bundled_embeddings_path() -> Path:
    """Where the bundled corpus's precomputed vectors live."""
    return BUNDLED_EMBEDDINGS


def encoder_fingerprint(config: EncoderConfig) -> str:
    """sha256 over the encoder's weights file, max_seq_length, `EMBEDDING_SCHEME` and, for
    an ONNX backend, its name (the shipped vectors are the torch backend's).
    Raises IndexerError when the encoder directory has no weights file."""
    path = Path(resolve_encoder_path(config.model))
    weights = next((path / n for n in WEIGHT_FILES if (path / n).is_file()), None)
    if weights is None:
        raise IndexerError(f"encoder {config.model!r} has no weights file in {path}",
                           f"expected one of {', '.join(WEIGHT_FILES)}")
    h = hashlib.sha256()
    with open(weights, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    h.update(f"\0{config.max_seq_length}\0{EMBEDDING_SCHEME}".encode())
    if config.backend != "torch":  # the ONNX backends' vectors differ slightly: their own caches
        h.update(f"\0{config.backend}".encode())
    return h.hexdigest()


def text_key(text: str) -> int:
    """First 8 bytes of sha256(text) as a uint64: guards against a changed title."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def quantize_int8(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float (n, d) -> (int8 (n, d), float32 scales (n,)), v ≈ q * scale per row."""
    vectors = np.asarray(vectors, dtype=np.float32)
    scales = np.abs(vectors).max(axis=1) / 127.0
    scales[scales == 0] = 1.0
    q = np.clip(np.rint(vectors / scales[:, None]), -127, 127).astype(np.int8)
    return q, scales.astype(np.float32)


def dequantize(q: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """int8 rows back to L2-normalised float32 rows."""
    v = q.astype(np.float32) * scales[:, None]
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return v / norms


class EmbeddingCache:
    """chunk id -> vector, for one encoder fingerprint."""

    def __init__(self, fingerprint: str, chunk_ids: Sequence[str], text_keys: np.ndarray,
                 q: np.ndarray, scales: np.ndarray) -> None:
        self.fingerprint = fingerprint
        self._row = {c: i for i, c in enumerate(chunk_ids)}
        self._text_keys = np.asarray(text_keys, dtype=np.uint64)
        self._q = q
        self._scales = scales

    def __len__(self) -> int:
        return len(self._row)

    @classmethod
    def from_vectors(cls, fingerprint: str, chunk_ids: Sequence[str], texts: Sequence[str],
                     vectors: np.ndarray) -> "EmbeddingCache":
        q, scales = quantize_int8(vectors)
        keys = np.array([text_key(t) for t in texts], dtype=np.uint64)
        return cls(fingerprint, list(chunk_ids), keys, q, scales)

    def lookup(self, chunk_ids: Sequence[str], texts: Sequence[str]) -> tuple[list[int], np.ndarray]:
        """(positions in the input that hit, their float32 vectors (hits, d))."""
        hits, rows = [], []
        for i, (cid, text) in enumerate(zip(chunk_ids, texts)):
            row = self._row.get(cid)
            if row is not None and int(self._text_keys[row]) == text_key(text):
                hits.append(i)
                rows.append(row)
        idx = np.asarray(rows, dtype=np.int64)
        return hits, dequantize(self._q[idx], self._scales[idx])

    def updated(self, chunk_ids: Sequence[str], texts: Sequence[str],
                encode: "Callable[[list[str]], np.ndarray]") -> "tuple[EmbeddingCache, int]":
        """(a cache of exactly these chunks in this order, how many rows were reused).

        A chunk whose id and embedded-text hash this cache holds keeps its stored int8 row and
        scale byte for byte; `encode` (texts -> float32 (n, d), rows L2-normalised) is called
        once, on the other texts only, and its vectors are quantised like `from_vectors`.
        Chunks of this cache that are not asked for are dropped. Same fingerprint as self."""
        keys = np.array([text_key(t) for t in texts], dtype=np.uint64)
        rows = [self._row.get(c) for c in chunk_ids]
        reuse = [i for i, r in enumerate(rows) if r is not None and self._text_keys[r] == keys[i]]
        reused = set(reuse)
        fresh = [i for i in range(len(texts)) if i not in reused]
        q = np.empty((len(texts), self._q.shape[1]), dtype=np.int8)
        scales = np.empty(len(texts), dtype=np.float32)
        src = np.asarray([rows[i] for i in reuse], dtype=np.int64)
        q[reuse], scales[reuse] = self._q[src], self._scales[src]
        if fresh:
            q[fresh], scales[fresh] = quantize_int8(encode([texts[i] for i in fresh]))
        return EmbeddingCache(self.fingerprint, list(chunk_ids), keys, q, scales), len(reuse)

    def save(self, path: Path) -> None:
        """Write an `.npz` (compressed, no pickled objects) atomically."""
        path = Path(path)
        ids = sorted(self._row, key=self._row.get)
        tmp = path.with_name(path.name + ".tmp.npz")
        meta = json.dumps({"fingerprint": self.fingerprint, "scheme": EMBEDDING_SCHEME, "dtype": "int8"})
        np.savez_compressed(tmp, meta=np.array(meta), chunk_ids=np.array(ids, dtype="S15"),
                            text_keys=self._text_keys, vectors=self._q, scales=self._scales)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, fingerprint: str | None = None) -> "EmbeddingCache | None":
        """The cache at `path`, or None when it was made by another encoder (`fingerprint`
        given and different). Raises IndexerError when the file is unreadable."""
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if fingerprint is not None and meta.get("fingerprint") != fingerprint:
                    log.info("embedding cache %s was made by another encoder: not used", path)
                    return None
                ids = [c.decode("ascii") for c in z["chunk_ids"]]
                return cls(meta["fingerprint"], ids, z["text_keys"], z["vectors"], z["scales"])
        except (OSError, ValueError, KeyError) as exc:
            raise IndexerError(f"embedding cache {path} is unreadable: {exc}",
                               "regenerate it with `python scripts/embed_corpus.py`, or delete it") from exc


def embed_with_cache(encoder: DenseEncoder, chunk_ids: Sequence[str], texts: Sequence[str],
                     cache: "EmbeddingCache | None") -> tuple[np.ndarray, int]:
    """(vectors (len(texts), d) float32, how many came from `cache`): cached vectors where
    chunk id and text match, the encoder for the rest (in input order)."""
    if cache is None or not texts:
        return encoder.encode(list(texts)), 0
    hits, cached = cache.lookup(chunk_ids, texts)
    hit_set = set(hits)
    misses = [i for i in range(len(texts)) if i not in hit_set]
    out = np.empty((len(texts), cached.shape[1] if hits else encoder.dimension), dtype=np.float32)
    if hits:
        out[hits] = cached
    if misses:
        out[misses] = encoder.encode([texts[i] for i in misses])
    return out, len(hits)
