"""Library preparation through the run API: what is fetched, and progress as events."""

from __future__ import annotations

import pytest

from app.settings import Settings
from app.workflow import LIBRARY_EVENTS, WorkflowError, prepare_library
from retriever.errors import ArxivUnavailableError
from retriever.ingest import IngestReport
from retriever.library import Library


def test_fetching_from_arxiv_asks_within_the_run_filters(tmp_path, monkeypatch):
    """Online, a survey "as of" a day in some categories fetches papers of those dates and
    categories, not the newest ones (which the filters would then throw away)."""
    asked, events = [], []
    monkeypatch.setattr(
        Library, "ingest_arxiv", lambda self, query, max_results: asked.append(query) or IngestReport(source="fake")
    )
    settings = Settings(
        data_dir=tmp_path / "data",
        retrieval={"embedding_backend": "torch"},
        generate={"date_to": "2025-09-30", "categories": ["cs.CL"]},
    )
    topics = [("reasoning models", settings), ("agents", Settings(data_dir=tmp_path / "data"))]
    with pytest.raises(WorkflowError, match="holds no papers"):
        prepare_library(settings, topics, fetch=True, on_event=events.append)
    # each topic is fetched within its own run's filters (a batch gives each its own)
    assert asked == [
        "all:(reasoning models) AND submittedDate:[000001010000 TO 202509302359] AND (cat:cs.CL)",
        "agents",
    ]
    # progress reaches the sink as events, not as console output
    assert {event.run_id for event in events} == {LIBRARY_EVENTS}
    started = [event.message for event in events if event.kind == "node_started"]
    assert started[:2] == ["fetching papers on 'reasoning models' from arXiv", "fetching papers on 'agents' from arXiv"]
    assert [event.kind for event in events].count("notice") == 2


def test_arxiv_down_with_an_empty_library_says_to_pass_a_corpus(tmp_path, monkeypatch):
    def unavailable(self, query, max_results):
        raise ArxivUnavailableError("arXiv did not answer")

    monkeypatch.setattr(Library, "ingest_arxiv", unavailable)
    settings = Settings(data_dir=tmp_path / "data", retrieval={"embedding_backend": "torch"})
    with pytest.raises(WorkflowError, match="library is empty; pass a corpus with --corpus FILE"):
        prepare_library(settings, [("agents", settings)], fetch=True)


def test_a_missing_corpus_file_is_named(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", corpus=str(tmp_path / "nowhere.jsonl"))
    with pytest.raises(WorkflowError, match=r"nowhere\.jsonl does not exist"):
        prepare_library(settings, [("agents", settings)], fetch=False)


def test_without_fetch_or_corpus_an_empty_library_is_refused(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", retrieval={"embedding_backend": "torch"})
    with pytest.raises(WorkflowError, match="holds no papers"):
        prepare_library(settings, [("agents", settings)], fetch=False)
