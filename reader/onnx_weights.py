"""Trainable fp32 weights back from an int8 ONNX export (the shipped reader, reranker and task models).

Why: a shipped model directory may hold only `model_int8.onnx` (the repository's size budget
has no room for a second copy of a 110 M-parameter model), while integrated-gradients
explanations and warm-started training need PyTorch weights. Dynamic int8 quantisation
(onnxruntime `quantize_dynamic`, per-channel) keeps every quantised weight as
(q - zero_point) x scale, so linear layers come back within half a quantisation step of the
trained values; biases, LayerNorms and the weights kept in float (stored fp32, or fp16 + Cast by
common.onnx_int8.store_fp32_weights_as_fp16) come back exactly (up to fp16 rounding).

Parameter names come from the graph: the exporters wrap the model as `m` (reader.export,
tasks.export), so a named initializer `m.<param>` is that parameter and each (Integer)MatMul
node's output is named after the torch module it was exported from
(`/m/bert/encoder/layer.0/attention/self/query/MatMul_output_0`). Works for any encoder the
exporters handle (BERT/MiniLM, MPNet).
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from common.cliparse import parse_args
from common.errors import run_entry_point
from reader.config import ONNX_INT8_FILE
from reader.errors import ReaderModelError

logger = logging.getLogger(__name__)

_MODULE_RE = re.compile(r"^/m/(.+?)/(?:MatMul|Gemm)(?:_output|$)")
_QUANT_SUFFIXES = ("_quantized", "_scale", "_zero_point")


def _module_name(node_output: str) -> str | None:
    m = _MODULE_RE.match(node_output)
    return m.group(1).replace("/", ".") if m else None


def dequantized_state(onnx_path: str | Path) -> dict[str, np.ndarray]:
    """{torch parameter name: fp32 array} for every weight found in the ONNX graph at `onnx_path`.

    Linear weights come back in torch's [out, in] layout (ONNX MatMul holds [in, out]).
    Raises OSError / onnx errors when the file cannot be read.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    # Aliases: the exporter merges equal constants and gives each parameter an Identity of it;
    # store_fp32_weights_as_fp16 gives each fp16-stored weight a Cast back to its own name.
    for node in model.graph.node:
        if node.op_type in ("Identity", "Cast") and node.input and node.input[0] in inits:
            inits.setdefault(node.output[0], inits[node.input[0]].astype(np.float32)
                             if node.op_type == "Cast" else inits[node.input[0]])

    def deq(prefix: str) -> np.ndarray:
        q = inits[prefix + "_quantized"].astype(np.float32)
        zp = inits[prefix + "_zero_point"].astype(np.float32)
        return (q - zp) * inits[prefix + "_scale"].astype(np.float32)

    state: dict[str, np.ndarray] = {}
    for name, arr in inits.items():
        if not name.startswith("m.") or name.endswith(("_scale", "_zero_point", "_fp16")):
            continue
        if name.endswith("_quantized"):
            prefix = name[: -len("_quantized")]
            if not prefix.endswith("_Transposed"):  # quantised Gathers (embeddings) keep their name
                state[prefix[2:]] = deq(prefix)
        elif arr.dtype == np.float32 and "_Transposed" not in name:
            state[name[2:]] = arr
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
            w = inits[weight].astype(np.float32)
        else:
            continue  # activation x activation (attention scores)
        state[f"{module}.weight"] = np.ascontiguousarray(w.T)
    return state


def load_into(model, state: dict[str, np.ndarray]) -> list[str]:
    """Copy `state` into the torch `model` (shapes checked); returns the model's parameter names
    that `state` lacks (buffers such as position_ids excluded). Raises ValueError on a shape
    mismatch (the config.json beside the ONNX file is not the exported model's)."""
    import torch

    own = model.state_dict()
    for k, v in state.items():
        if k in own and tuple(own[k].shape) != v.shape:
            raise ValueError(f"shape mismatch for {k}: model {tuple(own[k].shape)} vs ONNX {v.shape}")
    model.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in state.items() if k in own},
                          strict=False)
    params = {n for n, _ in model.named_parameters()}
    return [k for k in own if k in params and k not in state]


