"""`clinqa ask` latency (p50/p95, one question at a time, as a clinician asks) for several
pipeline configurations side by side in one run, on the same index and questions.

    python benchmarks/bench_ask.py --index DIR [--questions N] \
        [--config shipped=models/reader] [--config old=runs/r3:rerank=runs/s3/reranker] ...

Each --config is NAME=READER_DIR[:rerank=RERANKER_DIR[:depth=N]][:read=N] (depth: hits reranked;
read: reranked hits the reader reads, EngineConfig.read_depth); the default compares the
shipped reader without reranking and, when models/reranker exists, with it. Questions are
MedQuAD titles of the bundled corpus (fixed seed) unless --queries FILE.jsonl is given. Each
configuration warms up on 3 questions first; the timings are wall-clock seconds of
`QAEngine.ask`, models loaded once.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import time
from pathlib import Path

from common.cliparse import parse_args
from pipeline.engine import EngineConfig, QAEngine
from reader.config import ReaderConfig
from retriever.rerank import DEFAULT_RERANKER_DIR, RerankerConfig

BUNDLED = Path(__file__).resolve().parents[1] / "data" / "corpus" / "medquad.jsonl.gz"


def questions(n: int, seed: int, queries: Path | None) -> list[str]:
    if queries:
        return [json.loads(l)["question"] for l in queries.read_text().splitlines() if l.strip()][:n]
    with gzip.open(BUNDLED, "rt", encoding="utf-8") as f:
        titles = [json.loads(l)["title"] for l in f]
    titles = sorted({t for t in titles if t.endswith("?")})
    random.Random(seed).shuffle(titles)
    return titles[:n]


def parse_config(spec: str) -> tuple[str, ReaderConfig, RerankerConfig | None, dict]:
    """NAME=READER[:rerank=DIR[:depth=N]][:read=N] -> (name, reader, reranker, other EngineConfig fields)."""
    name, _, rest = spec.partition("=")
    parts = rest.split(":")
    reader = ReaderConfig(model=parts[0]) if parts[0] else ReaderConfig()
    rerank = None
    engine: dict = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        if k == "rerank":
            rerank = RerankerConfig(model=v) if v else RerankerConfig()
        elif k == "depth" and rerank is not None:
            rerank = RerankerConfig(model=rerank.model, depth=int(v))
        elif k == "read":
            engine["read_depth"] = int(v)
        else:
            raise SystemExit(f"bench: unknown --config part {p!r} in {spec!r} (rerank=DIR, depth=N, read=N)")
    return name, reader, rerank, engine


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--questions", type=int, default=60)
    ap.add_argument("--queries", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", action="append", default=[])
    args = parse_args(ap, argv)
    specs = args.config or ["shipped="] + ([f"shipped+rerank=:rerank={DEFAULT_RERANKER_DIR}"]
                                            if DEFAULT_RERANKER_DIR.is_dir() else [])
    qs = questions(args.questions, args.seed, args.queries)
    rows = {}
    for spec in specs:
        name, reader, rerank, extra = parse_config(spec)
        engine = QAEngine(EngineConfig(index_dir=args.index, reader=reader, reranker=rerank, **extra)).warm_up()
        for q in qs[:3]:
            engine.ask(q)
        times = []
        for q in qs:
            t0 = time.perf_counter()
            engine.ask(q)
            times.append(time.perf_counter() - t0)
        engine.close()
        rows[name] = {"p50_s": statistics.median(times), "p95_s": pct(times, 0.95), "mean_s": statistics.mean(times),
                      "reader": reader.model, "reranker": rerank.model if rerank else None}
    base = next(iter(rows.values()))["p50_s"]
    print(f"{len(qs)} questions, index {args.index}")
    print(f"{'config':<20}{'p50 s':>8}{'p95 s':>8}{'mean s':>8}{'p50 / first':>13}")
    for name, r in rows.items():
        print(f"{name:<20}{r['p50_s']:8.3f}{r['p95_s']:8.3f}{r['mean_s']:8.3f}{r['p50_s'] / base:13.2f}")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
