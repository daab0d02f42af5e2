"""Search backends side by side: local (FAISS + bm25s) vs Milvus Lite; Ray vs single-process embedding.

Part 1, per size (default 10k and 100k passages of the bundled MedQuAD text, sliding windows):
build cost (store + engine, through the `SearchBackend` contract) and query cost (BM25 leg,
dense leg, hybrid through `HybridRetriever`), and how far Milvus agrees with local: mean
Recall@10 of Milvus' top-10 against local's top-10, and the share of identical top-10 lists.
Vectors: `--vectors hashed` (default) are 384-d feature-hashed token counts, cheap and
lexical, so 100k passages need no hour of embedding; `--vectors encoder` embeds with the
packaged MiniLM (slow on 2 cores). Both backends get the same vectors, so any dense
disagreement is the engines', not the encoder's.

Part 2: embedding throughput of the packaged MiniLM on `--embed-passages` passages,
single-process `DenseEncoder` vs Ray Data `map_batches` on an actor pool (`indexer.distributed`).

    python benchmarks/bench_backends.py [--sizes 10000 100000] [--queries 50] [--embed-passages 1000]
    python benchmarks/bench_backends.py --sizes 10000 --skip-ray
"""
from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.cliparse import parse_args  # noqa: E402
from benchmarks.bench_bm25 import passages_from_corpus, questions  # noqa: E402
from indexer.backends import make_backend  # noqa: E402
from indexer.bm25 import BM25Config  # noqa: E402
from indexer.dense import FaissConfig  # noqa: E402
from indexer.tokenize import tokenize  # noqa: E402
from retriever import HybridRetriever, RetrieverConfig  # noqa: E402
from store import Document, Passage, chunk_id_for  # noqa: E402

DIM = 384


def hashed_vector(text: str) -> np.ndarray:
    """Feature hashing of the BM25 tokens into DIM signed buckets, plus a little text-seeded
    noise (integer counts alone tie often, and engines break ties differently), L2-normalised."""
    v = np.zeros(DIM, dtype=np.float32)
    for t in tokenize(text):
        h = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
        v[h % DIM] += 1.0 if (h >> 32) & 1 else -1.0
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    v += 0.05 * np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    n = np.linalg.norm(v)
    return v / n if n else v


def corpus(n: int) -> list[tuple[Document, list[Passage]]]:
    items = []
    for i, text in enumerate(passages_from_corpus(n)):
        doc = Document(f"p{i}", "", text, source=f"s{i % 7}")
        items.append((doc, [Passage(chunk_id_for(doc.doc_id, 0, text), doc.doc_id, 0, text, 0, len(text), source=doc.source)]))
    return items


def build(kind: str, directory: Path, items, vectors: np.ndarray) -> tuple[object, dict[str, float]]:
    t0 = time.perf_counter()
    backend = make_backend(kind, directory, DIM, tokenize, FaissConfig(), BM25Config()).create()
    backend.upsert_documents(items)
    t1 = time.perf_counter()
    passages = [p for _, ps in items for p in ps]
    for i in range(0, len(passages), 2048):
        backend.add(passages[i : i + 2048], vectors[i : i + 2048])
    backend.refresh()
    backend.save()
    t2 = time.perf_counter()
    backend.close()
    backend = make_backend(kind, directory, DIM, tokenize, FaissConfig(), BM25Config()).open(expected_chunks=len(passages))
    t3 = time.perf_counter()
    return backend, {"store_s": t1 - t0, "engine_s": t2 - t1, "open_s": t3 - t2, "total_s": t3 - t0}


