"""The paper store: SQLite in WAL mode, an FTS5 index over title and abstract (BM25), the
embeddings computed so far, and per-source ingest progress.

Papers are keyed by versionless arXiv id and get a stable integer row id, which is also
their id in the FAISS index. Writes happen in one transaction per batch, so a crash leaves
whole batches or nothing.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from retriever.errors import StoreError
from retriever.filter_table import FilterTable
from retriever.types import Paper, SearchFilters

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
# title words count more than abstract words: a title is the paper's own summary
BM25_WEIGHTS = (2.0, 1.0)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS papers (
    id INTEGER PRIMARY KEY,
    arxiv_id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    abstract TEXT NOT NULL,
    authors TEXT NOT NULL,      -- JSON list
    categories TEXT NOT NULL,   -- space-separated, as arXiv writes them
    published TEXT              -- YYYY-MM-DD or NULL
);
CREATE INDEX IF NOT EXISTS papers_published ON papers(published);
CREATE TABLE IF NOT EXISTS paper_categories (
    paper_id INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    category TEXT NOT NULL,
    PRIMARY KEY (paper_id, category)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS paper_categories_category ON paper_categories(category, paper_id);
CREATE VIRTUAL TABLE IF NOT EXISTS papers_fts USING fts5(
    title, abstract, content='papers', content_rowid='id', tokenize='{FTS_TOKENIZER}'
);
CREATE TRIGGER IF NOT EXISTS papers_ai AFTER INSERT ON papers BEGIN
    INSERT INTO papers_fts(rowid, title, abstract) VALUES (new.id, new.title, new.abstract);
END;
CREATE TRIGGER IF NOT EXISTS papers_ad AFTER DELETE ON papers BEGIN
    INSERT INTO papers_fts(papers_fts, rowid, title, abstract) VALUES ('delete', old.id, old.title, old.abstract);
    DELETE FROM embeddings WHERE paper_id = old.id;
END;
CREATE TRIGGER IF NOT EXISTS papers_au AFTER UPDATE OF title, abstract ON papers
WHEN old.title IS NOT new.title OR old.abstract IS NOT new.abstract BEGIN
    INSERT INTO papers_fts(papers_fts, rowid, title, abstract) VALUES ('delete', old.id, old.title, old.abstract);
    INSERT INTO papers_fts(rowid, title, abstract) VALUES (new.id, new.title, new.abstract);
    -- the text changed, so every embedding of it is stale
    DELETE FROM embeddings WHERE paper_id = old.id;
END;
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    paper_id INTEGER NOT NULL,
    vector BLOB NOT NULL,       -- float32, normalized
    indexed INTEGER NOT NULL DEFAULT 0,  -- 1 once the saved FAISS index holds this vector
    PRIMARY KEY (model, paper_id)
) WITHOUT ROWID;
-- the triggers above delete a paper's embeddings by paper_id alone: without this index each
-- updated or deleted paper scanned every stored vector (27 ms a paper at 46,670 papers)
CREATE INDEX IF NOT EXISTS embeddings_paper ON embeddings(paper_id);
-- every change to the searchable text, in order: derived BM25 data (retriever/bm25.py)
-- re-tokenizes only the papers changed since the sequence number it was built at
CREATE TABLE IF NOT EXISTS fts_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, paper_id INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS papers_log_ai AFTER INSERT ON papers BEGIN
    INSERT INTO fts_changes (paper_id) VALUES (new.id);
END;
CREATE TRIGGER IF NOT EXISTS papers_log_ad AFTER DELETE ON papers BEGIN
    INSERT INTO fts_changes (paper_id) VALUES (old.id);
END;
CREATE TRIGGER IF NOT EXISTS papers_log_au AFTER UPDATE OF title, abstract ON papers
WHEN old.title IS NOT new.title OR old.abstract IS NOT new.abstract BEGIN
    INSERT INTO fts_changes (paper_id) VALUES (old.id);
END;
CREATE TABLE IF NOT EXISTS ingest_progress (
    source TEXT PRIMARY KEY,    -- a source file with its filters
    fingerprint TEXT NOT NULL,  -- size and mtime: a changed file starts over
    lines_done INTEGER NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0
);
"""

