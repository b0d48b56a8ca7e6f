"""The paper library of a run: opened from the settings, prepared (corpus ingested or the
topics' papers fetched, index brought up to date) with progress as events, and shared
safely between section workers."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.settings import Settings
from app.workflow.errors import WorkflowError
from app.workflow.events import EventEmitter, EventSink
from app.workflow.options import search_filters
from planner.phrase_spread import library_spread
from retriever.errors import ArxivUnavailableError
from retriever.library import Library
from retriever.types import FeedbackSearch, Hit, Paper, PhraseStatistics, Retriever, SearchFilters, VectorSource

# Papers fetched from arXiv for a topic when no corpus is given.
ARXIV_FETCH = 200
# The run id of library preparation's events (they belong to no run).
LIBRARY_EVENTS = "library"


def open_library(settings: Settings) -> Library:
    """The Library at `settings.store_path` / `settings.index_dir`, configured by
    `settings.retrieval` (model, backend, batch size, max sequence length, index type, RRF k, feedback)."""
    retrieval = settings.retrieval
    return Library.open(
        settings.store_path,
        settings.index_dir,
        model=retrieval.embedding_model,
        backend=retrieval.embedding_backend,
        cache_dir=retrieval.model_cache_dir or settings.data_dir / "models",
        batch_size=retrieval.embedding_batch_size,
        max_seq_length=retrieval.embedding_max_seq_length,
        index_type=retrieval.index_type,
        exact_index_max_papers=retrieval.exact_index_max_papers,
        rrf_k=retrieval.rrf_k,
        feedback_papers=retrieval.feedback_papers,
    )


def prepare_library(
    settings: Settings, topics: Sequence[tuple[str, Settings]], fetch: bool, on_event: EventSink | None = None
) -> Library:
    """Open the library; ingest the corpus file (re-runs skip what is there) or, with
    `fetch` and no corpus, fetch each topic's papers from arXiv within that topic's run
    settings (its dates and categories); then bring the index up to date.

    Progress reaches `on_event` as events of run id ``"library"``: node_started (message:
    what is being done), notice (a report line), warning. The caller closes the library.
    """
    emitter = EventEmitter(LIBRARY_EVENTS, on_event)
    library = open_library(settings)
    try:
        if settings.corpus:
            _ingest_corpus(library, Path(settings.corpus).expanduser(), emitter)
        elif fetch:
            for topic, run_settings in topics:
                _fetch_topic(library, topic, run_settings, emitter)
        _update_index(library, emitter)
        if not library.stats()["papers"]:
            raise WorkflowError("the library holds no papers; pass --corpus FILE or run online to fetch from arXiv")
    except BaseException:
        library.close()
        raise
    return library


def _ingest_corpus(library: Library, corpus: Path, emitter: EventEmitter) -> None:
    if corpus.is_dir():
        raise WorkflowError(f"corpus {corpus} is a directory; pass a JSONL(.gz) file to --corpus")
    if not corpus.is_file():
        raise WorkflowError(f"corpus file {corpus} does not exist; pass a JSONL(.gz) file to --corpus")
    emitter.emit("node_started", node="ingest_corpus", message=f"ingesting {corpus.name}")
    emitter.emit("notice", node="ingest_corpus", message=library.ingest_jsonl(corpus).summary())


def _fetch_topic(library: Library, topic: str, run_settings: Settings, emitter: EventEmitter) -> None:
    from retriever.arxiv_api import topic_query

    # Within the run's dates and categories: otherwise a survey "as of" a day would fetch
    # the newest papers and keep none of them.
    query = topic_query(topic, search_filters(run_settings.generate))
    emitter.emit("node_started", node="fetch_papers", message=f"fetching papers on {topic!r} from arXiv")
    try:
        report = library.ingest_arxiv(query=query, max_results=ARXIV_FETCH)
    except ArxivUnavailableError as error:
        if not library.stats()["papers"]:
            raise WorkflowError(
                f"{error}. The library is empty; pass a corpus with --corpus FILE to work offline"
            ) from None
        emitter.warning(f"{error}; using the papers already in the library", node="fetch_papers")
        return
    emitter.emit("notice", node="fetch_papers", message=report.summary())


def _update_index(library: Library, emitter: EventEmitter) -> None:
    pending = library.stats()["unembedded"]
    emitter.emit("node_started", node="update_index", message="updating the index")
    done = 0

    def on_chunk(papers: int, seconds: float) -> None:
        nonlocal done
        done += papers
        emitter.emit("node_started", node="update_index", message=f"embedding papers: {done:,} of {pending:,}")

    update = library.update_index(on_chunk=on_chunk)
    if update.embedded or update.added:
        emitter.emit("notice", node="update_index", message=update.summary())


class LockedRetriever:
    """Serialises calls to a retriever: section workers may run in threads, and a SQLite- and
    FAISS-backed library need not be thread-safe."""

    def __init__(self, retriever: Retriever) -> None:
        self._retriever = retriever
        self._lock = threading.Lock()

    def search(self, query: str, k: int = 20, filters: SearchFilters | None = None) -> list[Hit]:
        with self._lock:
            return self._retriever.search(query, k, filters)

    def search_many(self, queries: Sequence[str], k: int = 100, filters: SearchFilters | None = None) -> list[Hit]:
        with self._lock:
            return self._retriever.search_many(queries, k, filters)

    def get(self, arxiv_ids: Sequence[str]) -> list[Paper]:
        with self._lock:
            return self._retriever.get(arxiv_ids)


class LockedVectorRetriever(LockedRetriever):
    """A :class:`LockedRetriever` over a retriever that also hands out its embeddings
    (retriever.types.VectorSource), as the outline planned from the papers needs."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._retriever.embed(texts)

    def vectors(self, arxiv_ids: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._retriever.vectors(arxiv_ids)


class LockedLibraryRetriever(LockedVectorRetriever):
    """A :class:`LockedVectorRetriever` that also forwards the phrase statistics and the
    per-call feedback search (retriever.types.PhraseStatistics, FeedbackSearch) that the
    mined query expansion uses; without them it mines and searches with less."""

    def phrase_shares(self, phrases: Sequence[str]) -> list[float]:
        with self._lock:
            return self._retriever.phrase_shares(phrases)

    def phrase_spread(self, phrases: Sequence[str]) -> list[float | None]:
        """How evenly each phrase spreads over the library's topics
        (planner.phrase_spread.library_spread; None for each when the retriever is no library)."""
        with self._lock:
            spread = library_spread(self._retriever)
            return list(spread(phrases)) if spread is not None else [None] * len(phrases)

    def search_with_feedback(
        self,
        queries: Sequence[str],
        k: int,
        filters: SearchFilters | None,
        feedback_papers: int,
        paper_queries: int = 0,
        paper_weight: float = 1.0,
    ) -> list[Hit]:
        with self._lock:
            return self._retriever.search_with_feedback(
                queries, k, filters, feedback_papers, paper_queries, paper_weight
            )


def locked(retriever: Retriever) -> LockedRetriever:
    """`retriever` behind a lock, keeping its embeddings, phrase statistics and feedback
    search reachable when it has them."""
    if all(isinstance(retriever, kind) for kind in (VectorSource, PhraseStatistics, FeedbackSearch)):
        return LockedLibraryRetriever(retriever)
    return LockedVectorRetriever(retriever) if isinstance(retriever, VectorSource) else LockedRetriever(retriever)
