"""Which passages the reader gets: over one index, the share of questions whose top-k hits
hold the gold passage (strict) or a gold answer string (lenient: answer recall@k, the
"paragraph recall" of BERTserini, Yang et al. 2019), for several retrieval configurations
side by side in one run.

    python benchmarks/bench_read_passages.py --index INDEX --dataset SQUAD.json [--dataset ...]
                                             [--config NAME=[:rerank=[DIR]]] ... [--ks 1 3 5 20] [--json]

Unlike `bench_rerank.py` (document level: a dataset's own contexts are its documents), the
index here can be any corpus, e.g. our consumer-page span annotations (scripts/
consumer_reader_data.py dev.json) over the bundled corpus: the measure is then whether the
passage *inside a long page* that holds the answer is among the ones read (the product reads
the top 3, EngineConfig.read_depth). Answer recall counts a passage holding the answer string
by chance (a list item such as "kidney failure" occurs on many pages), so it reads higher than
passage recall; answers shorter than 3 characters are ignored. Configurations use the bench_ask
syntax without a reader (nothing is read): `first-stage=` (no reranker), `NAME=:rerank=` (the
shipped reranker), `NAME=:rerank=DIR[:depth=N]`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common.cliparse import parse_args
from pipeline.engine import EngineConfig, QAEngine
from pipeline.evaluation.datasets import load_qa_dataset
from reader.config import ReaderConfig
from retriever.rerank import DEFAULT_RERANKER_DIR, RerankerConfig
from tasks.reranker import passage_key

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ask import parse_config as bench_ask_config  # noqa: E402  (sibling benchmark script)


def parse_config(spec: str) -> tuple[str, RerankerConfig | None]:
    """bench_ask's NAME=READER[:rerank=DIR[:depth=N]] with READER empty -> (name, reranker config
    or None for the first stage alone). A reader or `read=` is refused: this benchmark reads nothing."""
    name, reader, reranker, extra = bench_ask_config(spec)
    if reader != ReaderConfig() or extra:
        raise SystemExit(f"bench: --config {spec!r}: no reader here (nothing is read); use NAME= or NAME=:rerank=[DIR]")
    return name, reranker


def _recall(first: list[int | None], ks: list[int], prefix: str) -> dict[str, float]:
    n = max(len(first), 1)
    out = {f"{prefix}recall@{k}": 100.0 * sum(f is not None and f < k for f in first) / n for k in ks}
    out[f"{prefix}mrr"] = 100.0 * sum(1.0 / (f + 1) for f in first if f is not None) / n
    return out


def answer_recall(hit_texts: list[list[str]], answers: list[tuple[str, ...]], ks: list[int]) -> dict[str, float]:
    """Percent of questions with a gold answer (casefolded substring) in their top k hit texts,
    per k, and the MRR (percent) of the first such hit (pure). Lenient: a common answer
    ("kidney failure") also counts in passages other than the gold one."""
    first: list[int | None] = []
    for texts, golds in zip(hit_texts, answers):
        g = [a.casefold() for a in golds if len(a.strip()) >= 3]
        first.append(next((i for i, t in enumerate(texts) if any(a in t.casefold() for a in g)), None))
    return _recall(first, ks, "")


def dataset_label(path: Path) -> str:
    """A dataset's name in reports: the file stem, or `folder/stem` for the generic dev/train names (pure)."""
    return path.stem if path.stem not in ("dev", "train") else f"{path.parent.name}/{path.stem}"


def passage_recall(hit_texts: list[list[str]], contexts: list[tuple[str, ...]], ks: list[int]) -> dict[str, float]:
    """Strict: the same for the gold passage itself, a hit counting when its text and a gold
    context (whitespace-normalised) are equal or one holds the other (a gold context may be
    a whole article cut into several passages) (pure). Keys `passage_recall@k`, `passage_mrr`."""
    first: list[int | None] = []
    for texts, ctxs in zip(hit_texts, contexts):
        gold = [passage_key(c) for c in ctxs if c.strip()]
        first.append(next((i for i, t in enumerate(map(passage_key, texts)) if any(t in c or c in t for c in gold)),
                          None))
    return _recall(first, ks, "passage_")


def run(index: Path, datasets: list[Path], configs: list[tuple[str, RerankerConfig | None]], ks: list[int]) -> dict:
    """Per configuration (name, reranker or None) and dataset: passage_recall and answer_recall."""
    sets = {dataset_label(p): load_qa_dataset(p) for p in datasets}
    depth = max(ks)
    out: dict = {"index": str(index), "ks": ks, "configs": {}}
    for name, reranker in configs:
        engine = QAEngine(EngineConfig(index_dir=index, reranker=reranker)).warm_up(with_reader=False)
        try:
            per_set = {}
            for set_name, ds in sets.items():
                texts, golds, contexts = [], [], []
                for item in ds.items:
                    res = engine.search(item.question, top_k=depth, rerank=reranker is not None)
                    texts.append([h.passage.text for h in res.hits])
                    golds.append(item.answers)
                    contexts.append(tuple(c.text for c in item.contexts))
                per_set[set_name] = {"n": len(texts), **passage_recall(texts, contexts, ks),
                                     **answer_recall(texts, golds, ks)}
        finally:
            engine.close()
        out["configs"][name] = per_set
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--dataset", type=Path, action="append", required=True, help="SQuAD JSON (repeatable)")
    ap.add_argument("--config", action="append", default=[], help="NAME= (first stage) or NAME=:rerank=[DIR]")
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 3, 5, 20])
    ap.add_argument("--json", action="store_true")
    args = parse_args(ap, argv)
    specs = args.config or ["first-stage=", *(["reranked=:rerank="] if DEFAULT_RERANKER_DIR.is_dir() else [])]
    configs = [parse_config(spec) for spec in specs]  # a bad spec stops before any data or model loads
    res = run(args.index, args.dataset, configs, sorted(set(args.ks)))
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"index {res['index']}: percent of questions whose top k hits hold the gold passage (strict) / a gold "
          "answer string (lenient), and the MRR of the first such hit")
    for name, sets in res["configs"].items():
        for set_name, r in sets.items():
            for label, prefix in (("passage", "passage_"), ("answer", "")):
                cells = "".join(f"{k:>4}:{r[f'{prefix}recall@{k}']:5.1f}" for k in res["ks"])
                print(f"{name:<16}{set_name:<28}{label:<9}n={r['n']:<5}{cells}  MRR {r[f'{prefix}mrr']:5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
