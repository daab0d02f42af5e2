"""BM25 from clinqa's own corpus statistics, for an engine that only computes dot products.

Why (issue 17): Milvus Lite scores BM25 with statistics of one segment at a time (passage
count, average length and document frequencies of the rows in that segment, deleted and
replaced rows included), and a segment is whatever one flush wrote: a document added later
lands in a segment of its own and is scored as if the corpus were that one document. A Milvus
server keeps statistics of its own per shard. So the Milvus backend no
longer uses Milvus' BM25 function: it keeps N, the total length and every term's document
frequency in the SQL store, and gives Milvus only a sparse vector per passage and a query
vector, searched by inner product (which needs no statistics).

The score is bm25s's (the local backend's), term by term, so both backends agree:

    score(q, d) = sum over query tokens t (with repeats) of idf(t) * tfc(tf(t, d), |d|)
    tfc: lucene  tf / (tf + k1 * L)                      (no (k1 + 1) factor, as bm25s)
         bm25+   (k1 + 1) tf / (tf + k1 * L) + delta
         bm25l   (k1 + 1)(c + delta) / (k1 + c + delta),  c = tf / L
    L = 1 - b + b * |d| / avgdl;  idf as in `idf`.

bm25l and bm25+ give a term a passage lacks tfc(0) ("non-occurrence"), the same for every
passage; the passage side therefore stores tfc(tf) - tfc(0) and the constant is added back
(`baseline`). Only passages sharing a token are found (the backend contract).

avgdl changes with every added or removed passage, and rewriting every stored weight each time
would make `index add` cost a full rebuild. Instead each row stores its weights computed with a
reference length `ref` (the avgdl when it was written) plus its own length, and the search
recomputes the exact weights of the candidates Milvus returns. A stored weight differs from the
exact one by a factor between 1 and avgdl / ref (`ratio_bounds`), so the candidates are provably
the true top k once the k-th exact score is at least `hi` x the lowest stored score among them;
otherwise the search asks Milvus for more (`MilvusBackend.search_text`).
"""
from __future__ import annotations

import hashlib
import math

SUPPORTED_METHODS = ("lucene", "bm25l", "bm25+")
DELTA = 0.5  # bm25s' default delta for bm25l / bm25+ (BM25Config does not change it)
MAX_TERM_BYTES = 200  # longer tokens are stored by hash (the SQL key stays short)


def term_key(token: str) -> str:
    """The vocabulary key of a token: itself, or "#" + 32 hex digits of its BLAKE2b hash when
    longer than 200 bytes (the same at index and query time)."""
    raw = token.encode("utf-8")
    if len(raw) <= MAX_TERM_BYTES:
        return token
    return "#" + hashlib.blake2b(raw, digest_size=16).hexdigest()


def idf(method: str, df: int, n: int) -> float:
    """bm25s's idf for a term in `df` of `n` passages (positive for every offered method)."""
    if method == "lucene":
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))
    if method == "bm25l":
        return math.log((n + 1.0) / (df + 0.5))
    if method == "bm25+":
        return math.log((n + 1.0) / df)
    raise ValueError(f"BM25 method {method!r} is not supported here (use one of {', '.join(SUPPORTED_METHODS)})")


def _norm(dl: float, avgdl: float, b: float) -> float:
    return 1.0 - b + b * dl / avgdl


def tfc(method: str, tf: float, dl: float, avgdl: float, k1: float, b: float) -> float:
    """bm25s's term-frequency component of a term occurring `tf` times in a passage of `dl` tokens."""
    norm = _norm(dl, avgdl, b)
    if method == "lucene":
        return tf / (k1 * norm + tf) if tf else 0.0
    if method == "bm25+":
        return (k1 + 1.0) * tf / (k1 * norm + tf) + DELTA if tf else DELTA
    if method == "bm25l":
        c = tf / norm
        return (k1 + 1.0) * (c + DELTA) / (k1 + c + DELTA)
    raise ValueError(f"BM25 method {method!r} is not supported here")


def baseline(method: str, k1: float) -> float:
    """tfc(0): what bm25l / bm25+ give every passage for a query token it lacks (0 for lucene)."""
    if method == "lucene":
        return 0.0
    if method == "bm25+":
        return DELTA
    if method == "bm25l":
        return (k1 + 1.0) * DELTA / (k1 + DELTA)
    raise ValueError(f"BM25 method {method!r} is not supported here")


def weight(method: str, tf: float, dl: float, avgdl: float, k1: float, b: float) -> float:
    """The passage-side weight of a term: tfc(tf) - tfc(0), without idf."""
    return tfc(method, tf, dl, avgdl, k1, b) - baseline(method, k1)


def frequency(method: str, w: float, dl: float, avgdl: float, k1: float, b: float) -> int:
    """The term frequency whose `weight` at (dl, avgdl) is `w` (the inverse of `weight`),
    rounded: term frequencies are whole counts, so a float32-stored weight gives it back exactly."""
    norm = _norm(dl, avgdl, b)
    if method == "lucene":
        tf = w * k1 * norm / (1.0 - w)
    elif method == "bm25+":
        tf = w * k1 * norm / (k1 + 1.0 - w)
    elif method == "bm25l":
        full = w + baseline(method, k1)
        tf = (k1 * full / (k1 + 1.0 - full) - DELTA) * norm
    else:
        raise ValueError(f"BM25 method {method!r} is not supported here")
    return max(1, int(round(tf)))


def length_matters(k1: float, b: float) -> bool:
    """Whether weights depend on avgdl at all (not with k1 = 0 or b = 0)."""
    return k1 > 0 and b > 0


def ratio_bounds(avgdl: float, ref_min: float, ref_max: float, k1: float, b: float) -> tuple[float, float]:
    """(lo, hi) with lo <= exact weight / stored weight <= hi for every row whose weights were
    computed with a reference length in [ref_min, ref_max], now that the average is `avgdl`.

    Each weight is an increasing function g of tf / L with g(0) = 0 and g concave (all three
    methods), and L(ref) / L(avgdl) lies between 1 and avgdl / ref; for such g,
    g(x * r) / g(x) lies between 1 and r."""
    if not length_matters(k1, b) or ref_min <= 0:
        return 1.0, 1.0
    return min(1.0, avgdl / ref_max), max(1.0, avgdl / ref_min)
