"""Can a cheap signal tell right answers from wrong ones among a question's candidates, better
than the answer probability the product shows? Measured on pattern-judged questions over an
index (the consumer-health dev set and the clinician check over the bundled corpus).

    python benchmarks/bench_answer_signals.py --index BUNDLED_INDEX \
        --questions benchmarks/data/consumer_dev_questions.jsonl \
        --questions benchmarks/data/clinician_questions.jsonl [--top 8]

For the top N answers of every question (default reranked pipeline, shipped models), judged by
the question's answer pattern, prints:
- AUC (scikit-learn roc_auc_score) of right vs wrong candidates for: the answer probability;
  the reranker's relevance of the answer's sentence (question, sentence) instead of its
  passage; minus the share of the answer's words (crude stems) that repeat the question;
- how often a candidate is right when it overlaps an entity the index-time NER tagged, and when
  it does not;
- top answer right, with candidates re-ordered by logit(probability) + w x signal for several w
  (w = 0: the product's order), and how often some candidate of the top 5 is right.
A dev analysis: the weights are read off the same questions (in-sample), so only a large gain
would justify a held-out check.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

from sklearn.metrics import roc_auc_score

from common.cliparse import parse_args  # noqa: E402
from pipeline.engine import EngineConfig, QAEngine
from pipeline.evaluation.datasets import load_pattern_questions
from retriever.rerank import CrossEncoderReranker, RerankerConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ask import parse_config  # noqa: E402  (sibling benchmark script)

QUESTION_WORDS = set("what is are the of for a an to how can be in on and or with who does do which why when "
                     "symptoms treatments treatment treated causes cause prevent prevented".split())
WEIGHTS = (0.0, 0.1, 0.3, 1.0, 2.0)


def stems(text: str) -> list[str]:
    return [re.sub(r"(ments|ment|ing|ed|es|s)$", "", w.lower()) for w in re.findall(r"[A-Za-z]+", text)]


def question_overlap(question: str, answer: str) -> float:
    """Share of the answer's word stems found among the question's (stop words included)."""
    q, a = set(stems(question)), stems(answer)
    return sum(w in q for w in a) / max(1, len(a))


def sentence_of(text: str, start: int, end: int) -> str:
    """The sentence (or line) of `text` holding the span [start, end)."""
    begin = max(text.rfind(". ", 0, start), text.rfind("\n", 0, start)) + 1
    m = re.search(r"[.!?](\s|$)|\n", text[end:])
    return text[begin:end + m.end() if m else len(text)].strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--questions", type=Path, action="append", required=True, help="pattern question file (repeatable)")
    ap.add_argument("--config", default="shipped=:rerank=", help="NAME=READER[:rerank=DIR] (bench_ask syntax)")
    ap.add_argument("--top", type=int, default=8, help="candidates per question (default 8)")
    args = parse_args(ap, argv)
    _, reader, rerank, extra = parse_config(args.config)
    engine = QAEngine(EngineConfig(index_dir=args.index, reader=reader, reranker=rerank, **extra)).warm_up()
    scorer = CrossEncoderReranker(RerankerConfig()).warm_up()
    questions = [q for path in args.questions for q in load_pattern_questions(path)]
    per_question = []
    try:
        for q in questions:
            answers = engine.ask(q.question).answers[:args.top]
            sentences = [sentence_of(a.answer.passage.text, a.answer.start, a.answer.end) for a in answers]
            relevance = scorer.score(q.question, [(a.answer.passage.title, s) for a, s in zip(answers, sentences)]) \
                if answers else []
            rows = []
            for a, rel in zip(answers, relevance):
                p = a.answer.passage
                rows.append({"p": min(max(a.final_score, 1e-6), 1 - 1e-6), "right": q.judge(a.answer.text),
                             "sentence": float(rel), "overlap": -question_overlap(q.question, a.answer.text),
                             "entity": any(m.start < a.answer.end and m.end > a.answer.start for m in p.entities)})
            per_question.append(rows)
    finally:
        engine.close()
    cands = [r for rows in per_question for r in rows]
    labels = [r["right"] for r in cands]
    print(f"{len(per_question)} questions, {len(cands)} candidates ({sum(labels)} right)")
    for signal in ("p", "sentence", "overlap"):
        print(f"AUC {signal:9s} {roc_auc_score(labels, [r[signal] for r in cands]):.3f}")
    for flag in (True, False):
        group = [r["right"] for r in cands if r["entity"] is flag]
        print(f"overlaps an NER entity: {flag!s:5s} right {sum(group)}/{len(group)} "
              f"({100 * sum(group) / max(1, len(group)):.1f} %)")
    print(f"some top-5 candidate right: {sum(any(r['right'] for r in rows[:5]) for rows in per_question)}")
    for signal in ("sentence", "overlap"):
        tops = []
        for w in WEIGHTS:
            top = sum(max(rows, key=lambda r: math.log(r["p"] / (1 - r["p"])) + w * r[signal])["right"]
                      for rows in per_question if rows)
            tops.append(f"w={w:g}: {top}")
        print(f"top answer right, re-ordered by {signal}: " + ", ".join(tops))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
