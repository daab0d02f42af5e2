"""Build the default corpus data/corpus/medquad.jsonl.gz from the MedQuAD XML archive.

    python scripts/build_default_corpus.py \
        --source /work/shared/data/medquad/medquad-xml.tar.gz \
        --out data/corpus/medquad.jsonl.gz

The output is byte-for-byte reproducible: documents in loader order (archive members sorted
by name, QA pairs in file order), JSON keys sorted, gzip header without file name or
timestamp (mtime=0). Load it back with `indexer.loaders.load_documents([path])`.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common.cliparse import parse_args  # noqa: E402
from indexer.loaders import document_to_json, load_documents  # noqa: E402

DEFAULT_SOURCE = "/work/shared/data/medquad/medquad-xml.tar.gz"
DEFAULT_OUT = REPO / "data" / "corpus" / "medquad.jsonl.gz"


def write_jsonl_gz(records: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with open(tmp, "wb") as raw:
        # filename="" and mtime=0 keep the gzip header identical across runs and machines.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            with io.TextIOWrapper(gz, encoding="utf-8", newline="\n") as fh:
                for rec in records:
                    fh.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
    tmp.replace(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="MedQuAD XML .tar.gz (or folder of XML files)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parse_args(parser, argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    report = load_documents([args.source], format="medquad")
    for failure in report.failures:
        print(f"failed: {failure}", file=sys.stderr)
    if not report.documents:
        print("no documents loaded; check --source", file=sys.stderr)
        return 1
    write_jsonl_gz([document_to_json(d) for d in report.documents], args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"{report.summary()}")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, sha256 {digest})")
    return 0 if not report.failures else 2


if __name__ == "__main__":
    raise SystemExit(main())
