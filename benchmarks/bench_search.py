"""`clinqa search` latency on the default corpus, batch mode, models loaded once.

    python benchmarks/bench_search.py --index ~/.local/share/clinqa/index [--queries 200]

Builds the index from the bundled corpus first if DIR has none (and reports build time
and passages per second). Prints per-mode median and p95 latency (target: median < 50 ms).
"""
from __future__ import annotations

import argparse
import gzip
import json
import statistics
import time
from pathlib import Path

from common.cliparse import parse_args

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "corpus" / "medquad.jsonl.gz"


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=200)
    args = parse_args(ap)
    from indexer.writer import IndexWriter
    from pipeline.engine import EngineConfig, QAEngine

    if not (args.index / "manifest.json").exists():
        t0 = time.perf_counter()
        rep = IndexWriter(args.index).build([CORPUS])
        dt = time.perf_counter() - t0
        print(f"build: {rep.documents} documents, {rep.chunks} passages in {dt:.0f} s "
              f"({rep.chunks / dt:.1f} passages/s end to end)")
    qs = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i % 53 == 0:
                # paraphrase-free but realistic: the consumer question titles of MedQuAD
                qs.append(json.loads(line)["title"])
            if len(qs) >= args.queries:
                break
    engine = QAEngine(EngineConfig(index_dir=args.index)).warm_up(with_reader=False)
    engine.search("warm up")
    for mode in ("bm25", "dense", "hybrid"):
        times = []
        for q in qs:
            t0 = time.perf_counter()
            engine.search(q, mode=mode, top_k=10)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p95 = times[int(0.95 * (len(times) - 1))]
        print(f"{mode:7s} median {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms   ({len(times)} queries)")


if __name__ == "__main__":
    main()
