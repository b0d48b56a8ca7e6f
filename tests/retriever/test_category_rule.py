"""One category rule for every filter: an exact category, or an archive meaning all of its
categories (retriever.types.category_matches). Search in memory, the filter table, its SQL
reference and the OAI snapshot filter all keep the same papers."""

from __future__ import annotations

from datetime import date

import pytest

from retriever.ingest import SnapshotFilter
from retriever.store import PaperStore
from retriever.types import Paper, SearchFilters, category_matches

PAPERS = [
    Paper("2501.00001", "Parsing", "a", categories=("cs.CL",), published=date(2025, 1, 2)),
    Paper("2501.00002", "Learning", "b", categories=("cs.LG", "stat.ML"), published=date(2025, 1, 3)),
    Paper("2501.00003", "Strings", "c", categories=("hep-th",), published=date(2025, 1, 4)),
    Paper("2501.00004", "Cosmos", "d", categories=("csx.XY",), published=date(2025, 1, 5)),
    Paper("2501.00005", "Undated", "e", categories=("cs.AI",)),
]


def test_the_rule():
    assert category_matches("cs.CL", "cs.CL") and category_matches("cs.CL", "cs")
    assert not category_matches("csx.XY", "cs") and not category_matches("cs.CL", "cs.C")
    assert category_matches("hep-th", "hep-th") and not category_matches("cs", "cs.CL")


@pytest.mark.parametrize(
    "filters",
    [
        SearchFilters(categories=("cs",)),
        SearchFilters(categories=("cs.CL", "hep-th")),
        SearchFilters(categories=("stat",), date_from=date(2025, 1, 3)),
        SearchFilters(categories=("cs",), date_to=date(2025, 1, 4)),
        SearchFilters(categories=("cs.C",)),
    ],
)
def test_every_filter_keeps_the_same_papers(tmp_path, filters):
    store = PaperStore(tmp_path / "papers.sqlite")
    store.upsert(PAPERS)
    expected = {p.arxiv_id for p in PAPERS if filters.accepts(p)}
    snapshot = SnapshotFilter(filters.categories, filters.date_from, filters.date_to)
    assert {p.arxiv_id for p in PAPERS if snapshot.accepts(p)} == expected
    rowids = store.rowids([p.arxiv_id for p in PAPERS])
    by_rowid = {rowid: arxiv_id for arxiv_id, rowid in rowids.items()}
    assert {by_rowid[int(r)] for r in store.filter_rowids(filters)} == expected
    assert {by_rowid[int(r)] for r in store.filter_rowids_sql(filters)} == expected
    store.close()
