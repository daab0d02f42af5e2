"""Clinician-style questions on the bundled corpus: is the top answer right, and is it marked
confident? Several pipeline configurations side by side in one run, on the same index.

    python benchmarks/bench_clinician.py --index BUNDLED_INDEX [--config NAME=READER[:rerank=DIR]] ...
                                         [--questions benchmarks/data/clinician_questions.jsonl] [--json]

Questions are our own wordings of common consumer-health questions (not MedQuAD's title
templates); each has a regular expression of acceptable answer content (a drug class, a
symptom, ...), matched case-insensitively against the top answer (for list questions: the
list, so one right item passes it; `first_item_right` also judges a list's first item alone,
the answer a reader sees first). A dev check written by us, not a test set: it counts right-and-confident,
confident-but-wrong and not-confident answers per configuration. Configurations use the
bench_ask syntax; the default compares first stage and reranked with the shipped models.
A question file whose records carry `"annotated_topic": false` (benchmarks/data/
clinician_fresh_questions.jsonl: no consumer annotation covers the topic) also gets the counts over
those questions alone (`unannotated_topics`), where readers trained on our annotations have no
head start.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common.cliparse import parse_args  # noqa: E402
from common.datasets import iter_jsonl
from pipeline.engine import EngineConfig, QAEngine
from pipeline.evaluation.datasets import PatternQuestion, load_pattern_questions
from pipeline.evaluation.metrics import expected_calibration_error
from retriever.rerank import DEFAULT_RERANKER_DIR

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ask import parse_config  # noqa: E402  (sibling benchmark script)

DEFAULT_QUESTIONS = Path(__file__).resolve().parent / "data" / "clinician_questions.jsonl"


def unannotated_questions(path: Path) -> set[str]:
    """Questions (stripped text) of `path` whose record says `"annotated_topic": false`."""
    return {rec["question"].strip() for _, rec in iter_jsonl(path)
            if isinstance(rec, dict) and rec.get("annotated_topic") is False}


def counts(rows: list[dict]) -> dict:
    """Right / right-and-confident / confident-but-wrong / not-confident counts of bench rows, and
    `first_item_right` (right and confident) judging a list answer by its first item alone (rows
    without `first_right` count as `right`)."""
    first = [r.get("first_right", r["right"]) for r in rows]
    return {"right": sum(r["right"] for r in rows),
            "first_item_right": sum(first),
            "first_item_right_and_confident": sum(f and r["confident"] for f, r in zip(first, rows)),
            "right_and_confident": sum(r["right"] and r["confident"] for r in rows),
            "confident_wrong": sum(r["confident"] and not r["right"] for r in rows),
            "not_confident": sum(not r["confident"] for r in rows), "n": len(rows)}


def summarize(rows: list[dict], unannotated: frozenset[str] = frozenset()) -> dict:
    """One configuration's result: `counts(rows)`, the top-answer ECE (percent) of the shown
    probability against the pattern judge, the rows, and, when `unannotated` is not empty,
    `unannotated_topics` = the counts over the rows whose question is in it. Pure."""
    out = {**counts(rows),
           "ece": expected_calibration_error([r["probability"] or 0.0 for r in rows], [r["right"] for r in rows]),
           "rows": rows}
    if unannotated:
        out["unannotated_topics"] = counts([r for r in rows if r["question"] in unannotated])
    return out


def run(index: Path, configs: list[str], questions: list[PatternQuestion],
        unannotated: frozenset[str] = frozenset()) -> dict:
    """Ask every question under each configuration (bench_ask syntax) over `index`; per configuration
    `summarize` of the rows (question, answer text, probability, confident, right, source title)."""
    out: dict = {"index": str(index), "questions": len(questions), "configs": {}}
    for spec in configs:
        name, reader, reranker, extra = parse_config(spec)
        engine = QAEngine(EngineConfig(index_dir=index, reader=reader, reranker=reranker, **extra)).warm_up()
        rows = []
        try:
            for q in questions:
                res = engine.ask(q.question)
                top = res.answers[0] if res.answers else None
                shown = [r.answer.text for r in res.list_answer] or ([top.answer.text] if top else [""])
                text, first = "; ".join(shown), shown[0]
                rows.append({"question": q.question, "answer": text,
                             "probability": round(top.final_score, 3) if top else None,
                             "confident": bool(res.confident), "right": q.judge(text),
                             "first_right": q.judge(first),
                             "source": top.answer.passage.title if top else None})
        finally:
            engine.close()
        out["configs"][name] = summarize(rows, unannotated)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--config", action="append", default=[], help="NAME=READER_DIR[:rerank=RERANKER_DIR]")
    ap.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    ap.add_argument("--json", action="store_true")
    args = parse_args(ap, argv)
    configs = args.config or ["first-stage=", *(["reranked=:rerank="] if DEFAULT_RERANKER_DIR.is_dir() else [])]
    questions = load_pattern_questions(args.questions)
    res = run(args.index, configs, questions, frozenset(unannotated_questions(args.questions)))
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    names = list(res["configs"])
    print(f"{'question':48s} " + " | ".join(f"{n:>34s}" for n in names))
    for i, q in enumerate(questions):
        cells = []
        for n in names:
            r = res["configs"][n]["rows"][i]
            mark = ("OK " if r["right"] else "-- ") + ("conf" if r["confident"] else "    ")
            cells.append(f"{mark} {(r['answer'] or '')[:25]:25s}")
        print(f"{q.question[:48]:48s} " + " | ".join(cells))
    for n in names:
        c = res["configs"][n]
        print(f"{n}: right {c['right']}/{c['n']}, right and confident {c['right_and_confident']}, "
              f"confident but wrong {c['confident_wrong']}, not confident {c['not_confident']}, ECE {c['ece']:.1f}; "
              f"a list judged by its first item: right {c['first_item_right']}, right and confident "
              f"{c['first_item_right_and_confident']}")
        if "unannotated_topics" in c:
            u = c["unannotated_topics"]
            print(f"{n}, topics no annotation covers: right {u['right']}/{u['n']}, right and confident "
                  f"{u['right_and_confident']}, confident but wrong {u['confident_wrong']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
