"""Library.embed and Library.vectors: the embeddings clustering and phrase ranking use."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retriever.store import paper_text
from retriever.types import FeedbackSearch, PhraseStatistics, Retriever, VectorSource
from tests.retriever.test_index import _library

RECORDS = [
    {
        "id": f"2503.{i:05d}",
        "title": f"Paper {i} on topic {i % 3}",
        "abstract": f"Abstract words {i}",
        "date": "2025-03-01",
    }
    for i in range(1, 7)
]


def _ingested(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    library = _library(tmp_path)
    library.ingest_jsonl(path)
    return library


def test_vectors_are_the_stored_embeddings_in_the_asked_order(tmp_path):
    library = _ingested(tmp_path)
    library.update_index()
    assert isinstance(library, VectorSource) and isinstance(library, Retriever)
    ids = ["2503.00004", "2503.00001", "2503.00004"]
    got = library.vectors(ids)
    texts = [paper_text(r["title"], r["abstract"]) for r in (RECORDS[3], RECORDS[0], RECORDS[3])]
    assert got.dtype == np.float32 and got.shape == (3, 64)
    assert np.allclose(got, library.embed(texts), atol=1e-6)
    rows = library.store.rowids(["2503.00004", "2503.99999"])
    assert list(rows) == ["2503.00004"]


def test_papers_not_embedded_yet_are_embedded_on_the_fly(tmp_path):
    library = _ingested(tmp_path)  # no update_index: nothing stored
    got = library.vectors(["2503.00002"])
    assert np.allclose(got, library.embed([paper_text(RECORDS[1]["title"], RECORDS[1]["abstract"])]), atol=1e-6)
    assert library.store.count_unembedded(library.model_name) == 6  # nothing was written


def test_unknown_ids_are_named(tmp_path):
    library = _ingested(tmp_path)
    with pytest.raises(KeyError, match=r"2503\.99999"):
        library.vectors(["2503.00001", "2503.99999"])
    assert library.vectors([]).shape == (0, 0) and library.embed([]).shape == (0, 0)


def test_phrase_shares_count_papers_holding_the_words_in_order(tmp_path):
    library = _ingested(tmp_path)
    # titles "Paper i on topic i % 3": "topic 1" in papers 1 and 4, "paper" in all six
    assert library.store.phrase_counts(["topic 1", "paper", "1 topic", "", "nowhere"]) == [2, 6, 0, 0, 0]
    assert library.phrase_shares(["topic 1", "paper"]) == [2 / 6, 1.0]
    assert isinstance(library, PhraseStatistics) and isinstance(library, FeedbackSearch)


def test_feedback_per_call_matches_the_attribute(tmp_path):
    library = _ingested(tmp_path)
    library.update_index()
    queries = ["topic 1", "abstract words"]
    library.feedback_papers = 3
    with_attribute = [(h.paper.arxiv_id, h.ranks) for h in library.search_many(queries, k=6)]
    library.feedback_papers = 0
    per_call = [(h.paper.arxiv_id, h.ranks) for h in library.search_with_feedback(queries, 6, None, 3)]
    plain = [(h.paper.arxiv_id, h.ranks) for h in library.search_with_feedback(queries, 6, None, 0)]
    assert per_call == with_attribute
    assert any("feedback" in ranks for _, ranks in per_call)
    assert plain == [(h.paper.arxiv_id, h.ranks) for h in library.search_many(queries, k=6)]
    assert not any("feedback" in ranks for _, ranks in plain)
