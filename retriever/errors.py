"""Errors of the retrieval layer. Each message names what failed, with which input, and
what to do; the CLI prints it as one line."""

from __future__ import annotations


class RetrieverError(Exception):
    """Base class of every error raised by retriever/."""


class StoreError(RetrieverError):
    """The paper store cannot be opened or written."""


class IngestError(RetrieverError):
    """A source of papers cannot be read at all (a bad line is counted, not raised)."""


class ArxivUnavailableError(IngestError):
    """The arXiv API could not be reached or answered with an error."""


class EmbeddingError(RetrieverError):
    """An embedding model cannot be found, loaded or exported."""


class IndexMismatchError(RetrieverError):
    """The saved index was built with another embedding model or dimension."""


class VectorIndexError(RetrieverError):
    """The saved index cannot be read or written."""
