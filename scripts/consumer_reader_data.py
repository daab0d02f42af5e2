"""Consumer-health reader training data: our span annotations of bundled-corpus passages as
SQuAD v1.1 train and dev files for `clinqa train reader` / `clinqa eval reader`.

    python scripts/consumer_reader_data.py --out runs/consumer-squad
        [--annotations data/train/consumer_reader.jsonl] [--dev-share 0.15]

Input: one JSON object per line, {"id", "doc_id", "chunk_id", "title", "context", "question",
"answers": [exact substrings of context, best first], "kind": "factoid"|"list"}
(data/train/SOURCE.md says how the bundled file was made). A record whose answers are not
verbatim in its context, or that lacks a field, is reported with its line number and skipped;
exit status 1 when no record is usable (nothing is written then).

Split by document (a hash of doc_id, so one page never sits on both sides): `dev-share` of the
documents give dev.json, where a list question is one item with every answer as gold (SQuAD
scores the best match); in train.json a list question becomes one item per answer (at most
`--max-list-items`), since training reads the first gold span of an item. An answer's offset is
its first whole-word occurrence.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Iterable

from common.cliparse import parse_args
from tasks.reranker import is_corpus_dev_document

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ANNOTATIONS = ROOT / "data" / "train" / "consumer_reader.jsonl"
REQUIRED = ("id", "doc_id", "context", "question", "answers")


def check_record(rec: dict) -> str | None:
    """Why `rec` cannot be used (a sentence), or None when it is valid (pure)."""
    missing = [k for k in REQUIRED if not rec.get(k)]
    if missing:
        return f"missing or empty field(s) {', '.join(missing)} (every record needs {', '.join(REQUIRED)})"
    if not isinstance(rec["answers"], list) or not all(isinstance(a, str) and a.strip() for a in rec["answers"]):
        return 'answers must be a list of non-empty strings, e.g. "answers": ["levothyroxine"]'
    absent = [a for a in rec["answers"] if a not in rec["context"]]
    if absent:
        return (f"answer(s) not verbatim in the context: {absent!r} (copy each span exactly as the context has it: "
                "case, spacing and punctuation)")
    return None


def is_dev_document(doc_id: str, dev_share: float) -> bool:
    """A stable `dev_share` of documents (pure): `tasks.reranker.is_corpus_dev_document` with a
    salt of its own, so this split is independent of the reranker's corpus dev split."""
    return is_corpus_dev_document(doc_id, dev_share, salt=b"consumer-reader:")


def answer_start(context: str, answer: str) -> int:
    """Offset of the first whole-word occurrence of `answer` in `context`, else of the first
    occurrence (pure; `answer` must occur). Source pages have run-together words
    ("an abscessa painful"), where the first match would train the reader on a fragment."""
    m = re.search(r"(?<!\w)" + re.escape(answer) + r"(?!\w)", context)
    return m.start() if m else context.index(answer)


def to_squad(records: Iterable[dict], split: str, dev_share: float, max_list_items: int = 3) -> dict:
    """SQuAD v1.1 dict of the records on `split` ("train" or "dev"); one paragraph per
    (doc_id, context). answer_start: `answer_start` (pure)."""
    paragraphs: dict[tuple[str, str], dict] = {}
    for rec in records:
        if is_dev_document(rec["doc_id"], dev_share) != (split == "dev"):
            continue
        key = (rec["doc_id"], rec["context"])
        para = paragraphs.setdefault(key, {"context": rec["context"], "qas": [], "title": rec.get("title", "")})
        answers = [{"text": a, "answer_start": answer_start(rec["context"], a)} for a in rec["answers"]]
        if split == "dev":
            para["qas"].append({"id": rec["id"], "question": rec["question"], "answers": answers})
        else:
            for k, ans in enumerate(answers[:max_list_items]):
                para["qas"].append({"id": f"{rec['id']}#{k}", "question": rec["question"], "answers": [ans]})
    data = [{"title": p["title"], "paragraphs": [{"context": p["context"], "qas": p["qas"]}]}
            for p in paragraphs.values()]
    return {"version": "1.1", "data": data}


def read_records(path: Path) -> tuple[list[dict], list[str]]:
    """Valid records of a JSONL file, and one problem line per skipped record."""
    good, problems = [], []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{path}:{n}: not JSON ({exc.msg} at column {exc.colno}); skipped")
                continue
            why = check_record(rec) if isinstance(rec, dict) else "not a JSON object"
            if why:
                problems.append(f"{path}:{n}: {why}; skipped")
            else:
                good.append(rec)
    return good, problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--annotations", default=str(DEFAULT_ANNOTATIONS))
    ap.add_argument("--out", required=True, help="folder for train.json and dev.json")
    ap.add_argument("--dev-share", type=float, default=0.15)
    ap.add_argument("--max-list-items", type=int, default=3)
    args = parse_args(ap, argv)
    if not 0.0 <= args.dev_share < 1.0:
        ap.error(f"--dev-share must be in [0, 1), got {args.dev_share}")
    path = Path(args.annotations)
    if not path.is_file():
        ap.error(f"no annotation file at {path}; pass --annotations FILE (default {DEFAULT_ANNOTATIONS})")
    records, problems = read_records(path)
    for p in problems:
        print(p, file=sys.stderr)
    if not records:
        print(f"consumer_reader_data: error: no usable record in {path}; nothing written\n"
              "consumer_reader_data: hint: fix the lines reported above (one JSON object per line with "
              f"{', '.join(REQUIRED)})", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev"):
        squad = to_squad(records, split, args.dev_share, args.max_list_items)
        (out / f"{split}.json").write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")
        n = sum(len(p["qas"]) for d in squad["data"] for p in d["paragraphs"])
        print(f"{out / (split + '.json')}: {len(squad['data'])} passages, {n} items")
    print(f"{len(records)} records used, {len(problems)} skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
