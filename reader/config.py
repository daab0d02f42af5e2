"""Configuration of the inference reader (validated, no I/O)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Literal

from common.paths import SHIPPED_MODELS
from reader.errors import ReaderConfigError
from reader.features import check_stride
from reader.postprocess import MERGES

# The shipped reader (all-mpnet-base-v2, run m2; the MiniLM reader g1 stays in models/reader and
# loads by path): $CLINQA_HOME/models/reader-mpnet, else the checkout's (common.paths), so the
# default works from any working directory.
DEFAULT_MODEL_DIR = SHIPPED_MODELS / "reader-mpnet"
CALIBRATION_FILE = "calibration.json"
ONNX_INT8_FILE = "model_int8.onnx"
ONNX_FP32_FILE = "model.onnx"

Backend = Literal["onnx", "torch"]


@dataclass(frozen=True)
class ReaderConfig:
    """How the extractive reader runs.

    model: a local model directory or a Hugging Face name (torch backend for names).
    backend: "onnx" uses `model_int8.onnx` (or `model.onnx`) from the directory and falls
        back to torch with a warning when neither exists.
    no_answer_threshold / temperature / bias: None = read from the model directory's
        calibration.json (written by `python -m reader.calibration`).
    """

    model: str = str(DEFAULT_MODEL_DIR)
    backend: Backend = "onnx"
    max_seq_len: int = 384
    doc_stride: int = 128
    max_answer_tokens: int = 30
    n_best: int = 20
    top_k: int = 5
    batch_size: int = 16
    num_threads: int | None = None  # None = leave the runtime default
    quantized: bool = True  # onnx backend: prefer model_int8.onnx over model.onnx
    no_answer_threshold: float | None = None
    temperature: float | None = None
    bias: float | None = None
    # How answers found in several passages are ranked (reader.postprocess): "support" sums
    # per-passage probabilities (at the calibration temperature), "best" keeps the best span.
    merge: str = "support"

    def __post_init__(self) -> None:
        if self.backend not in ("onnx", "torch"):
            raise ReaderConfigError(f"unknown backend {self.backend!r}", hint='use backend="onnx" or "torch"')
        if not str(self.model).strip():
            raise ReaderConfigError("empty model path", hint="pass a model directory or a Hugging Face name")
        check_stride(self.max_seq_len, self.doc_stride)
        for name in ("max_answer_tokens", "n_best", "top_k", "batch_size"):
            if getattr(self, name) < 1:
                raise ReaderConfigError(f"{name} must be >= 1 (got {getattr(self, name)})", hint=f"set {name} to a positive integer")
        if self.num_threads is not None and self.num_threads < 1:
            raise ReaderConfigError("num_threads must be >= 1 or None", hint="use None for the runtime default")
        if self.merge not in MERGES:
            raise ReaderConfigError(f"unknown merge {self.merge!r}", hint=f"use one of {', '.join(MERGES)}")
        if self.temperature is not None and self.temperature <= 0:
            raise ReaderConfigError("temperature must be > 0", hint="use None to read it from calibration.json")
        if self.no_answer_threshold is not None and not 0.0 <= self.no_answer_threshold <= 1.0:
            raise ReaderConfigError("no_answer_threshold is a probability in [0, 1]", hint="e.g. 0.5")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ReaderConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ReaderConfigError(f"unknown reader config keys: {sorted(unknown)}", hint=f"known keys: {sorted(known)}")
        return cls(**d)
