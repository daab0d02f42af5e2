"""Errors raised by the indexer. Each carries a hint that says how to fix it.

The CLI prints `message` and `hint` instead of a traceback, so a hint should name the
action (a flag, a command, a file to fix), not restate the problem.
"""
from __future__ import annotations

from common.errors import HintedError


class IndexerError(HintedError):
    """Base class for problems while loading, chunking or indexing documents."""


class LoaderError(IndexerError):
    """A source file (or one record in it) could not be read."""


class UnsupportedFormatError(LoaderError):
    """The format of a file is unknown or was named wrongly."""


class EmptyCorpusError(IndexerError):
    """Nothing to index: no document could be loaded or every document was empty."""


class ChunkingError(IndexerError):
    """Invalid chunking configuration."""
