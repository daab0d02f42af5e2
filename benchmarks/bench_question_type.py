"""Question type detection (pipeline.question_type) on BioASQ questions of known type.

    python benchmarks/bench_question_type.py [--split dev|train|both] [--json] [--errors N]

dev: the distinct questions of BioASQ-val-{yesno,factoid,list}.json (the rules were not
written on them); train: BioASQ 7B-11B training questions (bioasq-train/train.json for
factoid/list, bioasq-yesno/train.jsonl for yes/no), on which the rules were written.
BioASQ has no separate "other" type in these files (summary questions are not included),
so "other" appears only as a prediction, i.e. as an error. Prints accuracy, per-type
precision/recall/F1 and the confusion counts.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.cliparse import parse_args  # noqa: E402
from common.datasets import SquadFile, group_bioasq, iter_jsonl, read_bioasq, read_squad  # noqa: E402
from pipeline.question_type import QUESTION_TYPES, detect_question_type  # noqa: E402

DATA = Path("/work/shared/data")


def _squad_questions(path: Path) -> list[tuple[str, str]]:
    """(question id prefix, question) once per distinct BioASQ question."""
    return [(q.id, q.question) for q in read_bioasq(path)]


def dev_questions() -> list[tuple[str, str]]:
    """(question, gold type) for the BioASQ dev files."""
    out = []
    for t in ("yesno", "factoid", "list"):
        out += [(q, t) for _, q in _squad_questions(DATA / "bioasq" / f"BioASQ-val-{t}.json")]
    return out


def train_questions() -> list[tuple[str, str]]:
    out = []
    squad = read_squad(DATA / "bioasq-train" / "train.json")
    for a_i in dict.fromkeys(p.article_index for p in squad.paragraphs):  # one type per article
        paragraphs = tuple(p for p in squad.paragraphs if p.article_index == a_i)
        t = "factoid" if "factoid" in paragraphs[0].title else "list"
        out += [(q.question, t) for q in group_bioasq(SquadFile(squad.path, squad.version, paragraphs))]
    out += [(obj["question"], "yesno") for _, obj in iter_jsonl(DATA / "bioasq-yesno" / "train.jsonl")]
    return out


def score(items: list[tuple[str, str]]) -> dict:
    """accuracy and per-type P/R/F1 (percent), confusion[gold][pred]."""
    conf: dict[str, Counter] = {t: Counter() for t in QUESTION_TYPES}
    for q, gold in items:
        conf[gold][detect_question_type(q)] += 1
    n = len(items)
    correct = sum(conf[t][t] for t in QUESTION_TYPES)
    per = {}
    for t in QUESTION_TYPES:
        tp = conf[t][t]
        pred = sum(conf[g][t] for g in QUESTION_TYPES)
        gold = sum(conf[t].values())
        p = tp / pred if pred else 0.0
        r = tp / gold if gold else 0.0
        per[t] = {"precision": round(100 * p, 1), "recall": round(100 * r, 1),
                  "f1": round(100 * (2 * p * r / (p + r) if p + r else 0.0), 1), "gold": gold}
    yesno_tp = conf["yesno"]["yesno"]
    return {"n": n, "accuracy": round(100 * correct / n, 1), "per_type": per,
            "confusion": {g: dict(c) for g, c in conf.items() if c},
            "yesno_vs_rest_accuracy": round(100 * (n - sum(conf["yesno"].values()) + yesno_tp
                                                   - sum(conf[g]["yesno"] for g in QUESTION_TYPES if g != "yesno")) / n, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=["dev", "train", "both"], default="dev")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--errors", type=int, default=0, help="print this many misclassified questions")
    args = parse_args(ap, argv)
    splits = {"dev": dev_questions, "train": train_questions}
    names = ["train", "dev"] if args.split == "both" else [args.split]
    res = {}
    for name in names:
        items = splits[name]()
        res[name] = score(items)
        if args.errors:
            wrong = [(g, detect_question_type(q), q) for q, g in items if detect_question_type(q) != g]
            for g, p, q in wrong[: args.errors]:
                print(f"  [{name}] gold {g:<7} pred {p:<7} {q}", file=sys.stderr)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        for name, r in res.items():
            print(f"{name}: {r['n']} questions, accuracy {r['accuracy']:.1f}%, yes/no vs rest {r['yesno_vs_rest_accuracy']:.1f}%")
            for t, m in r["per_type"].items():
                print(f"  {t:<8} P {m['precision']:5.1f}  R {m['recall']:5.1f}  F1 {m['f1']:5.1f}  ({m['gold']} gold)")
            print(f"  confusion (gold -> predicted): {r['confusion']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
