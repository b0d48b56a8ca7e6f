"""arXiv API ingestion without the network: a fake client, and an unreachable address."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from retriever.arxiv_api import default_client, ingest_arxiv
from retriever.errors import ArxivUnavailableError
from retriever.store import PaperStore


@dataclass
class FakeAuthor:
    name: str


@dataclass
class FakeResult:
    entry_id: str
    title: str
    summary: str
    authors: list
    categories: list
    published: datetime


class FakeClient:
    """Answers any search with the given results, recording the searches it saw."""

    def __init__(self, results):
        self._results = results
        self.searches = []

    def results(self, search):
        self.searches.append(search)
        yield from self._results


def _results(records):
    return [
        FakeResult(
            entry_id=f"http://arxiv.org/abs/{r['id']}v2",
            title=r["title"],
            summary=r["abstract"],
            authors=[FakeAuthor(a) for a in r["authors"]],
            categories=r["categories"],
            published=datetime.fromisoformat(r["date"]).replace(tzinfo=UTC),
        )
        for r in records
    ]


def test_query_results_are_stored_versionless_and_deduplicated(tmp_path, sample_records):
    store = PaperStore(tmp_path / "papers.sqlite")
    records = sample_records[:150]
    client = FakeClient(_results(records))
    report = ingest_arxiv(store, query="reinforcement learning", max_results=150, client=client)
    assert report.added == 150 and store.count() == 150
    assert client.searches[0].query == "reinforcement learning"
    (paper,) = store.get([records[7]["id"]])
    assert paper.title == " ".join(records[7]["title"].split())
    assert paper.authors == tuple(records[7]["authors"])
    assert paper.published.isoformat() == records[7]["date"]

    again = ingest_arxiv(store, ids=[r["id"] + "v1" for r in records[:10]], client=FakeClient(_results(records[:10])))
    assert (again.added, again.unchanged) == (0, 10) and store.count() == 150


def test_unreachable_arxiv_is_one_clear_error(tmp_path):
    store = PaperStore(tmp_path / "papers.sqlite")
    client = default_client()
    client.query_url_format = "http://127.0.0.1:9/api/query?{}"  # nothing listens on the discard port
    client.num_retries = 0
    with pytest.raises(ArxivUnavailableError, match="cannot reach the arXiv API") as caught:
        ingest_arxiv(store, query="graph neural networks", max_results=5, client=client)
    assert "\n" not in str(caught.value)
    assert store.count() == 0


def test_topic_query_carries_dates_and_categories():
    from datetime import date

    from retriever.arxiv_api import topic_query
    from retriever.types import SearchFilters

    assert topic_query("graph neural networks") == "graph neural networks"
    assert topic_query("graph neural networks", SearchFilters()) == "graph neural networks"
    query = topic_query(
        'RL for "LLM" (agents)', SearchFilters(date_to=date(2025, 9, 30), categories=("cs.CL", "cs.LG"))
    )
    assert (
        query == "all:(RL for LLM agents) AND submittedDate:[000001010000 TO 202509302359] AND (cat:cs.CL OR cat:cs.LG)"
    )
    assert topic_query("x", SearchFilters(date_from=date(2024, 1, 2))) == (
        "all:(x) AND submittedDate:[202401020000 TO 999912312359]"
    )
