"""Which passage-relevance feature should score answers? Answer-ranking rules compared
offline, side by side, on one dump of dev questions answered over a dev index.

    python benchmarks/bench_answer_features.py --index DEV_INDEX --dataset covidqa/dev.json \
        --dataset bioasq/BioASQ-val-factoid.json --dump rows.jsonl     # ~15 min on 2 cores
    python benchmarks/bench_answer_features.py --rows rows.jsonl         # seconds: the table

The dump holds, per dev question, the first-stage top 20 (fused score), the shipped
reranker's logit for each and each passage's 3 best reader spans with their SQuAD F1 against
the gold answers. The table fits P(answer right, F1 >= 0.5) by logistic regression
(scikit-learn, as pipeline.calibrate) on several feature sets, 2-fold cross-fitted over
questions, and prints top-1 accuracy, ECE of the top answer and the confident share at its
precision, for the first-stage top 10 and for the reranked top k ("blend" = the reranker's
order key, RerankerConfig.first_stage_weight interpolation of its calibrated probability).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from common.cliparse import parse_args
from pipeline.engine import EngineConfig, QAEngine
from pipeline.evaluation.datasets import load_qa_dataset
from pipeline.evaluation.metrics import expected_calibration_error, squad_scores
from pipeline.questions import model_question
from retriever import RetrieverConfig
from retriever.rerank import CrossEncoderReranker, RerankerConfig, rerank_keys

DEPTH = 20


def dump(index: Path, datasets: list[Path], out: Path) -> None:
    engine = QAEngine(EngineConfig(index_dir=index, retriever=RetrieverConfig(top_k=DEPTH),
                                   reranker=RerankerConfig())).warm_up()
    try:
        with open(out, "w", encoding="utf-8") as fh:
            for d in datasets:
                for item in load_qa_dataset(d).items:
                    q = model_question(item.question)
                    hits = engine.retriever.search(q, top_k=DEPTH)
                    logits = engine.reranker.score(q, [(h.passage.title, h.passage.text) for h in hits]).tolist()
                    per_passage = engine.reader.read(q, [h.passage for h in hits], per_passage=3).per_passage
                    fh.write(json.dumps({"dataset": d.name, "passages": [
                        {"fused": h.score, "logit": lg,
                         "spans": [[a.score, squad_scores(a.text, item.answers)[1]] for a in answers]}
                        for h, lg, answers in zip(hits, logits, per_passage)]}) + "\n")
    finally:
        engine.close()


def candidates(question: dict, reranked: bool, k: int, rr: CrossEncoderReranker) -> list[dict]:
    ps = question["passages"]
    probs = rr.probability([p["logit"] for p in ps])
    keys = rerank_keys([p["logit"] for p in ps], [p["fused"] for p in ps], rr.config.first_stage_weight, probs.tolist())
    rows = [dict(p, p=float(pr), blend=kk, rank=i) for i, (p, pr, kk) in enumerate(zip(ps, probs, keys))]
    chosen = sorted(rows, key=lambda r: (-r["blend"], r["rank"]))[:k] if reranked else rows[:k]
    return [dict(span=s[0], correct=s[1] >= 0.5, fused=r["fused"], logit=r["logit"], p=r["p"], blend=r["blend"])
            for r in chosen for s in r["spans"]]


def evaluate(questions: list[dict], reranked: bool, k: int, features: list[str], rr) -> dict:
    from sklearn.linear_model import LogisticRegression

    data = [(qi, c) for qi, q in enumerate(questions) for c in candidates(q, reranked, k, rr)]
    X = np.array([[c[f] for f in features] for _, c in data], dtype=np.float64)
    y = np.array([c["correct"] for _, c in data])
    g = np.array([qi for qi, _ in data])
    probs = np.zeros(len(y))
    for fold in range(2):
        train, test = g % 2 != fold, g % 2 == fold
        mu, sd = X[train].mean(0), X[train].std(0) + 1e-9
        model = LogisticRegression(C=1.0, max_iter=1000).fit((X[train] - mu) / sd, y[train])
        probs[test] = model.predict_proba((X[test] - mu) / sd)[:, 1]
    best: dict[int, int] = {}
    for i, qi in enumerate(g):
        if qi not in best or probs[i] > probs[best[qi]]:
            best[qi] = i
    top = [best[qi] for qi in sorted(best)]
    p, c = probs[top], y[top]
    confident = p >= 0.5
    return {"top1": 100 * float(c.mean()), "ece": expected_calibration_error(list(p), [bool(x) for x in c]),
            "confident": 100 * float(confident.mean()),
            "precision_when_confident": 100 * float(c[confident].mean()) if confident.any() else 0.0}


RULES = [("first-stage top 10, [span, fused]", False, 10, ["span", "fused"]),
         ("reranked top 10, [span, logit, fused]", True, 10, ["span", "logit", "fused"]),
         ("reranked top 10, [span, P, fused]", True, 10, ["span", "p", "fused"]),
         ("reranked top 10, [span, blend, fused]", True, 10, ["span", "blend", "fused"]),
         ("reranked top 10, [span, blend] (shipped)", True, 10, ["span", "blend"]),
         ("reranked top 5, [span, blend]", True, 5, ["span", "blend"]),
         ("all 20, [span, blend]", True, 20, ["span", "blend"])]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--index", type=Path)
    ap.add_argument("--dataset", type=Path, action="append", default=[])
    ap.add_argument("--dump", type=Path, help="write the dump here (needs --index and --dataset)")
    ap.add_argument("--rows", type=Path, help="a dump to compare the rules on")
    ap.add_argument("--json", action="store_true")
    args = parse_args(ap, argv)
    if args.dump:
        if not (args.index and args.dataset):
            ap.error("--dump needs --index and --dataset")
        dump(args.index, args.dataset, args.dump)
    rows_path = args.rows or args.dump
    if rows_path is None:
        ap.error("give --rows FILE, or --dump FILE with --index and --dataset")
    questions = [json.loads(line) for line in rows_path.read_text().splitlines() if line.strip()]
    rr = CrossEncoderReranker(RerankerConfig())
    rr.warm_up()  # its calibration.json: the relevance P and the blend, as in the product
    res = {name: evaluate(questions, reranked, k, feats, rr) for name, reranked, k, feats in RULES}
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"{len(questions)} questions; 2-fold cross-fitted; correct = F1 >= 0.5")
    print(f"{'rule':45s} {'top-1':>6s} {'ECE':>5s} {'confident':>10s} {'precision':>10s}")
    for name, r in res.items():
        print(f"{name:45s} {r['top1']:6.1f} {r['ece']:5.1f} {r['confident']:9.1f}% {r['precision_when_confident']:10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