def query_runs(backend, qs: list[str], embed) -> dict[str, object]:
    retriever = HybridRetriever(backend, embed, RetrieverConfig(top_k=10))
    out: dict[str, object] = {"bm25_scores": [dict(backend.search_text(q, 200)) for q in qs]}
    for leg in ("bm25", "dense", "hybrid"):
        times, tops = [], []
        for q in qs:
            t0 = time.perf_counter()
            if leg == "bm25":
                top = [c for c, _ in backend.search_text(q, 10)]
            elif leg == "dense":
                top = [c for c, _ in backend.search_vector(embed(q), 10)]
            else:
                top = [h.passage.chunk_id for h in retriever.search(q, top_k=10)]
            times.append((time.perf_counter() - t0) * 1000)
            tops.append(top)
        out[leg] = {"median_ms": statistics.median(times), "tops": tops}
    return out


def agreement(a: list[list[str]], b: list[list[str]]) -> tuple[float, float]:
    """Mean Recall@10 of b's top-10 against a's, and the share of identical top-10 lists."""
    rec = [len(set(x) & set(y)) / max(1, len(x)) for x, y in zip(a, b)]
    same = [x == y for x, y in zip(a, b)]
    return float(np.mean(rec)), float(np.mean(same))


def tie_aware(a_scores: list[dict[str, float]], a: list[list[str]], b: list[list[str]]) -> float:
    """Share of b's top-10 that a scores at least as high as a's own 10th passage (to 1e-4
    relative): disagreements that are only ties or near-ties in a do not count."""
    ok = []
    for scores, x, y in zip(a_scores, a, b):
        if not x:
            ok.append(1.0 if not y else 0.0)
            continue
        floor = scores[x[-1]] * (1 - 1e-4)
        ok.append(sum(scores.get(c, 0.0) >= floor for c in y) / max(1, len(y)))
    return float(np.mean(ok))


