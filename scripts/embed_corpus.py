"""Precompute the bundled corpus's passage vectors, and check int8 recall against fp32.

    python scripts/embed_corpus.py [--corpus data/corpus/medquad.jsonl.gz] [--out data/corpus/medquad.embeddings.npz]
    python scripts/embed_corpus.py --check-only     # recall check from the saved fp32 vectors
    python scripts/embed_corpus.py --reuse data/corpus/medquad.embeddings.npz   # embed new/changed chunks only

`clinqa index build` of the bundled corpus then loads these vectors (matched by chunk id,
embedded-text hash and encoder fingerprint, see indexer/embcache.py) instead of embedding
33,926 passages. Rerun after changing the encoder, the corpus, the chunking or the
embedding scheme: stale entries are simply not used. After a corpus change, `--reuse OLD.npz`
keeps every stored vector whose chunk id and embedded text are unchanged (its int8 bytes as
they are) and embeds only the new or changed chunks: minutes instead of the full run. The
recall check needs fp32 vectors of every passage, so it is skipped then.

The check: for `--queries` questions (default: 1,000 MedQuAD consumer questions, the titles,
sampled with a fixed seed) it compares exact top-10 inner-product search over the fp32
vectors with the same search over the int8 vectors as loaded back, and prints Recall@10 of
int8 against fp32 (mean |top10_int8 ∩ top10_fp32| / 10).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.cliparse import parse_args  # noqa: E402
from common.env import set_offline_defaults  # noqa: E402

set_offline_defaults()

import numpy as np  # noqa: E402


def recall_at_k(reference: np.ndarray, approx: np.ndarray, queries: np.ndarray, k: int = 10) -> float:
    """Mean overlap of exact top-k by inner product, approx vs reference, in percent."""
    top_ref = np.argsort(-(queries @ reference.T), axis=1)[:, :k]
    top_apx = np.argsort(-(queries @ approx.T), axis=1)[:, :k]
    return 100.0 * float(np.mean([len(set(a) & set(b)) / k for a, b in zip(top_ref, top_apx)]))


def main(argv: list[str] | None = None) -> int:
    from indexer.dense import DenseEncoder, EncoderConfig
    from indexer.embcache import EmbeddingCache, bundled_embeddings_path, encoder_fingerprint
    from indexer.loaders import load_documents
    from indexer.writer import IndexWriter, embedding_text
    from common.paths import BUNDLED_CORPUS

    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=BUNDLED_CORPUS)
    ap.add_argument("--out", type=Path, default=bundled_embeddings_path())
    ap.add_argument("--fp32", type=Path, default=Path("/tmp/clinqa-bundled-fp32.npy"),
                    help="where the fp32 vectors are kept for the recall check")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--parts", type=Path, default=Path("/tmp/clinqa-bundled-parts"),
                    help="finished batches are kept here, so an interrupted run resumes where it stopped")
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--reuse", type=Path, metavar="OLD_NPZ",
                    help="keep this cache's vectors of unchanged chunks; embed only new/changed chunk ids "
                         "(may be --out itself; no recall check)")
    args = parse_args(ap, argv)
    if args.reuse and args.check_only:
        ap.error("--reuse embeds; --check-only does not: use one of them")

    t0 = time.perf_counter()
    docs = load_documents([args.corpus]).documents
    passages = [p for _, ps in IndexWriter("/tmp/clinqa-embed-unused", show_progress=False).chunk(docs) for p in ps]
    texts = [embedding_text(p) for p in passages]
    config = EncoderConfig(precision="fp32")
    encoder = DenseEncoder(config)
    if args.reuse:
        old = EmbeddingCache.load(args.reuse, encoder_fingerprint(config))
        if old is None:
            ap.error(f"{args.reuse} was made by another encoder: nothing to reuse, run without --reuse")
        cache, reused = old.updated([p.chunk_id for p in passages], texts, encoder.encode)
        cache.save(args.out)
        print(json.dumps({"documents": len(docs), "passages": len(passages), "reused": reused,
                          "embedded": len(passages) - reused, "dropped": len(old) - reused,
                          "file_mb": round(args.out.stat().st_size / 1e6, 1),
                          "seconds": round(time.perf_counter() - t0, 1)}))
        return 0
    if args.check_only:
        fp32 = np.load(args.fp32)
    else:
        from tqdm.auto import tqdm

        import hashlib

        args.parts.mkdir(parents=True, exist_ok=True)
        parts = []
        for i in tqdm(range(0, len(texts), 4096), desc="embed", unit="x4096"):
            batch = texts[i : i + 4096]
            key = hashlib.sha256("\0".join(batch).encode()).hexdigest()[:16]
            part = args.parts / f"{i:06d}-{key}.npy"  # named by content: a changed corpus never reuses it
            if not part.is_file():
                np.save(part.with_suffix(".tmp.npy"), encoder.encode(batch))
                part.with_suffix(".tmp.npy").replace(part)
            parts.append(np.load(part))
        fp32 = np.vstack(parts)
        np.save(args.fp32, fp32)
        cache = EmbeddingCache.from_vectors(encoder_fingerprint(config), [p.chunk_id for p in passages], texts, fp32)
        cache.save(args.out)
        print(f"{len(docs)} documents, {len(passages)} passages -> {args.out} "
              f"({args.out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.0f} s")
    loaded = EmbeddingCache.load(args.out, encoder_fingerprint(config))
    hits, int8 = loaded.lookup([p.chunk_id for p in passages], texts)
    rng = random.Random(0)
    questions = rng.sample(sorted({d.title for d in docs if d.title}), args.queries)
    q = encoder.encode(questions)
    result = {
        "passages": len(passages), "cached": len(hits), "queries": len(questions),
        "recall_at_10_int8_vs_fp32": round(recall_at_k(fp32, int8, q), 2),
        "max_abs_cosine_error": round(float(np.max(np.abs(np.sum(fp32 * int8, axis=1) - 1.0))), 5),
        "file_mb": round(args.out.stat().st_size / 1e6, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
