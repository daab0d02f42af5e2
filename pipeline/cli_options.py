"""Command-line options shared by `clinqa index/search/ask/serve` (ui) and `clinqa eval` (pipeline)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from common.paths import default_index_dir
from retriever.rerank import RerankerConfig


def add_index_arg(p: argparse.ArgumentParser) -> None:
    """--index DIR, defaulting to $CLINQA_INDEX, else the XDG data directory (common.paths)."""
    p.add_argument("--index", type=Path, default=default_index_dir(),
                   help="index directory (default: %(default)s; set CLINQA_INDEX to change)")


def add_rerank_args(p: argparse.ArgumentParser) -> None:
    """--rerank / --no-rerank / --rerank-depth / --reranker, shared by search, ask, serve and eval.

    Reranking is on by default (the shipped models/reranker): it improves retrieval on every
    dev set; answers, scored on the key it orders hits by, are at parity on the literature dev
    sets and never confidently wrong on our clinician-style questions, but fewer are confident
    (docs/decisions.md "reranker")."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--rerank", action="store_true",
                   help="reorder the first-stage candidates with the cross-encoder in models/reranker "
                        "(the default; --reranker DIR for another, trained with `clinqa train reranker`)")
    g.add_argument("--no-rerank", action="store_true", help="first-stage order only (faster, less accurate)")
    p.add_argument("--rerank-depth", type=int, default=None,
                   help=f"first-stage candidates the reranker reorders (default {RerankerConfig.depth})")
    p.add_argument("--reranker", default=None,
                   help="reranker model directory or Hugging Face name (default: the shipped models/reranker)")


def reranker_config(args: argparse.Namespace) -> Any:
    """The RerankerConfig the rerank options ask for (the shipped reranker by default), or None
    with --no-rerank. A missing model fails at warm_up with a hint."""
    if getattr(args, "no_rerank", False):
        return None
    kwargs: dict[str, Any] = {}
    if getattr(args, "rerank_depth", None) is not None:
        kwargs["depth"] = args.rerank_depth
    if getattr(args, "reranker", None):
        kwargs["model"] = args.reranker
    return RerankerConfig(**kwargs)
