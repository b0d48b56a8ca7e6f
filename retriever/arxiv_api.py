"""Ingestion from the arXiv API through the `arxiv` package: a topic query or a list of ids.

The package pages politely (a delay between requests) and retries; we store each page of
results in its own transaction, so an interrupted fetch keeps what it got.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from retriever.errors import ArxivUnavailableError
from retriever.ingest import IngestReport
from retriever.store import PaperStore
from retriever.types import Paper, SearchFilters, normalize_arxiv_id

log = logging.getLogger(__name__)

PAGE_SIZE = 100
DELAY_SECONDS = 3.0  # arXiv's API terms ask for no more than one request every three seconds
RETRIES = 3


class ResultsClient(Protocol):
    """What we use of `arxiv.Client`: an iterator of results for a search."""

    def results(self, search: Any) -> Iterable[Any]: ...


def default_client() -> ResultsClient:
    """An `arxiv.Client` with arXiv's requested rate limit and a few retries."""
    import arxiv

    return arxiv.Client(page_size=PAGE_SIZE, delay_seconds=DELAY_SECONDS, num_retries=RETRIES)


def topic_query(topic: str, filters: SearchFilters | None = None) -> str:
    """An arXiv API query for a topic within search filters: the topic's words in any field,
    AND the submission date range, AND any of the categories. Without filters it is the topic
    itself, so what a user types keeps arXiv's own syntax."""
    if filters is None or not (filters.date_from or filters.date_to or filters.categories):
        return topic
    # all:(w1 w2 ...) matches any of the words in any field, ranked by relevance: the same
    # papers a plain query of the words finds, now combinable with the filters.
    words = " ".join(word for word in topic.replace('"', " ").replace("(", " ").replace(")", " ").split())
    parts = [f"all:({words})"]
    if filters.date_from or filters.date_to:
        start = f"{filters.date_from:%Y%m%d}0000" if filters.date_from else "000001010000"
        end = f"{filters.date_to:%Y%m%d}2359" if filters.date_to else "999912312359"
        parts.append(f"submittedDate:[{start} TO {end}]")
    if filters.categories:
        parts.append("(" + " OR ".join(f"cat:{category}" for category in filters.categories) + ")")
    return " AND ".join(parts)


def result_to_paper(result: Any) -> Paper:
    """An `arxiv.Result` (or any object with its attributes) as a Paper."""
    published = getattr(result, "published", None)
    return Paper(
        arxiv_id=normalize_arxiv_id(result.entry_id),
        title=" ".join(str(result.title).split()),
        abstract=" ".join(str(result.summary or "").split()),
        authors=tuple(getattr(a, "name", str(a)) for a in (result.authors or ())),
        categories=tuple(result.categories or ()),
        published=published.date() if published is not None else None,
    )


def ingest_arxiv(
    store: PaperStore,
    *,
    query: str | None = None,
    ids: Sequence[str] = (),
    max_results: int = 200,
    client: ResultsClient | None = None,
    on_batch: Callable[[IngestReport], None] | None = None,
) -> IngestReport:
    """Fetch papers for a query (arXiv search syntax or plain words) or an id list and store them.

    Raises ArxivUnavailableError with one line when arXiv cannot be reached or errs; the
    pages stored before the failure stay.
    """
    import arxiv
    import requests

    if not query and not ids:
        raise ValueError("give a query or a list of arXiv ids")
    id_list = [normalize_arxiv_id(i) for i in ids]
    search = arxiv.Search(
        query=query or "", id_list=id_list, max_results=len(id_list) if id_list and not query else max_results
    )
    client = client or default_client()
    label = f"arXiv query {query!r}" if query else f"arXiv ids ({len(id_list)})"
    report = IngestReport(source=label)
    page: list[Paper] = []

    def flush() -> None:
        with store.transaction():
            counts = store.upsert(page)
        report.added += counts.added
        report.updated += counts.updated
        report.unchanged += counts.unchanged
        page.clear()
        if on_batch is not None:
            on_batch(report)

    try:
        for result in client.results(search):
            report.lines_read += 1
            try:
                page.append(result_to_paper(result))
            except (ValueError, AttributeError, TypeError) as error:
                report.note_malformed(report.lines_read, f"{type(error).__name__}: {error}")
            if len(page) >= PAGE_SIZE:
                flush()
    except requests.exceptions.RequestException as error:
        flush()
        raise ArxivUnavailableError(
            f"cannot reach the arXiv API ({type(error).__name__}) for {label}; check the network, "
            f"or ingest a local corpus with --jsonl"
        ) from None
    except arxiv.ArxivError as error:
        flush()
        raise ArxivUnavailableError(f"the arXiv API failed for {label}: {error}; try again later") from None
    flush()
    return report
