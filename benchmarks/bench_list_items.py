"""List answers: item precision / recall / F1 of the engine's list items at several values of
the rule that drops an item of another document whose passage is less relevant than the first
item's (pipeline.ranking.list_answer, `LIST_MIN_RELATIVE_RELEVANCE`), side by side in one run.

    python benchmarks/bench_list_items.py --index INDEX --dataset FILE [--dataset ...]
                                          [--ratios 0 0.7 0.8 0.9] [--limit N] [--json]

Questions: those of FILE with at least two gold answers (our consumer annotations' dev.json from
`scripts/consumer_reader_data.py`, where a list question is one item with every answer), or every
question of a BioASQ list file. Each question is read as the product reads it (reranked hits, the
top 3 read, the shipped calibration) and its list items are kept as `list_answer` keeps them; a
question with no item above the threshold is not counted. An item is right when its SQuAD F1
against one gold answer is at least 0.5; recall is the share of gold answers some item matches.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common.cliparse import parse_args
from pipeline.engine import LIST_CANDIDATES, EngineConfig, QAEngine
from pipeline.evaluation.datasets import load_qa_dataset
from pipeline.evaluation.metrics import squad_scores
from pipeline.ranking import best_distinct, list_answer, score_candidates
from retriever.rerank import RerankerConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read_passages import dataset_label  # noqa: E402  (sibling benchmark script)


def item_scores(items: list[str], golds: list[str]) -> tuple[float, float, float]:
    """(precision, recall, F1) in 0..1 of one list (pure): an item is right when its SQuAD F1
    against some gold answer is >= 0.5; recall counts the gold answers some item matches."""
    if not items or not golds:
        return 0.0, 0.0, 0.0
    p = sum(squad_scores(i, golds)[1] >= 0.5 for i in items) / len(items)
    r = sum(any(squad_scores(i, [g])[1] >= 0.5 for i in items) for g in golds) / len(golds)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def run(index: Path, datasets: list[Path], ratios: list[float], limit: int | None) -> dict:
    engine = QAEngine(EngineConfig(index_dir=index, reranker=RerankerConfig())).warm_up()
    out: dict = {"index": str(index), "datasets": {}}
    try:
        calibration = engine.answer_calibration(reranked=True)
        threshold = calibration.threshold if calibration is not None and calibration.threshold is not None \
            else engine.reader.no_answer_threshold
        for path in datasets:
            ds = load_qa_dataset(path)
            items = [it for it in ds.items if ds.question_type == "list" or len(it.answers) >= 2][:limit]
            per_ratio: dict[float, list[tuple[float, float, float, int]]] = {r: [] for r in ratios}
            for it in items:
                hits = engine.search(it.question, rerank=True).hits
                _, cands = engine.read_candidates(it.question, hits, reranked=True)
                ranked = best_distinct(score_candidates(cands, calibration), LIST_CANDIDATES)
                for r in ratios:
                    kept = [s.candidate.text for s in list_answer(ranked, threshold, min_relative_relevance=r)]
                    if kept:
                        per_ratio[r].append((*item_scores(kept, list(it.answers)), len(kept)))
            out["datasets"][dataset_label(path)] = {
                "questions": len(items),
                "ratios": {str(r): {"answered": len(rows),
                                    "items_per_question": sum(x[3] for x in rows) / max(len(rows), 1),
                                    **{k: 100.0 * sum(x[j] for x in rows) / max(len(rows), 1)
                                       for j, k in enumerate(("precision", "recall", "f1"))}}
                           for r, rows in per_ratio.items()},
            }
    finally:
        engine.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--dataset", type=Path, action="append", required=True, help="SQuAD or BioASQ JSON (repeatable)")
    ap.add_argument("--ratios", type=float, nargs="+", default=[0.0, 0.7, 0.8, 0.9])
    ap.add_argument("--limit", type=int, default=None, help="first N list questions per dataset")
    ap.add_argument("--json", action="store_true")
    args = parse_args(ap, argv)
    res = run(args.index, args.dataset, args.ratios, args.limit)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"index {res['index']}: list items (percent), per minimum relative relevance of another document's item")
    for name, d in res["datasets"].items():
        for r, m in d["ratios"].items():
            print(f"{name:<28} ratio {r:<4} answered {m['answered']:>3}/{d['questions']:<4} items/q "
                  f"{m['items_per_question']:.2f}  P {m['precision']:5.1f}  R {m['recall']:5.1f}  F1 {m['f1']:5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
