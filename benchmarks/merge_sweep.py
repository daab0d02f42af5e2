"""How BioASQ snippet answers are merged: best score vs support at several temperatures.

    python benchmarks/merge_sweep.py [--model models/reader] [--dataset .../BioASQ-val-factoid.json]

Reads every (question, snippet) item once, then ranks each question's answers with
`reader.bioasq.merge_candidates` under each rule and prints strict / lenient / MRR@5
(percent). The shipped rule is "support" at the reader's calibration temperature.
"""
from __future__ import annotations

import argparse

from common.cliparse import parse_args
from common.env import set_offline_defaults

set_offline_defaults()


def main() -> None:
    from reader.bioasq import factoid_metrics
    from reader.config import ReaderConfig
    from reader.reader import ExtractiveReader
    from reader.squad import load_squad

    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=ReaderConfig().model)
    ap.add_argument("--backend", default="onnx", choices=["onnx", "torch"])
    ap.add_argument("--dataset", default="/work/shared/data/bioasq/BioASQ-val-factoid.json")
    ap.add_argument("--temperatures", type=float, nargs="+", default=[1, 2, 4, 8, 16, 32])
    args = parse_args(ap)
    reader = ExtractiveReader(ReaderConfig(model=args.model, backend=args.backend, num_threads=2))
    reader.warm_up()
    examples = load_squad(args.dataset)
    cands = {k: [(c.text, c.score) for c in v[0]] for k, v in reader.predict_examples(examples).items()}
    rows = [("best", None)] + [("support", t) for t in sorted({*args.temperatures, reader.merge_temperature})]
    print(f"{'merge':8s} {'T':>7s} {'strict':>7s} {'lenient':>8s} {'MRR@5':>6s}")
    for merge, t in rows:
        m = factoid_metrics(cands, examples, merge=merge, temperature=t or 1.0)
        mark = "  <- shipped (calibration T)" if t == reader.merge_temperature else ""
        print(f"{merge:8s} {'' if t is None else f'{t:.2f}':>7s} {m['strict']:7.1f} {m['lenient']:8.1f} {m['mrr']:6.1f}{mark}")


if __name__ == "__main__":
    main()
