"""PaperStore.distribution: the counts the UI's library charts show, against a count in Python."""

from __future__ import annotations

from collections import Counter
from datetime import date

from retriever.store import PaperStore
from retriever.types import Paper


def test_distribution_counts_months_and_categories(tmp_path):
    papers = [
        Paper("2501.00001", "A", "x", categories=("cs.CL", "cs.LG"), published=date(2025, 1, 3)),
        Paper("2501.00002", "B", "x", categories=("cs.CL",), published=date(2025, 1, 30)),
        Paper("2503.00003", "C", "x", categories=("cs.AI",), published=date(2025, 3, 1)),
        Paper("2503.00004", "D", "x", categories=("cs.CL",), published=None),
    ]
    store = PaperStore(tmp_path / "papers.sqlite")
    try:
        store.upsert(papers)
        found = store.distribution(categories=2)
    finally:
        store.close()
    months = Counter(p.published.strftime("%Y-%m") for p in papers if p.published)
    assert found["by_month"] == dict(sorted(months.items())) == {"2025-01": 2, "2025-03": 1}
    assert list(found["by_month"]) == sorted(found["by_month"])
    # cs.AI and cs.LG tie at one paper each: the tie goes to the name that sorts first
    assert found["by_category"] == {"cs.CL": 3, "cs.AI": 1}
