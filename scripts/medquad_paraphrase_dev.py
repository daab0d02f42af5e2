"""A paraphrase dev set over the bundled corpus, as a BEIR folder for `clinqa eval retrieval`
and benchmarks/bench_rerank.py.

    python scripts/medquad_paraphrase_dev.py --out runs/medquad-paraphrase-dev [--n 300]
    python benchmarks/bench_rerank.py --index BUNDLED_INDEX --dataset runs/medquad-paraphrase-dev

Questions come from the documents that reranker training holds out
(tasks.reranker.is_corpus_dev_document), reworded with the dev templates of tasks.paraphrase
(never used in training), so a model that only matches MedQuAD's title wording scores low.
Relevant: the document itself and every document with the same title (MedQuAD repeats
topics across collections). Deterministic for a given --seed.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
from collections import defaultdict
from pathlib import Path

from common.cliparse import parse_args
from tasks.paraphrase import paraphrase_question
from tasks.reranker import is_corpus_dev_document, normalize_title

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=str(ROOT / "data" / "corpus" / "medquad.jsonl.gz"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=300, help="questions (default %(default)s)")
    ap.add_argument("--seed", type=int, default=7)
    args = parse_args(ap, argv)

    with gzip.open(args.corpus, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    by_title: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        by_title[normalize_title(r.get("title") or "")].append(r["id"])
    held = [r for r in rows if is_corpus_dev_document(r["id"]) and (r.get("title") or "").rstrip().endswith("?")]
    rng = random.Random(args.seed)
    rng.shuffle(held)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    queries, qrels, judged = [], [], {}
    for r in held:
        q = paraphrase_question(r["title"], rng, "dev")
        if q is None:
            continue
        qid = f"mqp{len(queries)}"
        queries.append({"_id": qid, "text": q})
        for doc_id in by_title[normalize_title(r["title"])]:
            qrels.append(f"{qid}\t{doc_id}\t1")
        judged[r["id"]] = r
        if len(queries) >= args.n:
            break
    (out / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (out / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n", encoding="utf-8")
    # The judged documents only: the questions are meant to run against the bundled corpus index.
    (out / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": r["id"], "title": r.get("title") or "", "text": r["text"]}, ensure_ascii=False) + "\n"
        for r in judged.values()), encoding="utf-8")
    print(json.dumps({"queries": len(queries), "qrels": len(qrels), "out": str(out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
