"""Hybrid retrieval (BM25 + dense) with pure fusion functions."""
from retriever.errors import RetrieverError
from retriever.fusion import convex_fusion, min_max, reciprocal_rank_fusion
from retriever.retriever import HybridRetriever, RetrieverConfig
from retriever.types import Hit, SearchFilter

__all__ = ["Hit", "HybridRetriever", "RetrieverConfig", "RetrieverError", "SearchFilter", "convex_fusion", "min_max", "reciprocal_rank_fusion"]