def part_backends(sizes: list[int], n_queries: int, vectors_kind: str) -> list[dict]:
    rows = []
    qs = questions(n_queries)
    encoder = None
    if vectors_kind == "encoder":
        from indexer.dense import DenseEncoder

        encoder = DenseEncoder()
    embed = (lambda q: encoder.encode([q])[0]) if encoder else hashed_vector
    for n in sizes:
        items = corpus(n)
        texts = [p.text for _, ps in items for p in ps]
        t0 = time.perf_counter()
        vectors = encoder.encode(texts) if encoder else np.stack([hashed_vector(t) for t in texts])
        # progress on stderr, so --json output stays pure JSON
        print(f"{len(items)} passages; vectors ({vectors_kind}) in {time.perf_counter() - t0:.1f} s", file=sys.stderr,
              flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-backends-") as tmp:
            results = {}
            for kind in ("local", "milvus"):
                backend, cost = build(kind, Path(tmp) / kind / "gen-bench", items, vectors)
                results[kind] = (cost, query_runs(backend, qs, embed))
                backend.close()
                print(f"  {kind:6s} build {cost['total_s']:.1f} s (store {cost['store_s']:.1f}, engine {cost['engine_s']:.1f}, "
                      f"open {cost['open_s']:.1f})", file=sys.stderr, flush=True)
        row = {"passages": len(items), "queries": len(qs)}
        for kind, (cost, runs) in results.items():
            row[f"{kind}_build_s"] = round(cost["total_s"], 2)
            row[f"{kind}_engine_s"] = round(cost["engine_s"], 2)
            for leg in ("bm25", "dense", "hybrid"):
                row[f"{kind}_{leg}_ms"] = round(runs[leg]["median_ms"], 2)
        for leg in ("bm25", "dense", "hybrid"):
            rec, same = agreement(results["local"][1][leg]["tops"], results["milvus"][1][leg]["tops"])
            row[f"{leg}_recall10_agreement"] = round(rec, 4)
            row[f"{leg}_identical_top10"] = round(same, 4)
        row["bm25_top10_within_local_ties"] = round(tie_aware(
            results["local"][1]["bm25_scores"], results["local"][1]["bm25"]["tops"], results["milvus"][1]["bm25"]["tops"]), 4)
        row["build_ratio_milvus_over_local"] = round(row["milvus_build_s"] / row["local_build_s"], 2)
        row["hybrid_query_ratio_milvus_over_local"] = round(row["milvus_hybrid_ms"] / row["local_hybrid_ms"], 2)
        rows.append(row)
    return rows


def part_ray(n: int, actors: int) -> dict:
    from indexer.dense import DenseEncoder, EncoderConfig
    from indexer.distributed import EmbedStage, RayConfig, ray_session

    import os

    import torch

    torch.set_num_threads(os.cpu_count() or 1)  # the single process may use every core, like Ray's actors together
    texts = passages_from_corpus(n)
    rows = [{"chunk_id": f"{i:015x}", "doc_id": f"p{i}", "order": 0, "text": t, "start": 0, "end": len(t),
             "title": "", "source": ""} for i, t in enumerate(texts)]
    enc = DenseEncoder(EncoderConfig())
    enc.warm_up()
    enc.encode(texts[:16])  # warm
    t0 = time.perf_counter()
    single = enc.encode(texts)
    single_s = time.perf_counter() - t0
    with ray_session(RayConfig(num_cpus=actors)) as ray:
        t0 = time.perf_counter()
        out = (ray.data.from_items(rows)
               .map_batches(EmbedStage, fn_constructor_kwargs={"encoder_config": EncoderConfig()},
                            compute=ray.data.ActorPoolStrategy(size=actors), batch_size=64, batch_format="numpy")
               .take_all())
        ray_s = time.perf_counter() - t0  # includes actor start-up and model load, as a real run pays
    by_id = {r["chunk_id"]: np.asarray(r["vector"]) for r in out}
    cos = float(min(float(single[i] @ by_id[f"{i:015x}"]) for i in range(len(texts))))
    return {"passages": n, "actors": actors, "single_process_per_s": round(n / single_s, 1),
            "ray_per_s": round(n / ray_s, 1), "ray_over_single": round(single_s / ray_s, 2), "min_cosine": round(cos, 5)}


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--vectors", choices=["hashed", "encoder"], default="hashed")
    ap.add_argument("--embed-passages", type=int, default=1000)
    ap.add_argument("--ray-actors", type=int, default=2)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = parse_args(ap)
    # One thread per query, as QAEngine does: OpenMP spin-waiting next to busy threads turns
    # millisecond FAISS searches into hundreds of milliseconds on a loaded machine.
    import faiss
    import torch

    faiss.omp_set_num_threads(1)
    torch.set_num_threads(1)
    rows = part_backends(args.sizes, args.queries, args.vectors)
    ray_row = None if args.skip_ray else part_ray(args.embed_passages, args.ray_actors)
    if args.json:
        print(json.dumps({"backends": rows, "ray_embedding": ray_row}, indent=2))
        return
    print("\n| passages | build local s | build Milvus Lite s | ratio | hybrid ms local | hybrid ms Milvus | "
          "BM25 R@10 agr. | BM25 within local ties | dense R@10 agr. | hybrid R@10 agr. | hybrid identical top-10 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['passages']} | {r['local_build_s']} | {r['milvus_build_s']} | {r['build_ratio_milvus_over_local']}x | "
              f"{r['local_hybrid_ms']} | {r['milvus_hybrid_ms']} | {r['bm25_recall10_agreement']} | "
              f"{r['bm25_top10_within_local_ties']} | "
              f"{r['dense_recall10_agreement']} | {r['hybrid_recall10_agreement']} | {r['hybrid_identical_top10']} |")
    print(json.dumps(rows, indent=1))
    if ray_row:
        print(f"\nembedding {ray_row['passages']} passages: single process {ray_row['single_process_per_s']}/s, "
              f"Ray ({ray_row['actors']} actors) {ray_row['ray_per_s']}/s -> {ray_row['ray_over_single']}x; "
              f"min cosine {ray_row['min_cosine']}")


if __name__ == "__main__":
    main()
