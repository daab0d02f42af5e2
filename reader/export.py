"""Export a trained reader for shipping: fp16 safetensors + ONNX + int8 ONNX.

    python -m reader.export models/reader-mpnet [--keep-fp32-onnx] [--no-fp16] [--no-torch-weights] [--float-attention]

- ONNX: opset 17, TorchScript exporter (dynamo=False), dynamic batch/sequence axes.
- int8: onnxruntime dynamic quantisation (per-channel int8 weights, activations quantised
  at run time; FFN output projections and the span head stay fp32, see sensitive_matmuls),
  the default product backend: several times faster per window on CPU.
- fp16 safetensors halve the PyTorch weights for the torch backend/further training
  (loaded back as fp32 by the reader); `--no-torch-weights` drops them (a 110 M-parameter
  base does not fit the repository's size budget twice; explanations then need a PyTorch copy).
- Weights the int8 file keeps in fp32 (word embeddings, the sensitive MatMuls) are stored as
  fp16 with a Cast back to fp32 (common.onnx_int8.store_fp32_weights_as_fp16): onnxruntime folds the Casts when
  the session loads, so what is computed is unchanged while the file shrinks by a third.
The fp32 ONNX file is deleted unless kept.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from common.cliparse import parse_args
from common.errors import run_entry_point
from common.onnx_int8 import quantize_dynamic_int8, store_fp32_weights_as_fp16
from reader.config import ONNX_FP32_FILE, ONNX_INT8_FILE
from reader.errors import ReaderModelError

logger = logging.getLogger(__name__)

# Above this an export warns: an int8 MPNet reader is 138 MB, a --float-attention one 166 MB.
MAX_SHIPPED_MB = 175.0


class _QAWrapper:
    """Return a plain (start_logits, end_logits) tuple: the TorchScript exporter needs
    tensors, not a ModelOutput."""

    def __new__(cls, model):
        import torch

        class W(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):
                out = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
                return out.start_logits, out.end_logits

        return W(model).eval()  # export restores the wrapper's mode: keep dropout off afterwards


def export_onnx(model_dir: str | Path, out_path: str | Path, opset: int = 17) -> Path:
    """Export the QA model in `model_dir` to ONNX (fp32)."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    model_dir = Path(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    # eager attention exports to plain MatMul/Softmax ops that every runtime and the
    # quantiser understand.
    model = AutoModelForQuestionAnswering.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    enc = tok(["what is it?", "which one?"], ["a short context.", "another, slightly longer context here."],
              padding=True, return_tensors="pt")
    args = (enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids", torch.zeros_like(enc["input_ids"])))
    axes = {0: "batch", 1: "sequence"}
    out_path = Path(out_path)
    with torch.no_grad():
        torch.onnx.export(
            _QAWrapper(model),
            args,
            str(out_path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["start_logits", "end_logits"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                          "start_logits": axes, "end_logits": axes},
            opset_version=opset,
            dynamo=False,
        )
    logger.info("wrote %s (%.1f MB)", out_path, out_path.stat().st_size / 1e6)
    return out_path


def sensitive_matmuls(onnx_path: str | Path, float_attention: bool = False) -> list[str]:
    """MatMul nodes left in fp32: the feed-forward output projections (their input is the
    GELU output, whose long-tailed range loses most under per-tensor activation
    quantisation) and the span head; with `float_attention` also every attention MatMul
    (projections and score products), so only the FFN input projections are int8. Measured
    on dev (docs/experiments.md): for MiniLM (session 3) quantising everything cost 2-8 points
    on BioASQ and keeping the FFN outputs in fp32 cost < 1 point; for the MPNet reader m5
    (session 14) the default still cost 7.2 F1 on consumer pages (78.1 fp32 -> 70.9) and
    `float_attention` 4.2 (73.9), at p50 0.49 s per `ask` instead of 0.43 s (fp32: 0.57 s)."""
    import onnx

    names = [n.name for n in onnx.load(str(onnx_path)).graph.node if n.op_type in ("MatMul", "Gemm")]
    return [n for n in names if ("/output/dense/" in n and "/attention/" not in n) or "qa_outputs" in n
            or (float_attention and "/attention/" in n)]


def save_fp16(model_dir: str | Path) -> None:
    """Rewrite the safetensors weights in fp16 (in place)."""
    import torch
    from transformers import AutoModelForQuestionAnswering

    model_dir = Path(model_dir)
    model = AutoModelForQuestionAnswering.from_pretrained(model_dir, dtype=torch.float32)
    model.half().save_pretrained(model_dir)


def dir_size_mb(path: str | Path, exclude: tuple[str, ...] = ("checkpoint",)) -> float:
    total = 0
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d not in exclude]
        total += sum((Path(root) / f).stat().st_size for f in files)
    return total / 1e6


def export_reader(model_dir: str | Path, *, keep_fp32_onnx: bool = False, fp16: bool = True, opset: int = 17,
                  torch_weights: bool = True, float_attention: bool = False) -> dict:
    """ONNX + int8 (fp32-kept weights stored as fp16; `float_attention`: see sensitive_matmuls)
    into `model_dir`, and the PyTorch weights rewritten in fp16 (`fp16`) or removed
    (`torch_weights=False`); returns file sizes in MB.

    Raises ReaderModelError when `model_dir` holds no model.
    """
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ReaderModelError(f"{model_dir} holds no model", hint="train one first with `python -m reader.train`")
    fp32 = export_onnx(model_dir, model_dir / ONNX_FP32_FILE, opset)
    quantize_dynamic_int8(fp32, model_dir / ONNX_INT8_FILE, sensitive_matmuls(fp32, float_attention))
    store_fp32_weights_as_fp16(model_dir / ONNX_INT8_FILE)
    if not keep_fp32_onnx:
        fp32.unlink()
    if not torch_weights:
        for f in ("model.safetensors", "pytorch_model.bin"):
            (model_dir / f).unlink(missing_ok=True)
    elif fp16:
        save_fp16(model_dir)
    sizes = {p.name: round(p.stat().st_size / 1e6, 2) for p in sorted(model_dir.iterdir()) if p.is_file()}
    total = dir_size_mb(model_dir)
    if total > MAX_SHIPPED_MB:
        logger.warning("exported reader is %.1f MB (> %.0f MB): drop model.onnx or the PyTorch weights "
                       "(--no-torch-weights) before shipping", total, MAX_SHIPPED_MB)
    return {"files_mb": sizes, "total_mb": round(total, 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, prog="python -m reader.export", description="export a reader to ONNX + int8")
    ap.add_argument("model_dir")
    ap.add_argument("--keep-fp32-onnx", action="store_true")
    ap.add_argument("--no-fp16", action="store_true", help="keep fp32 safetensors")
    ap.add_argument("--no-torch-weights", action="store_true",
                    help="delete the PyTorch weights (ship only the int8 ONNX file)")
    ap.add_argument("--float-attention", action="store_true",
                    help="keep the attention MatMuls in float too (int8 FFN input projections only): "
                         "less accuracy lost, a larger and slower file")
    return run_entry_point(lambda args: print(json.dumps(
        export_reader(args.model_dir, keep_fp32_onnx=args.keep_fp32_onnx, fp16=not args.no_fp16,
                      torch_weights=not args.no_torch_weights, float_attention=args.float_attention), indent=2)),
        parse_args(ap, argv))


if __name__ == "__main__":
    sys.exit(main())
