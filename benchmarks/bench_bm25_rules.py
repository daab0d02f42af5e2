"""BM25 alone under each set of tokeniser rules, side by side in one run: document hit@1 and
hit@5 of dev questions over an index's passages.

    python benchmarks/bench_bm25_rules.py --index DEV_INDEX --dataset FILE_OR_BEIR_DIR [--dataset ...]

Rules compared (indexer.tokenize): clinqa-biomedical-v1 (no spelling map, no stems), v1 +
British/American spelling (rule 9), and clinqa-biomedical-v2 (spelling + Snowball stems,
rule 10). The index only supplies its passages (title + text, as BM25 indexes them); each
rule set gets its own indexer.bm25.TermIndex, so the index's own tokeniser does not matter.
A question's hit@k is 1 when one of its relevant documents is among the first k distinct
documents (a document ranks at its best passage).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common.cliparse import parse_args
from indexer.bm25 import BM25Config, TermIndex
from indexer.loaded import open_index
from indexer.tokenize import BiomedicalTokenizer, TokenizerConfig
from pipeline.evaluation.datasets import load_retrieval_dataset

RULES = {
    "v1": TokenizerConfig(us_spelling=False, stem=False),
    "v1+spelling": TokenizerConfig(stem=False),
    "v2 (spelling+stems)": TokenizerConfig(),
}


def run(index: Path, datasets: list[Path], depth: int = 50) -> dict:
    loaded = open_index(index)
    try:
        store = loaded.backend.store
        ids, texts = [], []
        for chunk_id, text, _source, title in store.iter_chunks():
            ids.append(chunk_id)
            texts.append(f"{title}\n{text}")
        doc_of = {cid: p.doc_id for cid, p in store.passages(ids).items()}
    finally:
        loaded.close()
    out: dict = {"index": str(index), "passages": len(ids), "datasets": {}}
    sets = [(d, load_retrieval_dataset(d)) for d in datasets]
    for name, config in RULES.items():
        tokenize = BiomedicalTokenizer(config)
        terms = TermIndex(BM25Config())
        terms.build(ids, [tokenize(t) for t in texts])
        for path, ds in sets:
            hit1 = hit5 = 0
            for qid, question in ds.queries.items():
                docs: list[str] = []
                for chunk_id, _ in terms.search(tokenize(question), depth):
                    if doc_of[chunk_id] not in docs:
                        docs.append(doc_of[chunk_id])
                relevant = ds.qrels[qid]
                hit1 += any(d in relevant for d in docs[:1])
                hit5 += any(d in relevant for d in docs[:5])
            n = len(ds.queries)
            out["datasets"].setdefault(path.name, {"n": n})[name] = {"hit@1": round(100 * hit1 / n, 1),
                                                                     "hit@5": round(100 * hit5 / n, 1)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--dataset", type=Path, action="append", required=True)
    ap.add_argument("--json", action="store_true")
    args = parse_args(ap, argv)
    res = run(args.index, args.dataset)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"{'dataset':28s} " + " | ".join(f"{r:>20s}" for r in RULES))
    for name, row in res["datasets"].items():
        print(f"{name[:28]:28s} " + " | ".join(f"{row[r]['hit@1']:>9.1f} / {row[r]['hit@5']:>6.1f}" for r in RULES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
