"""Documents -> the passages an index holds, and the text each passage is embedded from.

Shared by the writer (one process) and the Ray stages of `indexer.distributed`, so both cut
and embed exactly alike; it sits below both.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from tqdm.auto import tqdm

from indexer.chunking import chunk_document, hf_token_spans
from indexer.dense import resolve_encoder_path
from store.types import Document, Passage


@functools.lru_cache(maxsize=4)
def load_tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer  # deferred on purpose: transformers takes seconds to import

    return AutoTokenizer.from_pretrained(path)


def token_spans_for(config: Any) -> Callable[[str], list[tuple[int, int]]]:
    """The word-piece splitter passages are cut with: `config.chunk_tokenizer`, else the encoder's.
    `config` is an `indexer.writer.IndexConfig`."""
    name = config.chunk_tokenizer or config.encoder.model
    return hf_token_spans(load_tokenizer(resolve_encoder_path(name)))


def chunk_documents(docs: Sequence[Document], config: Any, spans: Callable[[str], list[tuple[int, int]]] | None = None,
                    show_progress: bool = False) -> list[tuple[Document, list[Passage]]]:
    """Each document with its passages, cut by `config.chunking` (no I/O on an index directory)."""
    spans = spans or token_spans_for(config)
    return [
        (d, chunk_document(d, spans, config.chunking))
        for d in tqdm(docs, desc="chunk", unit="doc", disable=not show_progress)
    ]


def embedding_text(p: Passage) -> str:
    return f"{p.title}\n{p.text}" if p.title else p.text
