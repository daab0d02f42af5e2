"""Reader speed and accuracy: ONNX int8 vs fp32 PyTorch, side by side in one run.

    python benchmarks/bench_reader.py [--model models/reader] [--dev FILE] [--threads 2] [--windows 256]

Speed: the same fixed set of real dev windows (question + passage, dynamic padding,
batch size --batch) is run through both backends, interleaved in rounds so that CPU
contention from other jobs hits both alike; per-window latency is the median over rounds.
Accuracy: SQuAD EM/F1 on the dev file for both backends.
The int8 model is model_int8.onnx from the model directory; fp32 PyTorch loads the
same directory's weights upcast to fp32.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.cliparse import parse_args  # noqa: E402
from common.env import set_offline_defaults  # noqa: E402

set_offline_defaults()


def main(argv=None) -> int:
    from reader.config import DEFAULT_MODEL_DIR, ReaderConfig
    from reader.evaluate import evaluate_examples, window_logits
    from reader.features import make_windows
    from reader.reader import ExtractiveReader
    from reader.squad import load_squad

    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(DEFAULT_MODEL_DIR))
    ap.add_argument("--dev", default="/work/shared/data/covidqa/dev.json")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--windows", type=int, default=256, help="windows in the speed set")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", help="write the JSON result here")
    args = parse_args(ap, argv)

    readers = {
        "torch_fp32": ExtractiveReader(ReaderConfig(model=args.model, backend="torch", num_threads=args.threads)),
        "onnx_int8": ExtractiveReader(ReaderConfig(model=args.model, backend="onnx", quantized=True, num_threads=args.threads)),
    }
    for r in readers.values():
        r.warm_up()
    exs = load_squad(args.dev)
    tok = readers["torch_fp32"]._tokenizer
    windows = make_windows(tok, [e.question for e in exs], [e.context for e in exs], 384, 128)[: args.windows]
    mean_len = sum(len(w.input_ids) for w in windows) / len(windows)

    times: dict[str, list[float]] = {k: [] for k in readers}
    for name, r in readers.items():  # warm-up pass (allocations, thread pools)
        window_logits(r._logits_fn, windows[: args.batch], tok.pad_token_id, args.batch)
    for _ in range(args.rounds):
        for name, r in readers.items():
            t0 = time.perf_counter()
            window_logits(r._logits_fn, windows, tok.pad_token_id, args.batch)
            times[name].append((time.perf_counter() - t0) / len(windows))
    ms = {k: 1000 * statistics.median(v) for k, v in times.items()}

    acc = {}
    for name, r in readers.items():
        m, _ = evaluate_examples(r._logits_fn, tok, exs, max_seq_len=384, doc_stride=128, batch_size=args.batch)
        acc[name] = m
    res = {
        "model": args.model,
        "threads": args.threads,
        "windows": len(windows),
        "mean_window_tokens": round(mean_len, 1),
        "ms_per_window": {k: round(v, 2) for k, v in ms.items()},
        "speedup_int8_vs_fp32": round(ms["torch_fp32"] / ms["onnx_int8"], 2),
        "dev": args.dev,
        "dev_metrics": acc,
        "f1_change_int8": round(acc["onnx_int8"]["f1"] - acc["torch_fp32"]["f1"], 2),
        "em_change_int8": round(acc["onnx_int8"]["exact_match"] - acc["torch_fp32"]["exact_match"], 2),
        "load_avg": os.getloadavg(),
    }
    print(json.dumps(res, indent=2))
    print(f"speed-up ONNX int8 / torch fp32: {res['speedup_int8_vs_fp32']}x; "
          f"F1 change {res['f1_change_int8']:+.2f}, EM change {res['em_change_int8']:+.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
