"""Precompute the bundled corpus's entity mentions and categories with the shipped models.

    python scripts/annotate_corpus.py [--corpus data/corpus/medquad.jsonl.gz] [--out ...annotations.jsonl.gz]

`clinqa index build` then reads annotations for chunks and documents found in this file
(same content-derived chunk ids, same model fingerprints) instead of running the NER model and
the classifier again, which keeps the bundled-corpus build as fast as without annotation.
Rerun after changing models/ner, models/classifier, the corpus or the default chunking: stale
entries are simply not used (fingerprints and chunk ids no longer match).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from common.env import set_offline_defaults

set_offline_defaults()


def main() -> None:
    from indexer.annotate import SHIPPED, AnnotateConfig, Annotator, bundled_cache_path
    from indexer.loaders import load_documents
    from indexer.writer import IndexWriter
    from common.paths import BUNDLED_CORPUS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=BUNDLED_CORPUS)
    ap.add_argument("--out", type=Path, default=bundled_cache_path())
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    t0 = time.perf_counter()
    docs = load_documents([args.corpus]).documents
    passages = [p for _, ps in IndexWriter("/tmp/clinqa-annotate-unused").chunk(docs) for p in ps]
    annotator = Annotator(AnnotateConfig(ner_model=SHIPPED, classifier_model=SHIPPED, threads=args.threads)).warm_up()
    mentions = annotator.entities(passages)
    categories = annotator.categories(docs)
    annotator.to_cache(mentions, docs, categories).save(args.out)
    print(f"{len(docs)} documents, {len(passages)} passages, {sum(map(len, mentions.values()))} mentions, "
          f"{len(categories)} categories -> {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) "
          f"in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
