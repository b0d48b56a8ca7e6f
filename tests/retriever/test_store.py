"""The paper store and JSONL ingestion on real papers: dedupe, resume, malformed lines, BM25, filters."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest

from retriever.errors import IngestError
from retriever.ingest import IngestReport, ingest_lines
from retriever.store import PaperStore, fts_query
from retriever.types import SearchFilters


def test_ingest_then_reingest_never_duplicates(tmp_path, slice_jsonl, sample_records):
    store = PaperStore(tmp_path / "papers.sqlite")
    report = ingest_lines(store, slice_jsonl)
    unique = len({r["id"] for r in sample_records})
    assert (report.added, report.malformed) == (unique, 0)
    assert store.count() == unique

    # same file again: recorded as complete, nothing to do
    assert ingest_lines(store, slice_jsonl).skipped_complete

    # the same papers from another file (one changed): updates, no duplicates
    changed = dict(sample_records[3], title="A Changed Title About Graph Neural Networks")
    other = tmp_path / "again.jsonl.gz"
    with gzip.open(other, "wt", encoding="utf-8") as out:
        for record in [*sample_records[:3], changed, *sample_records[4:]]:
            out.write(json.dumps(record) + "\n")
    report = ingest_lines(store, other)
    assert (report.added, report.updated, report.unchanged) == (0, 1, unique - 1)
    assert store.count() == unique
    (paper,) = store.get([changed["id"]])
    assert paper.title == changed["title"]
    assert store.bm25("changed title graph neural", 1) == store.filter_rowids(SearchFilters())[3:4].tolist()


def test_interrupted_ingest_resumes_and_stays_consistent(tmp_path, slice_jsonl, sample_records, monkeypatch):
    store = PaperStore(tmp_path / "papers.sqlite")
    seen: list[int] = []

    def crash_after_second_batch(report: IngestReport) -> None:
        seen.append(report.lines_read)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest_lines(store, slice_jsonl, batch_lines=300, on_batch=crash_after_second_batch)
    store.close()

    store = PaperStore(tmp_path / "papers.sqlite")  # a fresh process would see this
    assert store.count() == 600  # two whole batches, nothing half-written
    fts_rows = store._db.execute("SELECT count(*) FROM papers_fts").fetchone()[0]
    assert fts_rows == 600
    report = ingest_lines(store, slice_jsonl, batch_lines=300)
    assert report.resumed_from_line == 600
    assert report.lines_read == 400 and report.added == 400
    assert store.count() == len(sample_records)


def test_malformed_lines_are_counted_with_line_numbers(tmp_path, sample_lines):
    good = sample_lines[:20]
    broken = [
        *good[:5],
        '{"id": "2503.0000", "title": "truncated',  # line 6: cut JSON
        "\n",  # line 7: blank, ignored
        json.dumps({"id": "not an id", "title": "x", "abstract": "y"}) + "\n",  # line 8
        json.dumps({"title": "no id", "abstract": "y"}) + "\n",  # line 9
        json.dumps({"id": "2503.99999", "title": "bad date", "date": "2025-13-45"}) + "\n",  # line 10
        "[1, 2, 3]\n",  # line 11
        *good[5:],
    ]
    path = tmp_path / "broken.jsonl"
    path.write_text("".join(line if line.endswith("\n") else line + "\n" for line in broken), encoding="utf-8")
    store = PaperStore(tmp_path / "papers.sqlite")
    report = ingest_lines(store, path)
    assert report.malformed == 5
    assert [n for n, _ in report.malformed_lines] == [6, 8, 9, 10, 11]
    assert report.added == 20 and store.count() == 20
    assert "malformed lines: 6, 8, 9, 10, 11" in report.summary()


def test_missing_file_is_a_clear_error(tmp_path):
    store = PaperStore(tmp_path / "papers.sqlite")
    with pytest.raises(IngestError, match="no such file"):
        ingest_lines(store, tmp_path / "absent.jsonl")


def test_bm25_finds_real_papers_and_survives_fts_syntax(tmp_path, slice_jsonl, sample_records):
    store = PaperStore(tmp_path / "papers.sqlite")
    ingest_lines(store, slice_jsonl)
    target = sample_records[42]
    rowids = store.bm25(target["title"], 5)
    found = [p.arxiv_id for p in store.get_by_rowids(rowids).values()]
    assert target["id"] in found
    # FTS5 operators and quotes in user text are words, not syntax
    for nasty in ['"unbalanced', "NEAR(a b)", "title: AND OR NOT *", "a-b c^d (e", "'; DROP TABLE papers; --"]:
        store.bm25(nasty, 5)
    assert fts_query("the of and") is None
    assert fts_query('say "hi"') == '"say" OR "hi"'


def test_filters_restrict_bm25_by_date_and_category(tmp_path, slice_jsonl, sample_records):
    store = PaperStore(tmp_path / "papers.sqlite")
    ingest_lines(store, slice_jsonl)
    filters = SearchFilters(date_from=date(2025, 9, 1), date_to=date(2025, 12, 31), categories=("cs.CV",))
    rowids = store.bm25("image model learning", 50, filters)
    papers = store.get_by_rowids(rowids).values()
    assert papers, "the slice has cs.CV papers from late 2025"
    assert all(filters.accepts(p) for p in papers)
    expected = {r["id"] for r in sample_records if filters.accepts(store.get([r["id"]])[0])}
    allowed = {p.arxiv_id for p in store.get_by_rowids(store.filter_rowids(filters).tolist()).values()}
    assert allowed == expected


def test_store_reopens_and_reports_stats(tmp_path: Path, slice_jsonl):
    store = PaperStore(tmp_path / "papers.sqlite")
    ingest_lines(store, slice_jsonl)
    store_id = store.store_id
    store.close()
    again = PaperStore(tmp_path / "papers.sqlite")
    assert again.store_id == store_id
    stats = again.stats()
    assert stats["papers"] == 1000 and stats["first_date"] >= "2025-03-18"
    assert again._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_deleting_a_papers_embeddings_uses_an_index(tmp_path):
    """The update/delete triggers remove embeddings by paper_id alone; a full scan there made
    re-ingesting changed papers quadratic in the number of stored vectors."""
    store = PaperStore(tmp_path / "papers.sqlite")
    plan = store._db.execute("EXPLAIN QUERY PLAN DELETE FROM embeddings WHERE paper_id = 1").fetchall()
    details = " ".join(row[-1] for row in plan)
    assert "USING" in details and "INDEX" in details and "SCAN embeddings" not in details, details


def test_updated_paper_loses_only_its_own_embeddings(tmp_path, slice_jsonl):
    import dataclasses

    import numpy as np

    store = PaperStore(tmp_path / "papers.sqlite")
    ingest_lines(store, slice_jsonl)
    rowids = store.filter_rowids(SearchFilters())[:5].tolist()
    store.save_embeddings("m@128", rowids, np.eye(5, 8, dtype=np.float32))
    changed = dataclasses.replace(store.get_by_rowids([rowids[2]])[rowids[2]], title="A new title")
    with store.transaction():
        store.upsert([changed])
    kept, _ = store.embeddings("m@128")
    assert kept.tolist() == rowids[:2] + rowids[3:]


def test_in_memory_filters_equal_the_sql_reference_and_follow_changes(tmp_path, slice_jsonl, sample_records):
    import dataclasses

    store = PaperStore(tmp_path / "papers.sqlite")
    ingest_lines(store, slice_jsonl)
    cases = [
        SearchFilters(),
        SearchFilters(date_from=date(2025, 9, 1)),
        SearchFilters(date_to=date(2025, 6, 30)),
        SearchFilters(date_from=date(2025, 5, 1), date_to=date(2025, 5, 31), categories=("cs.CL",)),
        SearchFilters(categories=("cs.CV", "stat.ML", "no.such")),
        SearchFilters(categories=("no.such",)),
        SearchFilters(date_from=date(2030, 1, 1)),
    ]
    for filters in cases:
        assert store.filter_rowids(filters).tolist() == store.filter_rowids_sql(filters).tolist(), filters
    # a change through this connection, then one through another: both are seen
    (paper,) = store.get([sample_records[0]["id"]])
    with store.transaction():
        store.upsert([dataclasses.replace(paper, categories=("zz.TEST",), published=date(2031, 1, 2))])
    other = PaperStore(tmp_path / "papers.sqlite")
    with other.transaction():
        other._db.execute("UPDATE papers SET published = NULL WHERE arxiv_id = ?", (sample_records[1]["id"],))
    other.close()
    for filters in [*cases, SearchFilters(categories=("zz.TEST",)), SearchFilters(date_from=date(2031, 1, 1))]:
        assert store.filter_rowids(filters).tolist() == store.filter_rowids_sql(filters).tolist(), filters
    assert len(store.filter_rowids(SearchFilters(categories=("zz.TEST",)))) == 1
