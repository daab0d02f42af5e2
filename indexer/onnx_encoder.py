"""ONNX Runtime backends of the passage encoder: `--encoder-backend onnx-fp32|onnx-int8`.

The sentence-transformers model (all-MiniLM-L6-v2 unless told otherwise) is exported to ONNX
once, on this machine, from its local weights (no download): the transformer's last hidden
state (opset 17, TorchScript exporter), and for `onnx-int8` that graph quantised with
onnxruntime `quantize_dynamic` (QInt8 weights, per channel). Sentence vectors are the mean of
the token states over the attention mask, L2-normalised: sentence-transformers' pooling for
MiniLM. Measured against the torch encoder by `benchmarks/bench_encoder_onnx.py`
(docs/benchmarks.md).

Exports live in a cache folder keyed by the weights' sha256 (`export_dir`):
`$CLINQA_ENCODER_CACHE`, else `$XDG_CACHE_HOME/clinqa/encoders`, else
`~/.cache/clinqa/encoders`. A changed model gets a new folder; a half-written export is never
used (written under a temporary name, then renamed).
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from common.onnx_int8 import quantize_dynamic_int8
from indexer.errors import IndexerError

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx-fp32", "onnx-int8")
ONNX_FILES = {"onnx-fp32": "encoder.onnx", "onnx-int8": "encoder_int8.onnx"}
OPSET = 17


def check_backend(name: str) -> str:
    """`name` if it is a known encoder backend; IndexerError listing the valid ones otherwise."""
    if name not in BACKENDS:
        raise IndexerError(f"unknown encoder backend {name!r}", f"use one of: {', '.join(BACKENDS)}")
    return name


def weights_sha256(model_path: str | Path) -> str:
    """sha256 of the model's weights file (safetensors or PyTorch bin)."""
    path = Path(model_path)
    weights = next((path / n for n in ("model.safetensors", "pytorch_model.bin") if (path / n).is_file()), None)
    if weights is None:
        raise IndexerError(f"encoder {path} has no model.safetensors or pytorch_model.bin to export to ONNX",
                           "use --encoder-backend torch, or an encoder directory with PyTorch weights")
    h = hashlib.sha256()
    with open(weights, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_root() -> Path:
    """Where ONNX exports of encoders are kept (see the module docstring)."""
    if os.environ.get("CLINQA_ENCODER_CACHE"):
        return Path(os.environ["CLINQA_ENCODER_CACHE"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return base / "clinqa" / "encoders"


def export_dir(model_path: str | Path) -> Path:
    """The cache folder of this model's exports: `cache_root()/<first 16 hex of weights sha256>`."""
    return cache_root() / weights_sha256(model_path)[:16]


def export_fp32(model_path: str | Path, out: Path) -> Path:
    """ONNX export of the transformer (inputs input_ids, attention_mask (batch, tokens) int64;
    output hidden (batch, tokens, hidden) float32), written to `out`."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_path), attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.m = m

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.ones(2, 16, dtype=torch.long)
    dynamic = {"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"}, "hidden": {0: "b", 1: "t"}}
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation and tracer notes: not the user's concern
        warnings.simplefilter("ignore")
        torch.onnx.export(LastHiddenState(model), (ids, torch.ones_like(ids)), str(out),
                          input_names=["input_ids", "attention_mask"], output_names=["hidden"], dynamic_axes=dynamic,
                          opset_version=OPSET, dynamo=False)
    return out


def ensure_export(model_path: str | Path, backend: str, folder: Path | None = None) -> Path:
    """The ONNX file of `backend` ("onnx-fp32" or "onnx-int8") for this model, exported (and
    quantised) into `folder` (default `export_dir(model_path)`) if it is not there yet.
    Takes about 10-30 s on a CPU the first time. Raises IndexerError when the export fails."""
    if backend not in ONNX_FILES:
        raise IndexerError(f"{backend!r} is not an ONNX encoder backend", f"use one of: {', '.join(ONNX_FILES)}")
    folder = folder or export_dir(model_path)
    target = folder / ONNX_FILES[backend]
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    log.info("exporting encoder %s to ONNX (%s) in %s", model_path, backend, folder)
    try:
        with tempfile.TemporaryDirectory(dir=folder, prefix=".export-") as tmp:
            fp32 = folder / ONNX_FILES["onnx-fp32"]
            if not fp32.is_file():
                export_fp32(model_path, Path(tmp) / ONNX_FILES["onnx-fp32"]).replace(fp32)
            if backend == "onnx-int8":
                quantize_dynamic_int8(fp32, Path(tmp) / ONNX_FILES["onnx-int8"]).replace(target)
    except (OSError, RuntimeError, ValueError) as exc:
        raise IndexerError(f"cannot export encoder {model_path} to ONNX ({backend}): {exc}",
                           f"check that {cache_root()} is writable (or set CLINQA_ENCODER_CACHE), "
                           "or use --encoder-backend torch") from exc
    return target


class OnnxEncoder:
    """Mean-pooled, L2-normalised sentence vectors from an exported encoder (ONNX Runtime, CPU).
    Cheap constructor; `warm_up()` opens the session."""

    def __init__(self, onnx_path: Path, tokenizer: Any, threads: int = 0, max_len: int = 256, batch: int = 64) -> None:
        self.onnx_path, self.tokenizer = Path(onnx_path), tokenizer
        self.threads, self.max_len, self.batch = threads, max_len, batch
        self.session: Any = None

    def warm_up(self) -> "OnnxEncoder":
        if self.session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads  # 0: onnxruntime's default (all cores)
            self.session = ort.InferenceSession(str(self.onnx_path), opts, providers=["CPUExecutionProvider"])
        return self

    @property
    def dimension(self) -> int:
        """Width of the sentence vectors (the hidden size of the graph's output)."""
        self.warm_up()
        return int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> float32 (len(texts), dimension), rows L2-normalised; each text is cut at
        `max_len` word pieces (with [CLS]/[SEP]), like sentence-transformers' max_seq_length."""
        self.warm_up()
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths per batch: less padding
        for i in range(0, len(texts), self.batch):
            idx = order[i : i + self.batch]
            enc = self.tokenizer([texts[j] for j in idx], padding=True, truncation=True, max_length=self.max_len,
                                 return_tensors="np")
            hidden = self.session.run(None, {"input_ids": enc["input_ids"].astype(np.int64),
                                             "attention_mask": enc["attention_mask"].astype(np.int64)})[0]
            mask = enc["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            out[idx] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out
