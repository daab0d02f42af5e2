"""PHI scrubber quality and speed on synthetic notes, and how much it disturbs real questions.

1. Precision / recall per entity type on faker-generated notes with known spans (span-overlap
   matching; see privacy.synthetic.evaluate). `masked` = overlapped by a span of any type.
2. False alarms: how many MedQuAD questions (no PHI in them) the scrubber changes, and into what.
3. Milliseconds per note and per question.

    python benchmarks/bench_scrub.py [--notes 500] [--seed 1] [--questions 2000]

Seed 0 was used while writing the rules; report other seeds.
"""
from __future__ import annotations

import argparse
import collections
import gzip
import json
import time
from pathlib import Path

from common.cliparse import parse_args
from privacy.scrub import Scrubber
from privacy.synthetic import generate_notes, evaluate

ROOT = Path(__file__).resolve().parent.parent


def medquad_questions(n: int) -> list[str]:
    qs = []
    with gzip.open(ROOT / "data" / "corpus" / "medquad.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            qs.append(json.loads(line)["title"])
            if len(qs) >= n:
                break
    return qs


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--notes", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--questions", type=int, default=2000, help="MedQuAD questions for the false-alarm count (0: skip)")
    ap.add_argument("--show", type=int, default=0, help="print this many missed gold spans and changed questions")
    args = parse_args(ap)

    scrubber = Scrubber()
    t = time.perf_counter()
    scrubber.warm_up()
    print(f"warm-up: {time.perf_counter() - t:.2f} s")

    notes = generate_notes(args.notes, seed=args.seed)
    t = time.perf_counter()
    scores = evaluate(scrubber.find, notes)
    per_note = (time.perf_counter() - t) / len(notes) * 1000
    chars = sum(len(n.text) for n in notes) / len(notes)
    print(f"\n{len(notes)} synthetic notes, seed {args.seed}, {chars:.0f} characters on average")
    print(f"| type | gold | predicted | precision | recall | masked (any type) |")
    print(f"|---|---:|---:|---:|---:|---:|")
    for s in scores.values():
        print(f"| {s.entity_type} | {s.gold} | {s.predicted} | {s.precision:.3f} | {s.recall:.3f} | {s.masked:.3f} |")
    print(f"speed: {per_note:.2f} ms per note")

    if args.show:
        shown = 0
        for note in notes:
            pred = scrubber.find(note.text)
            for g in note.spans:
                if not any(p.entity_type == g.entity_type and p.start < g.end and g.start < p.end for p in pred):
                    print(f"  missed {g.entity_type}: {note.text[g.start:g.end]!r}")
                    shown += 1
            if shown >= args.show:
                break

    if args.questions:
        qs = medquad_questions(args.questions)
        t = time.perf_counter()
        found = [scrubber.find(q) for q in qs]
        per_q = (time.perf_counter() - t) / len(qs) * 1000
        changed = [(q, f) for q, f in zip(qs, found) if f]
        kinds = collections.Counter(s.entity_type for _, f in changed for s in f)
        print(f"\nMedQuAD questions changed: {len(changed)}/{len(qs)} ({len(changed) / len(qs):.1%}) {dict(kinds)}")
        print(f"speed: {per_q:.2f} ms per question")
        for q, f in changed[: args.show]:
            print(f"  {q!r}: {[(s.entity_type, s.text) for s in f]}")


if __name__ == "__main__":
    main()
