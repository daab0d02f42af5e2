"""What index-time annotation costs next to embedding, on a sample of the bundled corpus.

    python benchmarks/bench_annotate.py [--docs 600] [--threads 2] [--ner-model DIR ...]

Chunks the first N MedQuAD documents exactly as `clinqa index build` does, then times, one
after the other on the same passages: dense embedding (the part every build pays), NER
tagging of every passage (shipped models/ner, then each `--ner-model`, e.g. models/ner-mpnet)
and classification of every document (shipped models/classifier). Prints passages per second
for each and the annotation time as a ratio of the embedding time, so the extra build time
for the whole corpus can be read off.
"""
from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

from common.cliparse import parse_args
from common.env import set_offline_defaults

set_offline_defaults()


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=600)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ner-model", action="append", default=[], metavar="DIR",
                    help="another NER model timed beside the shipped one (repeatable)")
    args = parse_args(ap)
    import torch

    torch.set_num_threads(args.threads)
    from indexer.annotate import SHIPPED, AnnotateConfig, Annotator
    from indexer.loaders import load_documents
    from indexer.writer import IndexWriter, embedding_text
    from common.paths import BUNDLED_CORPUS

    sample = Path("/tmp/clinqa-bench-annotate.jsonl")
    with gzip.open(BUNDLED_CORPUS, "rt", encoding="utf-8") as fh, open(sample, "w", encoding="utf-8") as out:
        for i, line in enumerate(fh):
            if i >= args.docs:
                break
            out.write(line)
    docs = load_documents([sample]).documents
    writer = IndexWriter("/tmp/clinqa-bench-annotate-unused", show_progress=False)
    passages = [p for _, ps in writer.chunk(docs) for p in ps]
    encoder = writer._encoder_ready()
    annotator = Annotator(AnnotateConfig(ner_model=SHIPPED, classifier_model=SHIPPED, threads=args.threads),
                          show_progress=False).warm_up()

    t0 = time.perf_counter()
    encoder.encode([embedding_text(p) for p in passages])
    t_embed = time.perf_counter() - t0
    t0 = time.perf_counter()
    mentions = annotator.entities(passages)
    t_ner = time.perf_counter() - t0
    others = {}
    for model in args.ner_model:
        other = Annotator(AnnotateConfig(ner_model=model, threads=args.threads), show_progress=False).warm_up()
        t0 = time.perf_counter()
        found = other.entities(passages)
        others[model] = (time.perf_counter() - t0, sum(map(len, found.values())))
    t0 = time.perf_counter()
    cats = annotator.categories(docs)
    t_cls = time.perf_counter() - t0

    n = len(passages)
    print(f"{len(docs)} documents, {n} passages, {args.threads} threads")
    print(f"embed     {t_embed:7.1f} s  {n / t_embed:7.1f} passages/s")
    print(f"NER       {t_ner:7.1f} s  {n / t_ner:7.1f} passages/s  "
          f"({sum(map(len, mentions.values()))} mentions)   ratio to embed {t_ner / t_embed:.2f}x")
    for model, (t, count) in others.items():
        print(f"NER {model}  {t:7.1f} s  {n / t:7.1f} passages/s  ({count} mentions)   "
              f"ratio to embed {t / t_embed:.2f}x, to shipped NER {t / t_ner:.2f}x")
    print(f"classify  {t_cls:7.1f} s  {len(docs) / t_cls:7.1f} documents/s ({len(cats)} categorised)   "
          f"ratio to embed {t_cls / t_embed:.2f}x")
    print(f"annotation adds {(t_ner + t_cls) / t_embed:.2f}x the embedding time")
    print(json.dumps({"documents": len(docs), "passages": n, "embed_s": round(t_embed, 2), "ner_s": round(t_ner, 2),
                      "classify_s": round(t_cls, 2),
                      "other_ner_s": {m: round(t, 2) for m, (t, _) in others.items()}}))


if __name__ == "__main__":
    main()
