"""Precompute the bundled corpus's entity mentions and categories with the shipped models.

    python scripts/annotate_corpus.py [--corpus data/corpus/medquad.jsonl.gz] [--out ...annotations.jsonl.gz]
    python scripts/annotate_corpus.py --reuse data/corpus/medquad.annotations.jsonl.gz   # new/changed only

`clinqa index build` then reads annotations for chunks and documents found in this file
(same content-derived chunk ids, same model fingerprints) instead of running the NER model and
the classifier again, which keeps the bundled-corpus build as fast as without annotation.
Rerun after changing models/ner, models/classifier, the corpus or the default chunking: stale
entries are simply not used (fingerprints and chunk ids no longer match). After a corpus
change, `--reuse OLD.jsonl.gz` takes every unchanged chunk's mentions and every unchanged
document's category from that cache (when the same models made it) and runs the models only
on new or changed chunk ids and documents; entries of chunks no longer in the corpus are dropped.
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from common.cliparse import parse_args
from common.env import set_offline_defaults

set_offline_defaults()


def main() -> None:
    from indexer.annotate import SHIPPED, AnnotateConfig, Annotator, bundled_cache_path
    from indexer.loaders import load_documents
    from indexer.writer import IndexWriter
    from common.paths import BUNDLED_CORPUS

    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=BUNDLED_CORPUS)
    ap.add_argument("--out", type=Path, default=bundled_cache_path())
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reuse", type=Path, metavar="OLD_JSONL_GZ",
                    help="keep this cache's results for unchanged chunks/documents (may be --out itself)")
    args = parse_args(ap)
    logging.basicConfig(format="%(message)s")
    logging.getLogger("indexer.annotate").setLevel(logging.INFO)  # says how many came from --reuse
    t0 = time.perf_counter()
    docs = load_documents([args.corpus]).documents
    passages = [p for _, ps in IndexWriter("/tmp/clinqa-annotate-unused").chunk(docs) for p in ps]
    if args.reuse and not args.reuse.is_file():
        ap.error(f"--reuse {args.reuse}: no such file")
    config = AnnotateConfig(ner_model=SHIPPED, classifier_model=SHIPPED, threads=args.threads,
                            cache=str(args.reuse) if args.reuse else None)
    annotator = Annotator(config).warm_up()
    mentions = annotator.entities(passages)
    categories = annotator.categories(docs)
    annotator.to_cache(mentions, docs, categories).save(args.out)
    print(f"{len(docs)} documents, {len(passages)} passages, {sum(map(len, mentions.values()))} mentions, "
          f"{len(categories)} categories -> {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) "
          f"in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
