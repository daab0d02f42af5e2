"""Export a trained NER model or document classifier for shipping (like reader.export).

    python -m tasks.export --model runs/s2/ner-bc5cdr --out models/ner
    python -m tasks.export --model runs/s2/cls-ohsumed --out models/classifier

Writes into OUT (created; files of an earlier export are replaced):
- model_int8.onnx: opset 17, TorchScript exporter (dynamo=False), eager attention, inputs
  input_ids + attention_mask with dynamic batch/sequence axes, output logits; onnxruntime
  dynamic quantisation, int8 per-channel weights. By default the feed-forward output
  projections and the classification head (pooler + classifier) stay fp32, as for the
  reader (reader.export.sensitive_matmuls; measured there, docs/experiments.md). Weights kept
  fp32 (word embeddings, those MatMuls) are stored as fp16 with a Cast back
  (common.onnx_int8.store_fp32_weights_as_fp16): a 110 M-parameter base shrinks by a third.
- model.safetensors in fp16 + config.json (half the size; tasks.runtime loads it as fp32
  for the torch backend and further training).
- the tokenizer files, task.json, metrics.json and training_args.json, copied.
- export.json: what was done and how far ONNX is from PyTorch on a few sample texts (max
  abs logit difference and argmax agreement for fp32 ONNX, int8 ONNX and the fp16 weights).

The fp32 ONNX export must match PyTorch (max abs logit difference within tolerance) or the
export stops with TaskError and OUT is left untouched: everything is built in a staging
folder next to OUT and moved in at the end. The int8 differences are reported, not
enforced (quantisation error is expected; measure its cost with `clinqa eval ner|classify`).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from common.cliparse import parse_args
from common.errors import run_entry_point
from common.onnx_int8 import quantize_dynamic_int8, store_fp32_weights_as_fp16
from tasks.errors import TaskError
from tasks.runtime import (ONNX_FP32_FILE, ONNX_INT8_FILE, OnnxTaskModel, batch_logits, load_task_model, pad_ids, sigmoid,
                           softmax)

logger = logging.getLogger(__name__)

KINDS = ("ner", "classify")
FP32_NODES = ("ffn-head", "head", "none")
COPIED_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json",
                "merges.txt", "added_tokens.json", "task.json", "metrics.json", "training_args.json")
MAX_SHIPPED_MB = 100.0
EXPORT_REPORT = "export.json"

# Texts used to compare ONNX with PyTorch: short and long, so the dynamic axes and padding
# inside a batch are exercised.
SAMPLE_TEXTS = (
    "Naloxone reverses the antihypertensive effect of clonidine.",
    "Cisplatin-induced nephrotoxicity was observed in 12 of 40 patients with ovarian cancer.",
    "Fever.",
    "A 65-year-old man with type 2 diabetes mellitus and chronic kidney disease presented with acute chest pain "
    "radiating to the left arm; troponin was elevated and aspirin, heparin and atorvastatin were started. "
    "Echocardiography showed hypokinesia of the anterior wall, and coronary angiography revealed a 90% stenosis "
    "of the left anterior descending artery, treated with a drug-eluting stent. He was discharged on clopidogrel.",
    "Lithium toxicity presenting as tremor, ataxia and confusion in an elderly woman taking hydrochlorothiazide.",
    "Breast carcinoma; tamoxifen; endometrial hyperplasia.",
)


def detect_kind(model_dir: Path) -> str:
    """"ner" or "classify", from task.json, else from the config's architectures."""
    info = model_dir / "task.json"
    if info.is_file():
        task = json.loads(info.read_text()).get("task")
        if task in KINDS:
            return task
    archs = json.loads((model_dir / "config.json").read_text()).get("architectures") or []
    if any(a.endswith("ForTokenClassification") for a in archs):
        return "ner"
    if any(a.endswith("ForSequenceClassification") for a in archs):
        return "classify"
    raise TaskError(f"{model_dir} is neither a token nor a sequence classifier (architectures={archs})",
                    hint="pass the --out directory of `clinqa train ner` or `clinqa train classify`")


