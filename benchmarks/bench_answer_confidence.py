"""How well does a confidence score separate right from wrong top answers? Pattern-judged
question files asked over one index, several configurations side by side in one run.

    python benchmarks/bench_answer_confidence.py --index BUNDLED_INDEX --questions FILE [--questions ...]
                                                 [--config NAME=READER[:rerank=DIR]] ... [--keep 140] [--json]

Each question is read as the product reads it (QAEngine.read_candidates, then the shipped answer
calibration, pipeline.ranking.score_candidates); its top candidate's text is judged by the
question's answer pattern (the top span alone, not a joined list). Three scores of that top
answer are compared by ROC AUC (scikit-learn) and by right / wrong among the `--keep`
best-scored questions:
- `shown`: the probability users see (the fitted answer calibration);
- `reader`: the reader's own probability of the span (calibrated on gold passages);
- `agreement`: the share of the question's candidate probability on candidates whose text
  contains the top answer or is contained in it.
Configurations use the bench_ask syntax (default: the shipped reader and reranker).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from sklearn.metrics import roc_auc_score

from common.cliparse import parse_args
from pipeline.engine import EngineConfig, QAEngine
from pipeline.evaluation.datasets import load_pattern_questions
from pipeline.questions import model_question
from pipeline.ranking import Scored, score_candidates
from reader.squad import normalize_answer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ask import parse_config  # noqa: E402  (sibling benchmark script)

SCORES = ("shown", "reader", "agreement")


def top_answer_scores(scored: Sequence[Scored]) -> tuple[str, dict[str, float]] | None:
    """(text, {score name: value}) of the highest-probability candidate of one question, or None
    without candidates (pure). `agreement` is in [0, 1]; see the module docstring."""
    if not scored:
        return None
    top = max(scored, key=lambda s: s.probability)
    key = f" {normalize_answer(top.candidate.text)} "
    total = sum(s.probability for s in scored)
    agreeing = sum(s.probability for s in scored
                   if key.strip() and (key in f" {normalize_answer(s.candidate.text)} "
                                       or f" {normalize_answer(s.candidate.text)} " in key))
    return top.candidate.text, {"shown": top.probability, "reader": top.candidate.reader_probability,
                                "agreement": agreeing / total if total > 0 else 0.0}


def separation(rows: Sequence[dict], keep: int) -> dict:
    """Per score: ROC AUC of right vs wrong (None when all rows are right or all wrong) and the
    right / wrong counts among the `keep` rows it scores highest (pure). `rows`: {"right": bool,
    "scores": {name: value}}."""
    labels = [r["right"] for r in rows]
    out = {"n": len(rows), "right": sum(labels), "keep": min(keep, len(rows))}
    for name in SCORES:
        values = [r["scores"][name] for r in rows]
        ranked = sorted(range(len(rows)), key=lambda i: -values[i])[:keep]
        out[name] = {"auroc": float(roc_auc_score(labels, values)) if 0 < sum(labels) < len(labels) else None,
                     "kept_right": sum(labels[i] for i in ranked), "kept_wrong": sum(not labels[i] for i in ranked)}
    return out


def run(index: Path, configs: list[str], files: list[Path], keep: int) -> dict:
    """Every question of `files` under each configuration; per configuration `separation` of the
    answered questions and how many got no candidate."""
    questions = [q for f in files for q in load_pattern_questions(f)]
    res: dict = {"index": str(index), "questions": len(questions), "configs": {}}
    for spec in configs:
        name, reader, reranker, extra = parse_config(spec)
        engine = QAEngine(EngineConfig(index_dir=index, reader=reader, reranker=reranker, **extra)).warm_up()
        rows, unanswered = [], 0
        try:
            for q in questions:
                text_q = model_question(q.question)
                hits, _, used = engine._hits(text_q, None, None, None, None, None)
                _, cands = engine.read_candidates(text_q, hits, reranked=used is not None)
                top = top_answer_scores(score_candidates(cands, engine.answer_calibration(reranked=used is not None)))
                if top is None:
                    unanswered += 1
                    continue
                rows.append({"question": q.question, "answer": top[0], "right": q.judge(top[0]), "scores": top[1]})
        finally:
            engine.close()
        res["configs"][name] = {**separation(rows, keep), "unanswered": unanswered, "rows": rows}
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--questions", type=Path, action="append", required=True, help="pattern-judged JSONL (repeatable)")
    ap.add_argument("--config", action="append", default=[], help="NAME=READER_DIR[:rerank=RERANKER_DIR]")
    ap.add_argument("--keep", type=int, default=140, help="questions kept by each score for the right / wrong count")
    ap.add_argument("--json", action="store_true")
    args = parse_args(ap, argv)
    if args.keep < 1:
        ap.error(f"--keep must be at least 1, got {args.keep}")
    res = run(args.index, args.config or ["shipped=:rerank="], args.questions, args.keep)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    for name, c in res["configs"].items():
        print(f"{name}: {c['n']} answered ({c['unanswered']} without a candidate), top answer right {c['right']}")
        for s in SCORES:
            v = c[s]
            auroc = "n/a" if v["auroc"] is None else f"{v['auroc']:.3f}"
            print(f"  {s:10s} AUROC {auroc}   best {c['keep']}: {v['kept_right']} right / {v['kept_wrong']} wrong")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