_UPSERT = """
INSERT INTO papers (arxiv_id, title, abstract, authors, categories, published)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT(arxiv_id) DO UPDATE SET
    title = excluded.title, abstract = excluded.abstract, authors = excluded.authors,
    categories = excluded.categories, published = excluded.published
WHERE (papers.title, papers.abstract, papers.authors, papers.categories, papers.published)
    IS NOT (excluded.title, excluded.abstract, excluded.authors, excluded.categories, excluded.published)
"""

# FTS5 would read these as operators or match nearly every paper; neither helps ranking.
_STOPWORDS_TEXT = (
    "a an and are as at be by for from has have in into is it its of on or that the their this to via was "
    "were what when which with we our using based towards toward how not near"
)
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    """What one batch of upserts did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class SourceProgress:
    """How far the ingest of one source got."""

    lines_done: int
    complete: bool


def fts_words(text: str) -> list[str]:
    """The words of free text that a BM25 query uses: lower-cased, stopwords dropped, each once, in order."""
    return list(dict.fromkeys(w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS))


def fts_words_in_order(text: str) -> list[str]:
    """Every word of `text` as a phrase query sees it: lower-cased, in order, repeats kept."""
    return _WORD.findall(text.lower())


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression for free text: its words, each quoted, joined by OR.

    Quoting every word makes any user text safe (no FTS5 syntax survives); OR lets BM25
    rank papers by how many and how rare the matched words are. None when no word is left.
    """
    unique = fts_words(text)
    if not unique:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in unique)


def _row_to_paper(row: sqlite3.Row | tuple) -> Paper:
    arxiv_id, title, abstract, authors, categories, published = row
    return Paper(
        arxiv_id=arxiv_id,
        title=title,
        abstract=abstract,
        authors=tuple(json.loads(authors)),
        categories=tuple(categories.split()),
        published=date.fromisoformat(published) if published else None,
    )