def float_model_from_int8(model_dir: str | Path, auto_class: Any,
                         word_embeddings_from: str | Path | None = None) -> Any:
    """A float32 `auto_class` model (e.g. AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification) rebuilt from `model_dir`'s model_int8.onnx and config.json.

    word_embeddings_from: a Hugging Face model directory whose word-embedding matrix replaces the
    dequantised one; use the base for models trained with --freeze-embeddings (the int8 copy of a
    Gather is per-tensor and coarse, the frozen matrix is the base's exactly).
    Raises OSError when a file cannot be read, ValueError when a weight is missing or mis-shaped.
    """
    import torch
    from transformers import AutoConfig, AutoModel

    path = Path(model_dir)
    state = dequantized_state(path / ONNX_INT8_FILE)
    config = AutoConfig.from_pretrained(str(path))
    config.dtype = "float32"
    model = auto_class.from_config(config, attn_implementation="eager")
    if word_embeddings_from is not None:
        base = AutoModel.from_pretrained(str(word_embeddings_from), dtype=torch.float32)
        prefix = model.base_model_prefix
        state[f"{prefix}.embeddings.word_embeddings.weight"] = base.embeddings.word_embeddings.weight.detach().numpy()
    missing = load_into(model, state)
    if missing:
        raise ValueError(f"{len(missing)} weights not found in {ONNX_INT8_FILE}, e.g. {missing[:3]}")
    return model


def qa_model_from_int8(model_dir: str | Path, word_embeddings_from: str | Path | None = None):
    """(tokenizer, fp32 AutoModelForQuestionAnswering) rebuilt from `model_dir`'s model_int8.onnx,
    config.json and tokenizer (a reader exported with `python -m reader.export DIR --no-torch-weights`);
    `word_embeddings_from` and errors as in float_model_from_int8."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    return tokenizer, float_model_from_int8(model_dir, AutoModelForQuestionAnswering, word_embeddings_from)


def main(argv: list[str] | None = None) -> int:
    """`python -m reader.onnx_weights SRC --out DIR [--word-embeddings-from BASE]`: write SRC's int8 reader
    as a float32 Hugging Face model directory, e.g. to warm-start `clinqa train reader --base DIR`."""
    import argparse

    ap = argparse.ArgumentParser(allow_abbrev=False, prog="python -m reader.onnx_weights",
                                 description="Float32 Hugging Face reader from an int8 ONNX reader (warm start).")
    ap.add_argument("model_dir", help="reader directory with model_int8.onnx, config.json and tokenizer files")
    ap.add_argument("--out", required=True, help="output Hugging Face model directory")
    ap.add_argument("--word-embeddings-from", help="base model directory whose word embeddings the reader kept frozen")
    return run_entry_point(_write_float_reader, parse_args(ap, argv), prog="python -m reader.onnx_weights")


def _write_float_reader(args) -> int:
    src = Path(args.model_dir)
    if not (src / ONNX_INT8_FILE).is_file():
        raise ReaderModelError(f"{src / ONNX_INT8_FILE} not found",
                               "pass a reader directory exported with `python -m reader.export DIR` (it holds "
                               f"{ONNX_INT8_FILE}, config.json and the tokenizer files), e.g. models/reader-mpnet")
    base = args.word_embeddings_from
    if base is not None and not Path(base, "config.json").is_file():
        raise ReaderModelError(f"--word-embeddings-from {base!r} is not a model directory (no config.json)",
                               "pass the base the reader was trained from, e.g. the path printed by "
                               "`bash scripts/mpnet_base.sh runs/bases` for the MPNet reader")
    try:
        tokenizer, model = qa_model_from_int8(src, base)
    except (OSError, ValueError) as exc:
        raise ReaderModelError(f"cannot rebuild a question-answering model from {src}: {exc}",
                               "the directory must hold an extractive reader's export (a span head, qa_outputs); "
                               "rerankers and task models are rebuilt with `python -m tasks.dequantize`") from exc
    if base is None:
        logger.warning("no --word-embeddings-from: the word embeddings are the int8 copy (coarse); pass the base "
                       "model for a reader trained with --freeze-embeddings")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
