"""Reader window length and stride at answer time, side by side on gold passages.

    python benchmarks/bench_reader_windows.py --dataset ../shared/data/covidqa/dev.json \
        [--reader DIR] [--windows 384/128 256/64 320/96]

Each LENGTH/STRIDE runs `pipeline.evaluation.runners.evaluate_reader` (the code behind
`clinqa eval reader`) with ReaderConfig(max_seq_len=LENGTH, doc_stride=STRIDE); prints EM / F1,
ECE and latency per setting. The MPNet reader was trained on 256/64 windows and reads 384/128
by default (ReaderConfig).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from common.cliparse import parse_args
from pipeline.evaluation.datasets import load_qa_dataset
from pipeline.evaluation.runners import evaluate_reader, load_reader
from reader.config import ReaderConfig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, required=True, help="SQuAD-format dev file")
    ap.add_argument("--reader", default=None, help="reader directory (default: the shipped one)")
    ap.add_argument("--windows", nargs="+", default=["384/128", "256/64", "320/96"], metavar="LENGTH/STRIDE")
    ap.add_argument("--threads", type=int, default=2)
    args = parse_args(ap, argv)
    ds = load_qa_dataset(args.dataset)
    model = {"model": args.reader} if args.reader else {}
    for spec in args.windows:
        length, stride = (int(v) for v in spec.split("/"))
        reader = load_reader(ReaderConfig(**model, max_seq_len=length, doc_stride=stride, num_threads=args.threads))
        m = evaluate_reader(ds, reader, f"{length}/{stride}", progress=False).metrics
        print(f"{spec:8s} EM {m['exact_match']:.1f}  F1 {m['f1']:.1f}  ECE {m['ece']:.1f}  "
              f"p50 {m['latency_ms_p50']:.0f} ms  (n={m['n']})")
        print(json.dumps({"window": spec, **{k: round(v, 2) for k, v in m.items() if isinstance(v, float)}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
