"""Reranking: cost per query at several depths beside first-stage retrieval cost, and quality
with and without the reranker, side by side in one run.

    python benchmarks/bench_rerank.py --index DEV_INDEX --dataset FILE [--dataset FILE ...]
                                      [--depths 20 50 100] [--limit N] [--reranker DIR]
                                      [--first-stage-weights 0 0.3 0.5]

For every question: the hybrid first stage (timed), then the cross-encoder over its top
20/50/100 (timed per depth); document-level Recall@1/@5 and nDCG@10 (ranx, as `clinqa eval
retrieval`) for the first stage alone and for each depth, and per first-stage weight w
(RerankerConfig.first_stage_weight: order by (1 - w) * calibrated P(relevant) + w * fused score; the
reranker scores each question once, every w reorders the same scores) and per blend dense weight
(`--blend-dense-weights fused 0.7`: RerankerConfig.blend_dense_weight, the legs re-fused inside the
blend). Single-threaded query path like `clinqa ask` (EngineConfig.query_threads = 1; the reranker's ONNX session uses the runtime
default). Prints one table; `--json` for machine-readable output.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from common.cliparse import parse_args, usage_error
from pipeline.engine import EngineConfig, QAEngine
from pipeline.evaluation.datasets import load_retrieval_dataset
from pipeline.evaluation.metrics import doc_ranking, retrieval_metrics
from pipeline.questions import model_question
from retriever import RetrieverConfig
from retriever.errors import RetrieverError
from retriever.rerank import RerankerConfig, blend_scores, rerank_order


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def blend_weight(text: str) -> float | None:
    """argparse type of --blend-dense-weights: 'fused' (None) or a number (its range is
    RerankerConfig's to check)."""
    if text == "fused":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; use 'fused' or a dense weight in [0, 1]") from None


def run_name(depth: int, weight: float, blend_dense: float | None = None) -> str:
    return (f"rerank@{depth}" + (f" w={weight:g}" if weight else "")
            + (f" bd={blend_dense:g}" if weight and blend_dense is not None else ""))


def run(index: Path, datasets: list[Path], depths: list[int], limit: int | None, reranker: str | None,
        weights: list[float] = (0.0,), blend_dense: list[float | None] = (None,)) -> dict:
    cfg = RerankerConfig(model=reranker) if reranker else RerankerConfig()
    engine = QAEngine(EngineConfig(index_dir=index, retriever=RetrieverConfig(top_k=max(depths)),
                                   reranker=cfg)).warm_up(with_reader=False)
    out: dict = {"index": str(index), "reranker": engine.reranker.describe(), "datasets": {}}
    try:
        for path in datasets:
            ds = load_retrieval_dataset(path, limit=limit)
            first_ms, rerank_ms = [], {d: [] for d in depths}
            rankings: dict[str, dict[str, list[str]]] = {
                "first stage": {}, **{run_name(d, w, b): {} for d in depths for w in weights for b in blend_dense}}
            for qid, text in ds.queries.items():
                q = model_question(text)
                t0 = time.perf_counter()
                hits = engine.retriever.search(q, top_k=max(depths))
                first_ms.append((time.perf_counter() - t0) * 1000)
                chunks = [h.passage.chunk_id for h in hits]
                passages = {h.passage.chunk_id: h.passage for h in hits}
                chunk_doc = {c: p.doc_id for c, p in passages.items()}
                rankings["first stage"][qid] = doc_ranking(chunks, chunk_doc)
                for d in depths:
                    t1 = time.perf_counter()
                    logits = engine.reranker.score(q, [(passages[c].title, passages[c].text) for c in chunks[:d]])
                    rerank_ms[d].append((time.perf_counter() - t1) * 1000)
                    probs = engine.reranker.probability(logits).tolist()
                    for w in weights:
                        for b in blend_dense:
                            # re-fused over the candidates at this depth, as CrossEncoderReranker.rerank does
                            order = rerank_order(logits.tolist(), list(range(len(logits))),
                                                 blend_scores(hits[:d], b), w, probs)
                            ranked = [chunks[i] for i in order] + chunks[d:]
                            rankings[run_name(d, w, b)][qid] = doc_ranking(ranked, chunk_doc)
            rows = {}
            for name, ranking in rankings.items():
                m = retrieval_metrics(ds.qrels, ranking)
                ms = first_ms if name == "first stage" else rerank_ms[int(name.split("@")[1].split()[0])]
                rows[name] = {"recall@1": m["recall@1"], "recall@5": m["recall@5"], "ndcg@10": m["ndcg@10"],
                              "ms_p50": statistics.median(ms), "ms_p95": pct(ms, 0.95),
                              "cost_vs_first_stage": statistics.median(ms) / max(statistics.median(first_ms), 1e-9)}
            out["datasets"][path.name] = {"n": len(ds.queries), "runs": rows}
    finally:
        engine.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--dataset", type=Path, action="append", required=True)
    ap.add_argument("--depths", type=int, nargs="+", default=[20, 50, 100])
    ap.add_argument("--limit", type=int)
    ap.add_argument("--reranker")
    default = RerankerConfig()
    ap.add_argument("--first-stage-weights", type=float, nargs="+",
                    default=[0.0, default.first_stage_weight],
                    help="w values to compare, each in [0, 1) (RerankerConfig.first_stage_weight; default: 0 = "
                         "reranker alone, and the product's %(default)s)")
    ap.add_argument("--blend-dense-weights", type=blend_weight, nargs="+", default=[default.blend_dense_weight],
                    help="first-stage score inside the blend: 'fused' (the hit's own score) or a dense weight in "
                         "[0, 1] to re-fuse the legs with (RerankerConfig.blend_dense_weight; default: the "
                         "product's %(default)s)")
    ap.add_argument("--json", action="store_true")
    args = parse_args(ap, argv)
    for w in args.first_stage_weights:  # RerankerConfig's own bounds, before any model loads
        for b in args.blend_dense_weights:
            try:
                RerankerConfig(first_stage_weight=w, blend_dense_weight=b)
            except RetrieverError as exc:  # the config's hint names Python values (None); say the flags' ones
                usage_error(ap, exc.message, "--first-stage-weights take numbers in [0, 1); --blend-dense-weights "
                                             "take 'fused' or numbers in [0, 1]")
    res = run(args.index, args.dataset, args.depths, args.limit, args.reranker, args.first_stage_weights,
              args.blend_dense_weights)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"index {res['index']}; {res['reranker']}")
    for name, d in res["datasets"].items():
        print(f"\n{name} ({d['n']} questions)")
        print(f"{'run':<26}{'R@1':>7}{'R@5':>7}{'nDCG@10':>9}{'ms p50':>9}{'ms p95':>9}{'x first':>9}")
        for label, r in d["runs"].items():
            print(f"{label:<26}{r['recall@1']:7.1f}{r['recall@5']:7.1f}{r['ndcg@10']:9.1f}{r['ms_p50']:9.1f}"
                  f"{r['ms_p95']:9.1f}{r['cost_vs_first_stage']:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