class PaperStore:
    """SQLite paper store. One instance per thread (sqlite3 connections are not shared)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._filter_table: FilterTable | None = None
        self._filter_version: tuple[int, int] | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            self._init_meta()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot open the paper store {self.path}: {error}; move it aside to start anew") from None

    def _init_meta(self) -> None:
        with self.transaction():
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('store_id', ?)", (uuid.uuid4().hex,))
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        version = int(self._meta("schema_version"))
        if version != SCHEMA_VERSION:
            raise StoreError(f"{self.path} has store schema {version}; this cpmsurvey reads schema {SCHEMA_VERSION}")

    def _meta(self, key: str) -> str:
        return self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    @property
    def store_id(self) -> str:
        """A random id made when the store was created; the index records it to detect a swapped store."""
        return self._meta("store_id")

    def close(self) -> None:
        """Close the connection (pending transactions were committed or rolled back already)."""
        self._db.close()

    def transaction(self) -> _Transaction:
        """`with store.transaction():` commits on success, rolls back on any exception."""
        return _Transaction(self._db)

    # --- writing papers -------------------------------------------------------------------

    def upsert(self, papers: Iterable[Paper]) -> UpsertCounts:
        """Insert or update papers in the current transaction (the caller opens one).

        A paper whose fields are all unchanged is left alone, so re-ingesting a corpus
        touches neither the FTS index nor the embeddings.
        """
        batch = {p.arxiv_id: p for p in papers}  # the last record of an id wins
        if not batch:
            return UpsertCounts()
        existing = self._existing_ids(list(batch))
        rows = [
            (
                p.arxiv_id,
                p.title,
                p.abstract,
                json.dumps(list(p.authors), ensure_ascii=False),
                " ".join(p.categories),
                p.published.isoformat() if p.published else None,
            )
            for p in batch.values()
        ]
        # rowcount sums the rows each statement wrote, trigger work excluded; an unchanged
        # paper matches the WHERE of the upsert's update and writes nothing
        written = self._db.executemany(_UPSERT, rows).rowcount
        self._db.executemany(
            "DELETE FROM paper_categories WHERE paper_id = (SELECT id FROM papers WHERE arxiv_id = ?)",
            [(i,) for i in batch],
        )
        self._db.executemany(
            "INSERT OR IGNORE INTO paper_categories (paper_id, category) SELECT id, ? FROM papers WHERE arxiv_id = ?",
            [(c, p.arxiv_id) for p in batch.values() for c in p.categories],
        )
        added = len(batch) - len(existing)
        updated = written - added
        return UpsertCounts(added=added, updated=updated, unchanged=len(batch) - added - updated)

    def _select_in(self, sql: str, ids: Sequence, leading: Sequence = ()) -> list[tuple]:
        """Every row of `sql`, whose one ``{marks}`` is an IN list over `ids`, with the
        `leading` parameters bound before it; the ids are bound ID_CHUNK at a time."""
        rows: list[tuple] = []
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start : start + ID_CHUNK]
            rows += self._db.execute(sql.format(marks=",".join("?" * len(chunk))), [*leading, *chunk]).fetchall()
        return rows

    def _existing_ids(self, arxiv_ids: Sequence[str]) -> set[str]:
        return {r[0] for r in self._select_in("SELECT arxiv_id FROM papers WHERE arxiv_id IN ({marks})", arxiv_ids)}

    # --- ingest progress ------------------------------------------------------------------

    def progress(self, source: str, fingerprint: str) -> SourceProgress:
        """Where the ingest of `source` stopped; a changed fingerprint means start over."""
        row = self._db.execute(
            "SELECT fingerprint, lines_done, complete FROM ingest_progress WHERE source = ?", (source,)
        ).fetchone()
        if row is None or row[0] != fingerprint:
            return SourceProgress(lines_done=0, complete=False)
        return SourceProgress(lines_done=row[1], complete=bool(row[2]))

    def record_progress(self, source: str, fingerprint: str, lines_done: int, complete: bool = False) -> None:
        """Record, in the current transaction, that the first `lines_done` lines are stored."""
        self._db.execute(
            "INSERT INTO ingest_progress VALUES (?, ?, ?, ?) ON CONFLICT(source) DO UPDATE SET "
            "fingerprint = excluded.fingerprint, lines_done = excluded.lines_done, complete = excluded.complete",
            (source, fingerprint, lines_done, int(complete)),
        )

    # --- reading papers -------------------------------------------------------------------

    def count(self) -> int:
        """Number of papers."""
        return self._db.execute("SELECT count(*) FROM papers").fetchone()[0]

    def get(self, arxiv_ids: Sequence[str]) -> list[Paper]:
        """Papers by versionless id, in the given order; unknown ids are skipped."""
        found: dict[str, Paper] = {}
        ids = list(dict.fromkeys(arxiv_ids))
        sql = "SELECT arxiv_id, title, abstract, authors, categories, published FROM papers WHERE arxiv_id IN ({marks})"
        for row in self._select_in(sql, ids):
            found[row[0]] = _row_to_paper(row)
        return [found[i] for i in arxiv_ids if i in found]

    def rowids(self, arxiv_ids: Sequence[str]) -> dict[str, int]:
        """Row ids (the FAISS ids) of the papers with these versionless ids; unknown ids are left out."""
        ids = list(dict.fromkeys(arxiv_ids))
        return dict(self._select_in("SELECT arxiv_id, id FROM papers WHERE arxiv_id IN ({marks})", ids))

    def get_by_rowids(self, rowids: Sequence[int]) -> dict[int, Paper]:
        """Papers by their store row id (the FAISS id)."""
        found: dict[int, Paper] = {}
        ids = [int(i) for i in dict.fromkeys(rowids)]
        sql = "SELECT id, arxiv_id, title, abstract, authors, categories, published FROM papers WHERE id IN ({marks})"
        for row in self._select_in(sql, ids):
            found[row[0]] = _row_to_paper(row[1:])
        return found

    def iter_papers(self) -> Iterator[Paper]:
        """Every paper, in row id order."""
        cursor = self._db.execute(
            "SELECT arxiv_id, title, abstract, authors, categories, published FROM papers ORDER BY id"
        )
        for row in cursor:
            yield _row_to_paper(row)

    def filter_rowids(self, filters: SearchFilters) -> np.ndarray:
        """Row ids of the papers that pass `filters` (int64, sorted), from in-memory arrays
        reloaded whenever the store changed (this connection's writes or another's)."""
        version = (self._db.execute("PRAGMA data_version").fetchone()[0], self._db.total_changes)
        if self._filter_table is None or self._filter_version != version:
            self._filter_table = FilterTable.load(self._db)
            self._filter_version = version
        return self._filter_table.select(filters)

    def filter_rowids_sql(self, filters: SearchFilters) -> np.ndarray:
        """`filter_rowids` in plain SQL: the reference."""
        where, params = _filter_sql(filters)
        rows = self._db.execute(f"SELECT id FROM papers WHERE {where} ORDER BY id", params).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def bm25(self, query: str, limit: int, filters: SearchFilters | None = None) -> list[int]:
        """Row ids of the best `limit` papers for `query` by FTS5 BM25, best first (ties: lower
        row id first). The reference for retriever/bm25.py, which ranks the same faster."""
        match = fts_query(query)
        if match is None:
            return []
        sql = "SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?"
        params: list = [match]
        if filters is not None and (filters.date_from or filters.date_to or filters.categories):
            where, extra = _filter_sql(filters)
            # `+rowid`: without the plus FTS5 takes the IN list as rowid lookups and runs the
            # full-text query once per allowed paper (74 s against 0.13 s at 46,670 papers)
            sql += f" AND +rowid IN (SELECT id FROM papers WHERE {where})"
            params += extra
        title, abstract = BM25_WEIGHTS
        sql += f" ORDER BY bm25(papers_fts, {title!r}, {abstract!r}), rowid LIMIT ?"
        params.append(limit)
        return [r[0] for r in self._db.execute(sql, params)]

    def phrase_counts(self, phrases: Sequence[str]) -> list[int]:
        """How many papers hold each phrase in their title or abstract: its words in this
        order, as FTS5 matches them (so "reward model" counts "Reward Models" too)."""
        sql = "SELECT count(*) FROM papers_fts WHERE papers_fts MATCH ?"
        queries = [_fts_phrase_query(phrase) for phrase in phrases]
        return [self._db.execute(sql, [query]).fetchone()[0] if query else 0 for query in queries]

    def phrase_rowids(self, phrase: str) -> np.ndarray:
        """Row ids (ascending) of the papers holding `phrase` in their title or abstract, as
        :meth:`phrase_counts` counts them."""
        query = _fts_phrase_query(phrase)
        if not query:
            return np.zeros(0, dtype=np.int64)
        sql = "SELECT rowid FROM papers_fts WHERE papers_fts MATCH ? ORDER BY rowid"
        rows = self._db.execute(sql, [query]).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    # --- text for derived indexes ---------------------------------------------------------

    def fts_change_seq(self) -> int:
        """The sequence number of the latest change to any paper's title or abstract (0: none)."""
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'fts_changes'").fetchone()
        return int(row[0]) if row else 0

    def fts_changed_since(self, seq: int, upto: int | None = None) -> np.ndarray:
        """Row ids (sorted, once each) of papers added, changed or deleted after change `seq`
        (up to and including `upto`)."""
        upto = self.fts_change_seq() if upto is None else upto
        rows = self._db.execute(
            "SELECT DISTINCT paper_id FROM fts_changes WHERE seq > ? AND seq <= ? ORDER BY paper_id", (seq, upto)
        ).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def iter_texts(self) -> Iterator[tuple[int, str, str]]:
        """(row id, title, abstract) of every paper, in row id order."""
        yield from self._db.execute("SELECT id, title, abstract FROM papers ORDER BY id")

    def texts(self, rowids: Sequence[int]) -> list[tuple[int, str, str]]:
        """(row id, title, abstract) of the given papers that exist, in row id order."""
        ids = [int(i) for i in rowids]
        return sorted(self._select_in("SELECT id, title, abstract FROM papers WHERE id IN ({marks})", ids))

    # --- embeddings -----------------------------------------------------------------------

    def unembedded(self, model: str, limit: int) -> list[tuple[int, str]]:
        """Up to `limit` (row id, text) of papers without an embedding for `model`."""
        rows = self._db.execute(
            "SELECT id, title, abstract FROM papers WHERE id NOT IN (SELECT paper_id FROM embeddings WHERE model = ?) "
            "ORDER BY id LIMIT ?",
            (model, limit),
        ).fetchall()
        return [(r[0], paper_text(r[1], r[2])) for r in rows]

    def count_unembedded(self, model: str) -> int:
        """How many papers still lack an embedding for `model`."""
        return self._db.execute(
            "SELECT count(*) FROM papers WHERE id NOT IN (SELECT paper_id FROM embeddings WHERE model = ?)", (model,)
        ).fetchone()[0]

    def save_embeddings(self, model: str, rowids: Sequence[int], vectors: np.ndarray) -> None:
        """Store vectors (one row per id) in their own transaction: they survive a crash right after."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self.transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings (model, paper_id, vector, indexed) VALUES (?, ?, ?, 0)",
                [(model, int(i), v.tobytes()) for i, v in zip(rowids, vectors, strict=True)],
            )

    def unindexed_rowids(self, model: str) -> np.ndarray:
        """Row ids whose embedding for `model` is not yet in the saved index (new or re-embedded)."""
        rows = self._db.execute(
            "SELECT paper_id FROM embeddings WHERE model = ? AND indexed = 0 ORDER BY paper_id", (model,)
        ).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def mark_indexed(self, model: str, rowids: Sequence[int] | None = None) -> None:
        """Record that the saved index holds these embeddings (all of the model's when None)."""
        with self.transaction():
            if rowids is None:
                self._db.execute("UPDATE embeddings SET indexed = 1 WHERE model = ?", (model,))
            else:
                self._db.executemany(
                    "UPDATE embeddings SET indexed = 1 WHERE model = ? AND paper_id = ?",
                    [(model, int(i)) for i in rowids],
                )

    def embeddings(self, model: str, rowids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, vectors) of the stored embeddings for `model`, all or the given ids, by row id."""
        if rowids is None:
            rows = self._db.execute(
                "SELECT paper_id, vector FROM embeddings WHERE model = ? ORDER BY paper_id", (model,)
            ).fetchall()
        else:
            sql = "SELECT paper_id, vector FROM embeddings WHERE model = ? AND paper_id IN ({marks})"
            rows = sorted(self._select_in(sql, [int(i) for i in rowids], leading=(model,)))
        ids_out = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        if not rows:
            return ids_out, np.zeros((0, 0), dtype=np.float32)
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        return ids_out, vectors

    def stats(self) -> dict:
        """Counts for display: papers, date range, top categories, embeddings per model."""
        first, last = self._db.execute("SELECT min(published), max(published) FROM papers").fetchone()
        categories = self._db.execute(
            "SELECT category, count(*) AS n FROM paper_categories GROUP BY category ORDER BY n DESC LIMIT 10"
        ).fetchall()
        embedded = self._db.execute("SELECT model, count(*) FROM embeddings GROUP BY model").fetchall()
        return {
            "papers": self.count(),
            "first_date": first,
            "last_date": last,
            "top_categories": dict(categories),
            "embeddings": dict(embedded),
        }

    def distribution(self, categories: int = 20) -> dict[str, dict[str, int]]:
        """Papers per month of publication ("YYYY-MM", in order; undated papers left out) and
        per category (the `categories` largest), for charts."""
        months = self._db.execute(
            "SELECT substr(published, 1, 7) AS month, count(*) FROM papers "
            "WHERE published IS NOT NULL GROUP BY month ORDER BY month"
        ).fetchall()
        by_category = self._db.execute(
            "SELECT category, count(*) AS n FROM paper_categories GROUP BY category ORDER BY n DESC, category LIMIT ?",
            (categories,),
        ).fetchall()
        return {"by_month": dict(months), "by_category": dict(by_category)}


# Ids bound into one `IN (...)` list at most: well under SQLite's limit on bound
# parameters (999 in builds before 3.32).
ID_CHUNK = 500


def paper_text(title: str, abstract: str) -> str:
    """What is embedded for a paper: its title, then its abstract."""
    return f"{title}. {abstract}" if abstract else title


def _filter_sql(filters: SearchFilters) -> tuple[str, list]:
    clauses: list[str] = []
    params: list = []
    if filters.date_from:
        clauses.append("published >= ?")
        params.append(filters.date_from.isoformat())
    if filters.date_to:
        clauses.append("published <= ?")
        params.append(filters.date_to.isoformat())
    if filters.categories:
        # retriever.types.category_matches in SQL: the category itself, or (an archive) any
        # category from "cs." up to "cs/" ('/' follows '.'), a range the index serves
        matches = " OR ".join("category = ? OR (category >= ? AND category < ?)" for _ in filters.categories)
        clauses.append(f"id IN (SELECT paper_id FROM paper_categories WHERE {matches})")
        params.extend(value for wanted in filters.categories for value in (wanted, wanted + ".", wanted + "/"))
    return (" AND ".join(clauses) or "1"), params


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception; nests as a no-op."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._outer = False

    def __enter__(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
            self._outer = True

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._outer:
            return
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")


def _fts_phrase_query(phrase: str) -> str:
    """An FTS5 phrase query matching `phrase`'s words in this order ("" when it has none)."""
    words = fts_words_in_order(phrase)
    return '"' + " ".join(words).replace('"', '""') + '"' if words else ""
