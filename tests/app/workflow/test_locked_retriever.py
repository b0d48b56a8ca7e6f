"""The workflow's locked retriever keeps what the mined expansion uses reachable, and claims
nothing the wrapped retriever lacks."""

from __future__ import annotations

from app.workflow.library import LockedLibraryRetriever, LockedVectorRetriever, locked
from planner.phrase_spread import library_spread
from retriever.types import FeedbackSearch, PhraseStatistics, VectorSource
from tests.retriever.fakes import VectorWordRetriever, paper
from tests.retriever.test_index import _library


def test_a_library_keeps_its_phrase_statistics_and_feedback_search(tmp_path):
    wrapped = locked(_library(tmp_path))
    assert isinstance(wrapped, LockedLibraryRetriever)
    assert all(isinstance(wrapped, kind) for kind in (VectorSource, PhraseStatistics, FeedbackSearch))
    assert wrapped.phrase_shares(["anything"]) == [0.0]  # an empty library
    assert wrapped.search_with_feedback(["anything"], 5, None, 20) == []


def test_a_vector_source_alone_claims_no_more():
    wrapped = locked(VectorWordRetriever([paper(1, "Reward models", "Reward models learn.")]))
    assert type(wrapped) is LockedVectorRetriever
    assert isinstance(wrapped, VectorSource) and not isinstance(wrapped, PhraseStatistics)


class _RecordingFeedback(VectorWordRetriever):
    def __init__(self, papers):
        super().__init__(papers)
        self.feedback_calls = []

    def phrase_shares(self, phrases):
        return [0.0 for _ in phrases]

    def search_with_feedback(self, queries, k, filters, feedback_papers, paper_queries=0, paper_weight=1.0):
        self.feedback_calls.append((tuple(queries), k, filters, feedback_papers, paper_queries, paper_weight))
        return []


def test_the_feedback_search_is_forwarded_whole():
    inner = _RecordingFeedback([paper(1, "Reward models", "Reward models learn.")])
    wrapped = locked(inner)
    assert isinstance(wrapped, LockedLibraryRetriever)
    wrapped.search_with_feedback(["a", "b"], 7, None, 3, 20, 2.0)
    wrapped.search_with_feedback(["c"], 5, None, 4)
    assert inner.feedback_calls == [(("a", "b"), 7, None, 3, 20, 2.0), (("c",), 5, None, 4, 0, 1.0)]


class _OwnSpread(_RecordingFeedback):
    def phrase_spread(self, phrases):
        return [0.25 if p == "reward models" else None for p in phrases]


def test_phrase_spreads_reach_the_planner_through_the_lock(tmp_path):
    # The outline's boilerplate check sees the library only through this wrapper.
    assert locked(_library(tmp_path)).phrase_spread(["future research", "memory"]) == [None, None]  # empty
    wrapped = locked(_OwnSpread([paper(1, "Reward models", "Reward models learn.")]))
    assert wrapped.phrase_spread(["reward models", "rare"]) == [0.25, None]
    assert library_spread(wrapped)(["reward models"]) == [0.25]
    assert library_spread(locked(VectorWordRetriever([paper(1, "A", "B.")]))) is None