def _load_torch(model_dir: Path, kind: str):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

    cls = AutoModelForTokenClassification if kind == "ner" else AutoModelForSequenceClassification
    try:
        tok = AutoTokenizer.from_pretrained(str(model_dir))
        # eager attention exports to plain MatMul/Softmax ops that every runtime and the
        # quantiser understand; fp32 whatever the stored dtype.
        model = cls.from_pretrained(str(model_dir), dtype=torch.float32, attn_implementation="eager")
    except (OSError, ValueError) as exc:
        raise TaskError(f"cannot load {model_dir} as a {kind} model: {exc}",
                        hint="pass the --out directory of `clinqa train ner|classify`") from exc
    model.eval()
    return tok, model


def _wrapper(model):
    """A module returning the plain logits tensor (the TorchScript exporter needs tensors)."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).logits

    return LogitsOnly(model)


def export_onnx(model, tok, kind: str, out_path: Path, opset: int = 17) -> Path:
    """fp32 ONNX of a token (logits batch x sequence x labels) or sequence classifier
    (logits batch x labels)."""
    import torch

    enc = tok(["a short text.", "another, slightly longer text here."], padding=True, return_tensors="pt")
    axes = {0: "batch", 1: "sequence"}
    # eval() on the wrapper: the exporter restores the wrapper's mode afterwards, and a new
    # Module is in training mode, which would switch dropout on in `model` for later use.
    wrapper = _wrapper(model).eval()
    with torch.no_grad():
        torch.onnx.export(
            wrapper, (enc["input_ids"], enc["attention_mask"]), str(out_path),
            input_names=["input_ids", "attention_mask"], output_names=["logits"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "logits": axes if kind == "ner" else {0: "batch"}},
            opset_version=opset, dynamo=False,
        )
    model.eval()
    logger.info("wrote %s (%.1f MB)", out_path, out_path.stat().st_size / 1e6)
    return out_path


def fp32_matmuls(onnx_path: str | Path, which: str = "ffn-head") -> list[str]:
    """MatMul/Gemm nodes left in fp32: "head" = pooler + classifier, "ffn-head" also the
    feed-forward output projections (GELU outputs have a long-tailed range that loses most
    under per-tensor activation quantisation; reader.export measured this), "none" = none."""
    import onnx

    if which not in FP32_NODES:
        raise TaskError(f"unknown fp32 node set {which!r}", hint=f"one of {', '.join(FP32_NODES)}")
    names = [n.name for n in onnx.load(str(onnx_path)).graph.node if n.op_type in ("MatMul", "Gemm")]
    head = [n for n in names if "/classifier/" in n or "/pooler/" in n]
    if which == "none":
        return []
    if which == "head":
        return head
    ffn = [n for n in names if "/output/dense/" in n and "/attention/" not in n]
    return ffn + [n for n in head if n not in ffn]


def _compare(ref: np.ndarray, got: np.ndarray, mask: np.ndarray, kind: str, multi_label: bool) -> dict:
    """Max abs logit difference and prediction agreement (per real token for NER, per text
    for classification) between reference logits and another runtime's. A one-logit model (the
    reranker's relevance score) is compared as a sigmoid, like a multi-label one: a softmax over
    one logit is always 1, so it would report a probability difference of 0 whatever the drift."""
    if kind == "ner":
        sel = mask.astype(bool)
        diff = float(np.abs(ref - got)[sel].max())
        agree = float((ref.argmax(-1) == got.argmax(-1))[sel].mean())
        pdiff = float(np.abs(softmax(ref) - softmax(got))[sel].max())
    else:
        diff = float(np.abs(ref - got).max())
        if multi_label or ref.shape[-1] == 1:
            agree = float(((sigmoid(ref) >= 0.5) == (sigmoid(got) >= 0.5)).all(axis=-1).mean())
            pdiff = float(np.abs(sigmoid(ref) - sigmoid(got)).max())
        else:
            agree = float((ref.argmax(-1) == got.argmax(-1)).mean())
            pdiff = float(np.abs(softmax(ref) - softmax(got)).max())
    return {"max_abs_logit_diff": round(diff, 6), "max_abs_prob_diff": round(pdiff, 6),
            "prediction_agreement": round(agree, 4)}


def _torch_logits(model, ids: np.ndarray, am: np.ndarray) -> np.ndarray:
    return batch_logits(model, ids, am)


def _dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file()) / 1e6


def export_task_model(model_dir: str | Path, out_dir: str | Path | None = None, *, kind: str | None = None,
                      keep_fp32_onnx: bool = False, fp16: bool = True, fp32_nodes: str = "ffn-head", opset: int = 17,
                      samples: Sequence[str] | None = None, max_seq_len: int = 256, atol: float = 1e-3,
                      onnx_only: bool = False, label_names: dict[str, str] | None = None) -> dict:
    """Export `model_dir` (a `clinqa train ner|classify` output) into `out_dir` (default:
    in place); returns the report also written to OUT/export.json."""
    import torch

    src = Path(model_dir)
    if not (src / "config.json").is_file():
        raise TaskError(f"{src} holds no model (no config.json)", hint="train one with `clinqa train ner|classify`")
    found = detect_kind(src)
    if kind is not None and kind != found:
        raise TaskError(f"{src} is a {found} model, not {kind}", hint=f"use the {found} export")
    kind = found
    if fp32_nodes not in FP32_NODES:
        raise TaskError(f"unknown fp32 node set {fp32_nodes!r}", hint=f"one of {', '.join(FP32_NODES)}")
    out = Path(out_dir) if out_dir is not None else src
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = out.parent / f".{out.name}.export-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        tok, model = _load_torch(src, kind)
        multi = getattr(model.config, "problem_type", None) == "multi_label_classification"
        fp32_path = export_onnx(model, tok, kind, stage / ONNX_FP32_FILE, opset)
        kept_fp32 = fp32_matmuls(fp32_path, fp32_nodes)
        quantize_dynamic_int8(fp32_path, stage / ONNX_INT8_FILE, kept_fp32)
        store_fp32_weights_as_fp16(stage / ONNX_INT8_FILE)

        # ---- verification on sample texts, one padded batch
        texts = list(samples or SAMPLE_TEXTS)
        enc = tok(texts, truncation=True, max_length=max_seq_len)
        ids, am = pad_ids([{"input_ids": x} for x in enc["input_ids"]], tok.pad_token_id or 0)
        ref = _torch_logits(model, ids, am)
        verify = {"texts": len(texts), "tokens": int(am.sum())}
        onnx32 = OnnxTaskModel(fp32_path, model.config).logits(ids, am)
        verify["onnx_fp32"] = _compare(ref, onnx32, am, kind, multi)
        tol = atol * max(1.0, float(np.abs(ref).max()))
        if not np.isfinite(onnx32).all() or verify["onnx_fp32"]["max_abs_logit_diff"] > tol:
            raise TaskError(f"the fp32 ONNX export disagrees with PyTorch: max abs logit difference "
                            f"{verify['onnx_fp32']['max_abs_logit_diff']:.3g} > {tol:.3g}",
                            hint="check the torch/onnx versions; the model was not exported")
        verify["onnx_int8"] = _compare(ref, OnnxTaskModel(stage / ONNX_INT8_FILE, model.config).logits(ids, am),
                                       am, kind, multi)

        # ---- PyTorch weights (fp16 unless asked otherwise), checked by loading them back as fp32
        (model.half() if fp16 else model).save_pretrained(stage)
        for name in COPIED_FILES:
            if (src / name).is_file():
                shutil.copy2(src / name, stage / name)
        _, reloaded = load_task_model(stage, kind, backend="torch")
        verify["safetensors_fp16" if fp16 else "safetensors_fp32"] = _compare(
            ref, _torch_logits(reloaded, ids, am), am, kind, multi)
        del reloaded
        if not keep_fp32_onnx:
            fp32_path.unlink()
        if onnx_only:  # ship only the int8 runtime (half the size); retrain to get PyTorch weights
            (stage / "model.safetensors").unlink()
        if label_names:
            info_path = stage / "task.json"
            info = json.loads(info_path.read_text()) if info_path.is_file() else {}
            info["label_names"] = {str(k): str(v) for k, v in label_names.items()}
            info_path.write_text(json.dumps(info, indent=2) + "\n")
        report = {
            "kind": kind,
            "source": str(src),
            "labels": [model.config.id2label[i] for i in sorted(model.config.id2label, key=int)],
            "onnx": {"opset": opset, "exporter": "torchscript (dynamo=False)", "attention": "eager",
                     "inputs": ["input_ids", "attention_mask"], "output": "logits"},
            "quantization": {"method": "onnxruntime quantize_dynamic", "weight_type": "QInt8", "per_channel": True,
                             "fp32_nodes": fp32_nodes, "fp32_node_names": kept_fp32},
            "safetensors_dtype": None if onnx_only else "float16" if fp16 else "float32",
            "verify": verify,
            "versions": {"torch": torch.__version__, "onnxruntime": _version("onnxruntime"),
                         "transformers": _version("transformers")},
        }
        (stage / EXPORT_REPORT).write_text(json.dumps(report, indent=2) + "\n")
        # ---- move into place (a missing model.onnx must not leave an older one behind)
        out.mkdir(parents=True, exist_ok=True)
        if not keep_fp32_onnx and (out / ONNX_FP32_FILE).is_file():
            (out / ONNX_FP32_FILE).unlink()
        for f in sorted(stage.iterdir()):
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    files = {p.name: round(p.stat().st_size / 1e6, 2) for p in sorted(out.iterdir()) if p.is_file()}
    total = _dir_mb(out)
    if total > MAX_SHIPPED_MB:
        logger.warning("%s is %.1f MB (> %.0f MB)", out, total, MAX_SHIPPED_MB)
    for name, v in verify.items():
        if isinstance(v, dict):
            logger.info("%s vs PyTorch fp32: max |logit diff| %.4g, agreement %.1f%%", name,
                        v["max_abs_logit_diff"], 100 * v["prediction_agreement"])
    return {**report, "out": str(out), "files_mb": files, "total_mb": round(total, 2)}


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except Exception:  # pragma: no cover - reporting only
        return "unknown"


def export_token_classifier(model_dir: str | Path, out_dir: str | Path | None = None, **kwargs) -> dict:
    """Export a `clinqa train ner` model (see export_task_model)."""
    return export_task_model(model_dir, out_dir, kind="ner", **kwargs)


def export_sequence_classifier(model_dir: str | Path, out_dir: str | Path | None = None, **kwargs) -> dict:
    """Export a `clinqa train classify` model (see export_task_model)."""
    return export_task_model(model_dir, out_dir, kind="classify", **kwargs)


def add_export_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--model", required=True, help="trained model directory (the --out of `train ner|classify`)")
    parser.add_argument("--out", help="output directory, e.g. models/ner or models/classifier (default: in place)")
    parser.add_argument("--kind", choices=KINDS, help="check the model is of this kind (default: from task.json)")
    parser.add_argument("--fp32-nodes", choices=FP32_NODES, default="ffn-head",
                        help="MatMuls kept fp32 in the int8 model (default ffn-head: FFN output projections + head)")
    parser.add_argument("--keep-fp32-onnx", action="store_true", help=f"also keep the fp32 {ONNX_FP32_FILE}")
    parser.add_argument("--no-fp16", action="store_true", help="keep the safetensors weights in fp32")
    parser.add_argument("--onnx-only", action="store_true",
                        help="ship only model_int8.onnx (no PyTorch weights; the torch backend then needs the run dir)")
    parser.add_argument("--label-names", type=Path,
                        help='JSON file {"label": "human-readable name"} stored in task.json (shown in the UI)')
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    return parser


def cmd_export(args: argparse.Namespace) -> int:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    names = None
    if args.label_names:
        try:
            names = json.loads(Path(args.label_names).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TaskError(f"cannot read label names {args.label_names}: {exc}",
                            hint='give a JSON object such as {"C14": "Cardiovascular Diseases"}') from exc
    res = export_task_model(args.model, args.out, kind=args.kind, keep_fp32_onnx=args.keep_fp32_onnx,
                            fp16=not args.no_fp16, fp32_nodes=args.fp32_nodes, onnx_only=args.onnx_only,
                            label_names=names)
    print(json.dumps({k: res[k] for k in ("kind", "out", "files_mb", "total_mb", "verify")}, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = add_export_args(argparse.ArgumentParser(allow_abbrev=False, prog="python -m tasks.export",
                                                     description="export a NER model or classifier to int8 ONNX + fp16"))
    return run_entry_point(cmd_export, parse_args(parser, argv))


if __name__ == "__main__":
    sys.exit(main())
