"""BM25 query speed: clinqa's bm25s term index vs rank_bm25 on the same 100k passages.

Both use the same tokens and the same BM25 variant (Robertson idf = rank_bm25's BM25Okapi),
so the top-10 lists must be identical; the script prints the speed ratio measured side by side.

    python benchmarks/bench_bm25.py [--passages 100000] [--queries 50]
"""
from __future__ import annotations

import argparse
import gzip
import json
import statistics
import time
from pathlib import Path

import numpy as np

from common.cliparse import parse_args
from indexer.bm25 import BM25Config, TermIndex
from indexer.tokenize import tokenize

ROOT = Path(__file__).resolve().parent.parent


def passages_from_corpus(n: int, words: int = 40, stride: int = 25) -> list[str]:
    out: list[str] = []
    with gzip.open(ROOT / "data" / "corpus" / "medquad.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            toks = json.loads(line)["text"].split()
            for i in range(0, max(1, len(toks) - words + stride), stride):
                out.append(" ".join(toks[i : i + words]))
                if len(out) >= n:
                    return out
    return out


def questions(n: int) -> list[str]:
    qs = []
    with gzip.open(ROOT / "data" / "corpus" / "medquad.jsonl.gz", "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i % 97 == 0:
                qs.append(json.loads(line)["title"])
            if len(qs) >= n:
                break
    return qs


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False)
    ap.add_argument("--passages", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=50)
    args = parse_args(ap)
    from rank_bm25 import BM25Okapi

    texts = passages_from_corpus(args.passages)
    tokens = [tokenize(t) for t in texts]
    print(f"{len(texts)} passages, {args.queries} queries")
    ours = TermIndex(BM25Config(k1=1.5, b=0.75, method="robertson"))
    ours.build([str(i) for i in range(len(texts))], tokens)
    ref = BM25Okapi(tokens, k1=1.5, b=0.75)
    qs = [tokenize(q) for q in questions(args.queries)]

    t_ours, t_ref, same = [], [], 0
    for q in qs:
        t0 = time.perf_counter()
        top_ours = [int(c) for c, _ in ours.search(q, 10)]
        t1 = time.perf_counter()
        scores = ref.get_scores(q)
        top_ref = [int(i) for i in np.argsort(-scores, kind="stable")[:10] if scores[i] > 0]
        t2 = time.perf_counter()
        t_ours.append(t1 - t0)
        t_ref.append(t2 - t1)
        # equal scores may swap places; compare the score lists, then the sets
        same += int(np.allclose(scores[top_ours], scores[top_ref], rtol=1e-4) and len(top_ours) == len(top_ref))
    mo, mr = statistics.median(t_ours) * 1000, statistics.median(t_ref) * 1000
    print(f"median per query: clinqa/bm25s {mo:.2f} ms, rank_bm25 {mr:.1f} ms")
    print(f"speed-up: {mr / mo:.0f}x (target >= 50x)")
    print(f"identical top-10 (by score): {same}/{len(qs)}")


if __name__ == "__main__":
    main()
