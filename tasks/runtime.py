"""Running a NER or classification model: PyTorch or an ONNX Runtime session, one interface.

    tok, model = load_task_model(model_dir, "ner", backend=None, threads=0)
    logits = batch_logits(model, input_ids, attention_mask)     # numpy in, numpy out

`backend=None` (or "auto") picks ONNX when the directory holds `model_int8.onnx` (or the
fp32 `model.onnx`, written by `python -m tasks.export --keep-fp32-onnx`), else PyTorch.
Both kinds of model expose `.config` (the Hugging Face config: id2label, problem_type,
num_labels), so the prediction code does not care which one it got. PyTorch weights are
always loaded in fp32: shipped directories store them in fp16 to halve their size, and
fp16 matmuls on CPU are slow and less accurate.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from tasks.errors import TaskError
from common.training import model_device

logger = logging.getLogger(__name__)

ONNX_INT8_FILE = "model_int8.onnx"
ONNX_FP32_FILE = "model.onnx"
BACKENDS = ("onnx", "torch")
EXPORT_HINT = "export it with `python -m tasks.export --model RUN_DIR --out DIR`, or use --backend torch"

_KINDS = {
    "ner": ("ForTokenClassification", "NER model", "pass the --out directory of `clinqa train ner`"),
    "classify": ("ForSequenceClassification", "classifier", "pass the --out directory of `clinqa train classify`"),
}


class OnnxTaskModel:
    """An ONNX Runtime session over a token or sequence classifier exported by
    `tasks.export` (inputs input_ids + attention_mask, output logits)."""

    def __init__(self, path: str | Path, config, threads: int = 0) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        self.path = Path(path)
        self.config = config
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.backend = f"onnx:{self.path.name}"

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": input_ids.astype(np.int64), "attention_mask": attention_mask.astype(np.int64)}
        if "token_type_ids" in self.input_names:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        return self.session.run(["logits"], {k: v for k, v in feed.items() if k in self.input_names})[0]


def batch_logits(model, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """float32 logits of a torch model or an OnnxTaskModel for one padded batch."""
    if isinstance(model, OnnxTaskModel):
        return model.logits(input_ids, attention_mask).astype(np.float32, copy=False)
    import torch

    device = model_device(model)
    with torch.no_grad():
        out = model(input_ids=torch.from_numpy(np.ascontiguousarray(input_ids, dtype=np.int64)).to(device),
                    attention_mask=torch.from_numpy(np.ascontiguousarray(attention_mask, dtype=np.int64)).to(device))
    return out.logits.float().cpu().numpy()


def pad_ids(features: Sequence[dict], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask) int64 arrays, right-padded to the longest feature
    (the same padding as tasks.training.pad_batch)."""
    n = max(len(f["input_ids"]) for f in features)
    ids = np.full((len(features), n), pad_id, dtype=np.int64)
    am = np.zeros((len(features), n), dtype=np.int64)
    for i, f in enumerate(features):
        k = len(f["input_ids"])
        ids[i, :k] = f["input_ids"]
        am[i, :k] = 1
    return ids, am


def softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def onnx_file(model_dir: str | Path) -> Path | None:
    """The ONNX file a directory ships (int8 preferred), or None."""
    d = Path(model_dir)
    return next((d / f for f in (ONNX_INT8_FILE, ONNX_FP32_FILE) if (d / f).is_file()), None)


def resolve_backend(model_dir: str | Path, backend: str | None) -> str:
    """"onnx" or "torch": None/"auto" = ONNX when the directory has an ONNX file."""
    if backend in (None, "", "auto"):
        return "onnx" if onnx_file(model_dir) else "torch"
    if backend not in BACKENDS:
        raise TaskError(f"unknown backend {backend!r}", hint="use onnx or torch")
    if backend == "onnx" and onnx_file(model_dir) is None:
        raise TaskError(f"{model_dir} has no {ONNX_INT8_FILE}", hint=EXPORT_HINT)
    return backend


def load_task_model(model_dir: str | Path, kind: str, *, backend: str | None = None, threads: int = 0):
    """(tokenizer, model) for kind "ner" or "classify"; `model` is a torch module in eval
    mode or an OnnxTaskModel, both with `.config`."""
    from transformers import AutoConfig, AutoTokenizer

    suffix, what, hint = _KINDS[kind]
    d = Path(model_dir)
    if not (d / "config.json").is_file():
        raise TaskError(f"{what} directory {d} holds no model (no config.json)", hint=hint)
    chosen = resolve_backend(d, backend)
    try:
        tok = AutoTokenizer.from_pretrained(str(d))
        config = AutoConfig.from_pretrained(str(d))
    except (OSError, ValueError) as exc:
        raise TaskError(f"cannot load {what} {d}: {exc}", hint=hint) from exc
    archs = getattr(config, "architectures", None) or []
    if archs and not any(a.endswith(suffix) for a in archs):
        raise TaskError(f"{d} is not a {what} (architectures={archs})", hint=hint)
    if chosen == "onnx":
        path = onnx_file(d)
        try:
            model = OnnxTaskModel(path, config, threads)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise TaskError(f"cannot load {path}: {exc}", hint=EXPORT_HINT) from exc
        logger.info("%s %s: onnx (%s)", what, d, path.name)
        return tok, model
    import torch
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    if threads:
        torch.set_num_threads(threads)
    cls = AutoModelForTokenClassification if kind == "ner" else AutoModelForSequenceClassification
    try:
        model = cls.from_pretrained(str(d), dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise TaskError(f"cannot load {what} {d}: {exc}", hint=hint) from exc
    model.eval()
    return tok, model


def backend_name(model) -> str:
    return model.backend if isinstance(model, OnnxTaskModel) else "torch"
