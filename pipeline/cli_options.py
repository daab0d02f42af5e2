"""Command-line options shared by `clinqa search/ask/serve` (ui) and `clinqa eval` (pipeline)."""
from __future__ import annotations

import argparse
import logging
from typing import Any

from retriever.rerank import DEFAULT_RERANKER_DIR, RerankerConfig

logger = logging.getLogger(__name__)


def add_rerank_args(p: argparse.ArgumentParser) -> None:
    """--rerank / --no-rerank / --rerank-depth / --reranker, shared by search, ask, serve and eval.

    Reranking is on by default when the shipped reranker (models/reranker) is there
    (docs/decisions.md "reranker"); --no-rerank turns it off."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--rerank", action="store_true",
                   help="reorder the first-stage candidates with a cross-encoder (the default when "
                        "models/reranker exists; --reranker DIR for another, trained with `clinqa train reranker`)")
    g.add_argument("--no-rerank", action="store_true", help="first-stage order only")
    p.add_argument("--rerank-depth", type=int, default=None,
                   help=f"first-stage candidates the reranker reorders (default {RerankerConfig.depth}; "
                        "implies --rerank)")
    p.add_argument("--reranker", default=None,
                   help="reranker model directory or Hugging Face name (implies --rerank)")


def shipped_reranker_available() -> bool:
    """True when models/reranker holds a model (config.json)."""
    return (DEFAULT_RERANKER_DIR / "config.json").is_file()


def reranker_config(args: argparse.Namespace) -> Any:
    """The RerankerConfig the rerank options ask for, or None (no reranking): on unless
    --no-rerank, or unless nothing was asked and no reranker is shipped (then the
    first-stage order, logged once). An explicit --rerank without a model fails later, at
    warm_up, with a hint."""
    if getattr(args, "no_rerank", False):
        return None
    wanted = getattr(args, "rerank", False) or getattr(args, "rerank_depth", None) is not None \
        or getattr(args, "reranker", None)
    if not wanted and not shipped_reranker_available():
        logger.info("no reranker in %s: results keep the first-stage order", DEFAULT_RERANKER_DIR)
        return None
    kwargs: dict[str, Any] = {}
    if getattr(args, "rerank_depth", None) is not None:
        kwargs["depth"] = args.rerank_depth
    if getattr(args, "reranker", None):
        kwargs["model"] = args.reranker
    return RerankerConfig(**kwargs)
