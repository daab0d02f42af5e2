"""Command-line options shared by `clinqa search/ask/serve` (ui) and `clinqa eval` (pipeline)."""
from __future__ import annotations

import argparse
from typing import Any

from retriever.rerank import RerankerConfig


def add_rerank_args(p: argparse.ArgumentParser) -> None:
    """--no-rerank / --rerank-depth / --reranker, shared by search, ask, serve and eval."""
    p.add_argument("--no-rerank", action="store_true",
                   help="skip the cross-encoder reranker (first-stage order only)")
    p.add_argument("--rerank-depth", type=int, default=None,
                   help="first-stage candidates the reranker reorders (default 50)")
    p.add_argument("--reranker", default=None,
                   help="reranker model directory or Hugging Face name (default: the shipped models/reranker)")


def reranker_config(args: argparse.Namespace) -> Any:
    """The RerankerConfig the rerank options ask for, or None with --no-rerank."""
    if getattr(args, "no_rerank", False):
        return None
    kwargs: dict[str, Any] = {}
    if getattr(args, "rerank_depth", None) is not None:
        kwargs["depth"] = args.rerank_depth
    if getattr(args, "reranker", None):
        kwargs["model"] = args.reranker
    return RerankerConfig(**kwargs)
