"""The BM25 term matrix ranks exactly as FTS5's bm25() (PaperStore.bm25, the reference),
on real papers and real queries, fresh, incrementally updated, saved and reloaded."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import date

import numpy as np
import pytest

from retriever.bm25 import BM25_FILE, Bm25Matrix
from retriever.ingest import ingest_lines
from retriever.library import Library
from retriever.store import PaperStore
from retriever.types import SearchFilters


def _queries(records: list[dict]) -> list[str]:
    """Real queries: paper titles, the start of abstracts, and topics with words that stem alike."""
    titles = [r["title"] for r in records[::10]]
    abstracts = [" ".join(r["abstract"].split()[:30]) for r in records[5::50]]
    topics = [
        "Reinforcement Learning for Large Language Models",
        "model models modeling modelled",
        "graph neural networks for molecules",
        "speech recognition",
        "diffusion",
        "a word nobody wrote xqzvw",
    ]
    return titles + abstracts + topics


@pytest.fixture()
def store(tmp_path, slice_jsonl) -> PaperStore:
    store = PaperStore(tmp_path / "papers.sqlite")
    ingest_lines(store, slice_jsonl)
    return store


def _same_matrix(a: Bm25Matrix, b: Bm25Matrix) -> None:
    """Equal as a map of (term, paper) -> weighted count, with equal lengths and rows."""

    def triples(m: Bm25Matrix) -> set[tuple[str, int, float]]:
        out = set()
        for column, term in enumerate(m.terms):
            start, end = m.indptr[column], m.indptr[column + 1]
            out.update((term, int(d), float(c)) for d, c in zip(m.indices[start:end], m.counts[start:end], strict=True))
        return out

    assert triples(a) == triples(b)
    rows = max(len(a.present), len(b.present))
    pad = lambda x: np.pad(x, (0, rows - len(x)))  # noqa: E731
    assert (pad(a.present) == pad(b.present)).all() and (pad(a.lengths) == pad(b.lengths)).all()
    assert (a.papers, a.avgdl) == (b.papers, b.avgdl)


def test_matrix_ranks_exactly_as_fts5(store, sample_records):
    matrix = Bm25Matrix.build(store)
    assert matrix.papers == store.count()
    # FTS5's own token statistics (rows, tokens per column) equal the matrix's
    averages = store._db.execute("SELECT count(*) FROM papers_fts").fetchone()[0]
    assert averages == matrix.papers
    for query in _queries(sample_records):
        for limit in (10, 100, 5000):
            assert matrix.search(query, limit) == store.bm25(query, limit), (query, limit)


def test_filtered_search_ranks_exactly_as_fts5(store, sample_records):
    matrix = Bm25Matrix.build(store)
    filters = SearchFilters(date_from=date(2025, 9, 1), categories=("cs.CL", "cs.CV"))
    allowed = store.filter_rowids(filters)
    assert 0 < len(allowed) < store.count()
    for query in _queries(sample_records)[::3]:
        assert matrix.search(query, 50, allowed) == store.bm25(query, 50, filters), query
    assert matrix.search("language models", 50, np.zeros(0, np.int64)) == []


def test_incremental_sync_equals_a_fresh_build(tmp_path, sample_lines, sample_records):
    first = tmp_path / "first.jsonl"
    first.write_text("".join(sample_lines[:600]), encoding="utf-8")
    rest = tmp_path / "rest.jsonl"
    rest.write_text("".join(sample_lines[600:]), encoding="utf-8")
    store = PaperStore(tmp_path / "papers.sqlite")
    ingest_lines(store, first)
    matrix = Bm25Matrix.build(store)
    assert matrix.sync(store) == (matrix, 0)

    ingest_lines(store, rest)  # 400 new papers
    (changed,) = store.get([sample_records[7]["id"]])
    with store.transaction():
        store.upsert([dataclasses.replace(changed, title="Quantum annealing schedules", abstract="Short.")])
        store._db.execute("DELETE FROM papers WHERE arxiv_id = ?", (sample_records[20]["id"],))
    synced, tokenized = matrix.sync(store)
    assert tokenized == 400 + 2
    fresh = Bm25Matrix.build(store)
    _same_matrix(synced, fresh)
    for query in [*_queries(sample_records)[::4], "quantum annealing schedules"]:
        assert synced.search(query, 30) == store.bm25(query, 30), query


def test_saved_matrix_reloads_and_bad_files_are_rebuilt(tmp_path, store, sample_records):
    matrix = Bm25Matrix.build(store)
    matrix.save(tmp_path / "index")
    loaded = Bm25Matrix.load(tmp_path / "index", store.store_id)
    _same_matrix(loaded, matrix)
    assert loaded.synced_seq == matrix.synced_seq == store.fts_change_seq() > 0
    for query in _queries(sample_records)[::5]:
        assert loaded.search(query, 20) == store.bm25(query, 20)
    assert Bm25Matrix.load(tmp_path / "index", "another store") is None
    (tmp_path / "index" / BM25_FILE).write_bytes(b"not a numpy archive")
    assert Bm25Matrix.load(tmp_path / "index", store.store_id) is None
    assert Bm25Matrix.load(tmp_path / "absent", store.store_id) is None


def test_interrupted_save_keeps_the_previous_file(tmp_path, store, monkeypatch):
    matrix = Bm25Matrix.build(store)
    matrix.save(tmp_path / "index")
    before = (tmp_path / "index" / BM25_FILE).read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("retriever.atomic_write.os.replace", crash)  # the one atomic write bm25 uses
    with pytest.raises(KeyboardInterrupt):
        matrix.save(tmp_path / "index")
    assert (tmp_path / "index" / BM25_FILE).read_bytes() == before
    assert [p.name for p in (tmp_path / "index").iterdir()] == [BM25_FILE]


class _NoEmbedder:
    """BM25-only library tests never embed."""

    name = "none"

    def encode(self, texts):  # pragma: no cover - a call is a test failure
        raise AssertionError("no embedding expected")


def test_library_bm25_uses_the_matrix_and_falls_back_to_fts5(tmp_path, sample_lines, sample_records, monkeypatch):
    first = tmp_path / "first.jsonl"
    first.write_text("".join(sample_lines[:900]), encoding="utf-8")
    library = Library(PaperStore(tmp_path / "papers.sqlite"), tmp_path / "index", _NoEmbedder, "none")
    library.ingest_jsonl(first)
    query = sample_records[3]["title"]
    assert library.bm25(query, 20) == library.store.bm25(query, 20)  # no matrix yet: FTS5
    assert not (tmp_path / "index" / BM25_FILE).exists()
    assert library._sync_bm25(limit=None) == 900
    assert (tmp_path / "index" / BM25_FILE).exists()

    calls: list[str] = []
    reference = PaperStore.bm25
    monkeypatch.setattr(PaperStore, "bm25", lambda self, q, *a: calls.append(q) or reference(self, q, *a))
    # a few new papers: synced at search time, then ranked from the matrix
    rest = tmp_path / "rest.jsonl"
    rest.write_text("".join(sample_lines[900:]), encoding="utf-8")
    library.ingest_jsonl(rest)
    for record in sample_records[::97]:
        assert library.bm25(record["title"], 20) == reference(library.store, record["title"], 20)
    assert calls == []
    assert Bm25Matrix.load(tmp_path / "index", library.store.store_id).synced_seq == library.store.fts_change_seq()
    # a word FTS5 splits in two (a phrase) or drops: FTS5 answers
    for odd in ("graph_neural networks", "_ language"):
        assert library.bm25(odd, 20) == reference(library.store, odd, 20)
    assert calls == ["graph_neural networks", "_ language"]


def test_library_search_matches_before_and_after_the_matrix(tmp_path, sample_lines, sample_records):
    """Hybrid search returns the same hits whether BM25 comes from FTS5 or the matrix."""
    path = tmp_path / "papers.jsonl"
    path.write_text("".join(sample_lines[:300]), encoding="utf-8")
    library = Library(PaperStore(tmp_path / "papers.sqlite"), tmp_path / "index", _NoEmbedder, "none")
    library.ingest_jsonl(path)
    queries = [r["title"] for r in sample_records[:300:30]]
    before = [[h.paper.arxiv_id for h in library.search(q, k=15)] for q in queries]
    library._sync_bm25(limit=None)
    after = [[h.paper.arxiv_id for h in library.search(q, k=15)] for q in queries]
    assert before == after and all(before)


def test_store_logs_every_text_change(tmp_path, sample_records):
    store = PaperStore(tmp_path / "papers.sqlite")
    assert store.fts_change_seq() == 0
    path = tmp_path / "three.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in sample_records[:3]), encoding="utf-8")
    ingest_lines(store, path)
    assert store.fts_change_seq() == 3
    rowids = store.filter_rowids(SearchFilters()).tolist()
    (paper,) = store.get([sample_records[1]["id"]])
    with store.transaction():
        store.upsert([paper])  # unchanged: not a change
        store.upsert([dataclasses.replace(paper, authors=("Someone Else",))])  # not searchable text
    assert store.fts_change_seq() == 3
    with store.transaction():
        store.upsert([dataclasses.replace(paper, abstract="New words.")])
    assert store.fts_change_seq() == 4
    assert store.fts_changed_since(3).tolist() == [rowids[1]]
    assert store.fts_changed_since(0, upto=2).tolist() == rowids[:2]
    with pytest.raises(sqlite3.IntegrityError):
        store._db.execute("INSERT INTO fts_changes (seq, paper_id) VALUES (1, 1)")
