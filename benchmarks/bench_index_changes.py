"""BM25 after `index add` / update / `index remove` vs a fresh build of the same documents (issue 17).

    python benchmarks/bench_index_changes.py [--docs 20] [--backends local milvus] [--json]

With the writer the CLI uses (`IndexWriter`, no annotation, the bundled corpus's precomputed
vectors), per backend:

1. "add": build the first N documents of the bundled MedQuAD corpus, then `add` document N+1;
   compare with a fresh build of the N+1 documents.
2. "changes": then update document 1 (a sentence appended) and remove document 2; compare with a
   fresh build of that final set.

Reported: for a one-word query (the added document's rarest title word) the added document's
BM25 score after `add` and in the fresh build; and over every document title as a query, the
largest relative difference of a BM25 score (top 10) and the share of identical top-10 lists.
Before the fix (Milvus' own BM25) the Milvus backend scored the added document with statistics
of its own segment; after it, both backends equal their fresh builds.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.cliparse import parse_args  # noqa: E402
from indexer.dense import EncoderConfig  # noqa: E402
from indexer.embcache import bundled_embeddings_path  # noqa: E402
from indexer.loaded import open_index  # noqa: E402
from indexer.tokenize import tokenize  # noqa: E402
from indexer.writer import IndexConfig, IndexWriter  # noqa: E402

CORPUS = ROOT / "data" / "corpus" / "medquad.jsonl.gz"


def first_docs(n: int) -> list[dict]:
    out = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        for line in fh:
            out.append(json.loads(line))
            if len(out) == n:
                break
    return out


def write(path: Path, docs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


def build(root: Path, name: str, backend: str, docs: list[dict]) -> Path:
    cache = str(bundled_embeddings_path()) if bundled_embeddings_path().is_file() else None
    index = root / name
    IndexWriter(index, IndexConfig(backend=backend, encoder=EncoderConfig(cache=cache)),
                show_progress=False).build([write(root / f"{name}.jsonl", docs)])
    return index


def compare(changed: Path, fresh: Path, queries: list[str]) -> dict:
    a, b = open_index(changed), open_index(fresh)
    try:
        worst, same = 0.0, 0
        for q in queries:
            got, want = a.backend.search_text(q, 10), b.backend.search_text(q, 10)
            same += [c for c, _ in got] == [c for c, _ in want]
            want_d = dict(want)
            for c, s in got:
                if c in want_d:
                    worst = max(worst, abs(s - want_d[c]) / max(abs(want_d[c]), 1e-12))
        return {"max_rel_diff": worst, "identical_top10": same / len(queries)}
    finally:
        a.close()
        b.close()


def doc_score(index: Path, query: str, doc_id: str) -> float:
    loaded = open_index(index)
    try:
        hits = loaded.backend.search_text(query, 1000)
        passages = loaded.backend.passages([c for c, _ in hits])
        return max((s for c, s in hits if passages[c].doc_id == doc_id), default=0.0)
    finally:
        loaded.close()


def run(backend: str, docs: list[dict], root: Path) -> dict:
    base, extra = docs[:-1], docs[-1]
    df = Counter(t for d in docs for t in set(tokenize(f"{d['title']}\n{d['text']}")))
    word = min((t for t in tokenize(extra["title"]) if t.isalpha()), key=lambda t: (df[t], t))
    queries = [d["title"] for d in docs]
    start = time.perf_counter()
    changed = build(root, f"{backend}-changed", backend, base)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    IndexWriter(changed, show_progress=False).add([write(root / f"{backend}-extra.jsonl", [extra])])
    add_s = time.perf_counter() - start
    fresh_add = build(root, f"{backend}-fresh-add", backend, docs)
    out = {"backend": backend, "documents": len(docs), "query": word,
           "added_doc_score_after_add": doc_score(changed, word, extra["id"]),
           "added_doc_score_fresh_build": doc_score(fresh_add, word, extra["id"]),
           "add": compare(changed, fresh_add, queries + [word]), "build_seconds": build_s, "add_seconds": add_s}
    updated = dict(docs[0], text=docs[0]["text"] + " Ask your doctor about clinical trials of new treatments.")
    IndexWriter(changed, show_progress=False).add([write(root / f"{backend}-update.jsonl", [updated])])
    IndexWriter(changed, show_progress=False).remove([docs[1]["id"]])
    final = [updated] + docs[2:]
    fresh_final = build(root, f"{backend}-fresh-final", backend, final)
    out["changes"] = compare(changed, fresh_final, queries + [word])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=20, help="documents in the first build (one more is added)")
    ap.add_argument("--backends", nargs="+", default=["local", "milvus"], choices=["local", "milvus"])
    ap.add_argument("--json", action="store_true")
    args = parse_args(ap)
    docs = first_docs(args.docs + 1)
    results = []
    with tempfile.TemporaryDirectory(prefix="clinqa-bench-changes-") as tmp:
        for backend in args.backends:
            results.append(run(backend, docs, Path(tmp)))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(f"{r['backend']}: {r['documents']} documents; query {r['query']!r}: added document scores "
              f"{r['added_doc_score_after_add']:.3f} after add vs {r['added_doc_score_fresh_build']:.3f} in a fresh build")
        for step in ("add", "changes"):
            print(f"  {step:8s} vs fresh build: max relative BM25 score difference {r[step]['max_rel_diff']:.2e}, "
                  f"identical top-10 {100 * r[step]['identical_top10']:.0f} %")
        print(f"  build {r['build_seconds']:.1f} s, add of one document {r['add_seconds']:.1f} s")


if __name__ == "__main__":
    main()
