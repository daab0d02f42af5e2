"""Int8 ONNX files: one dynamic quantiser and one fp16 weight store for every export
(the reader, the task models, the ONNX sentence encoder).

- `quantize_dynamic_int8`: onnxruntime `quantize_dynamic` with int8 weights, per channel
  (activations quantised at run time), some MatMuls optionally left fp32.
- `store_fp32_weights_as_fp16`: the weights a quantiser leaves fp32 (word embeddings,
  excluded MatMuls) stored as fp16 and cast back at load, which roughly halves them on disk.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

logger = logging.getLogger(__name__)


def quantize_dynamic_int8(fp32_path: str | Path, out_path: str | Path, exclude: Sequence[str] = ()) -> Path:
    """Write `out_path`: `fp32_path` with int8 per-channel weights (onnxruntime
    `quantize_dynamic`, QInt8) except the nodes named in `exclude`. Returns `out_path`.

    The quantiser logs every tensor at INFO and its "consider pre-processing" advice at
    WARNING on the root logger; both are silenced for the call (noise for whoever exports)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        quantize_dynamic(str(fp32_path), str(out_path), weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=list(exclude))
    finally:
        root.setLevel(level)
    logger.info("wrote %s (%.1f MB)", out_path, Path(out_path).stat().st_size / 1e6)
    return Path(out_path)


def store_fp32_weights_as_fp16(onnx_path: str | Path, min_elements: int = 65536) -> int:
    """Rewrite `onnx_path` in place so that every fp32 initializer of at least `min_elements`
    values is stored as fp16 and cast back to fp32 by a Cast node in front of the graph.

    Values change by the fp16 rounding only (relative error <= 2**-11; checked against the fp32
    graph in tests/test_reader_backends.py); onnxruntime constant-folds the Casts at session
    load, so inference computes in fp32 exactly as before. Returns the number of initializers
    converted. Small tensors (biases, LayerNorms, scales) stay fp32: they cost nothing.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(onnx_path))
    graph = model.graph
    casts, converted = [], 0
    for init in list(graph.initializer):
        if init.data_type != onnx.TensorProto.FLOAT or int(np.prod(init.dims)) < min_elements:
            continue
        name = init.name
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), name + "_fp16")
        graph.initializer.remove(init)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [name], name=name + "_cast", to=onnx.TensorProto.FLOAT))
        converted += 1
    for node in reversed(casts):
        graph.node.insert(0, node)
    onnx.save(model, str(onnx_path))
    logger.info("stored %d fp32 weights as fp16 in %s (%.1f MB)", converted, onnx_path,
                Path(onnx_path).stat().st_size / 1e6)
    return converted
