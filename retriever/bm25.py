"""BM25 from a term-document matrix: the ranking of FTS5's bm25(), without FTS5's scan.

FTS5 scores every paper that holds any query word, row by row; on 46,670 papers a title
query takes ~100 ms at the 95th percentile. Here each paper's weighted term counts are
kept in a sparse matrix (papers x terms), so a query reads only its terms' columns.

Exactness: the terms are FTS5's own, made by an in-memory FTS5 table with the store's
tokenizer (`FTS_TOKENIZER`), and the score is FTS5's formula (SQLite's fts5_aux.c) in the
same double-precision operations, in the same order:

    idf(t) = log((N - n_t + 0.5) / (n_t + 0.5)), or 1e-6 when that is <= 0
    score(d) = sum over the query's phrases t of
               idf(t) * f(t, d) * (k1 + 1) / (f(t, d) + k1 * (1 - b + b * |d| / avgdl))

with k1 = 1.2, b = 0.75, f = the column-weighted count of t in d, |d| = d's token count,
avgdl = all tokens / N. Ties go to the lower row id, as in `PaperStore.bm25`, the
reference that tests/retriever/test_bm25.py holds this to. A query word that FTS5 would
split into several tokens (a phrase, e.g. `a_b`) has no column here: `search` returns None
and the caller asks FTS5.

The matrix is derived data saved beside the vector index (`bm25.npz`, written atomically)
with the store's id and the store's change sequence it reflects; `sync` re-tokenizes only
the papers changed since (the store logs them in `fts_changes`).
"""

from __future__ import annotations

import io
import json
import logging
import math
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from retriever.atomic_write import write_bytes_atomically
from retriever.store import BM25_WEIGHTS, FTS_TOKENIZER, PaperStore, fts_words

log = logging.getLogger(__name__)

BM25_FILE = "bm25.npz"
FORMAT_VERSION = 1
K1 = 1.2
B = 0.75
TOKENIZE_BATCH = 2000  # papers per pass through the in-memory FTS5 table
_WORD_CACHE_MAX = 100_000


class FtsTokenizer:
    """FTS5's tokenizer, run by SQLite itself on an in-memory table (so terms match the store's)."""

    def __init__(self, tokenizer: str = FTS_TOKENIZER) -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.executescript(
            f"CREATE VIRTUAL TABLE t USING fts5(title, abstract, tokenize='{tokenizer}');"
            "CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance');"
        )
        self._words: dict[str, tuple[str, ...]] = {}

    def postings(self, rows: Sequence[tuple[int, str, str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
        """For each (term, paper) of the given papers: the term, the row id, and its count in
        the title and in the abstract ([postings, 2])."""
        with self._db:
            self._db.execute("DELETE FROM t")
            self._db.executemany("INSERT INTO t (rowid, title, abstract) VALUES (?, ?, ?)", rows)
            found = self._db.execute(
                "SELECT term, doc, sum(col = 'title'), sum(col = 'abstract') FROM v GROUP BY term, doc"
            ).fetchall()
            self._db.execute("DELETE FROM t")
        if not found:
            return [], np.zeros(0, np.int64), np.zeros((0, 2), np.int64)
        terms, docs, in_title, in_abstract = zip(*found, strict=True)
        return list(terms), np.asarray(docs, np.int64), np.column_stack([in_title, in_abstract]).astype(np.int64)

    def words(self, words: Sequence[str]) -> list[tuple[str, ...]]:
        """The tokens FTS5 makes of each word (one for a plain word, none or several otherwise)."""
        missing = [w for w in dict.fromkeys(words) if w not in self._words]
        if missing:
            if len(self._words) + len(missing) > _WORD_CACHE_MAX:
                self._words.clear()
            found: dict[int, list[str]] = {}
            with self._db:
                self._db.execute("DELETE FROM t")
                self._db.executemany(
                    "INSERT INTO t (rowid, title, abstract) VALUES (?, ?, '')", list(enumerate(missing, start=1))
                )
                for term, doc in self._db.execute("SELECT term, doc FROM v ORDER BY doc, offset"):
                    found.setdefault(doc, []).append(term)
                self._db.execute("DELETE FROM t")
            for number, word in enumerate(missing, start=1):
                self._words[word] = tuple(found.get(number, ()))
        return [self._words[w] for w in words]


class Bm25Matrix:
    """Column-weighted term counts of every paper, in CSC form (a term's papers are contiguous).

    Row `d` of the matrix is the paper with store row id `d`; `present[d]` says whether
    that paper exists (a paper may have no tokens and still count in N, as in FTS5)."""

    def __init__(
        self,
        terms: list[str],
        indptr: np.ndarray,
        indices: np.ndarray,
        counts: np.ndarray,
        lengths: np.ndarray,
        present: np.ndarray,
        store_id: str,
        synced_seq: int,
    ) -> None:
        self.terms = terms
        self.term_ids = {t: i for i, t in enumerate(terms)}
        self.indptr = indptr  # [terms + 1] int64
        self.indices = indices  # [postings] int32 row ids, sorted within a term
        # [postings] weighted counts: small integers, exact in float32; scored in float64 as FTS5 does
        self.counts = counts.astype(np.float32)
        self.lengths = lengths  # [rows] float64 tokens per paper
        self.present = present  # [rows] bool
        self.store_id = store_id
        self.synced_seq = synced_seq
        self.papers = int(present.sum())
        self.avgdl = float(lengths.sum()) / self.papers if self.papers else 0.0
        self._tokenizer = FtsTokenizer()

    # --- building and updating ------------------------------------------------------------

    @classmethod
    def build(cls, store: PaperStore) -> Bm25Matrix:
        """Tokenize every paper of the store."""
        seq = store.fts_change_seq()
        empty = cls._empty(store.store_id, seq)
        return empty._with_papers(store.iter_texts(), replaced=np.zeros(0, np.int64), seq=seq)

    @classmethod
    def _empty(cls, store_id: str, seq: int) -> Bm25Matrix:
        no_rows = np.zeros(0)
        return cls(
            [], np.zeros(1, np.int64), np.zeros(0, np.int32), no_rows, no_rows, no_rows.astype(bool), store_id, seq
        )

    def sync(self, store: PaperStore) -> tuple[Bm25Matrix, int]:
        """The matrix brought up to the store's current state, and how many papers were
        re-tokenized. Returns self when nothing changed."""
        seq = store.fts_change_seq()
        if seq == self.synced_seq:
            return self, 0
        if seq < self.synced_seq or store.store_id != self.store_id:  # a store restored from a copy
            rebuilt = Bm25Matrix.build(store)
            return rebuilt, rebuilt.papers
        changed = store.fts_changed_since(self.synced_seq, seq)
        updated = self._with_papers(store.texts(changed), replaced=changed, seq=seq)
        return updated, len(changed)

    def _with_papers(self, rows: Iterable[tuple[int, str, str]], replaced: np.ndarray, seq: int) -> Bm25Matrix:
        """A new matrix: the papers `replaced` dropped (changed or deleted), then `rows` added."""
        tokenizer = self._tokenizer
        terms = list(self.terms)
        term_ids = dict(self.term_ids)
        new_terms: list[np.ndarray] = []
        new_docs: list[np.ndarray] = []
        new_weights: list[np.ndarray] = []
        new_tokens: list[np.ndarray] = []
        added_docs: list[int] = []
        batch: list[tuple[int, str, str]] = []

        def flush() -> None:
            words, docs, column_counts = tokenizer.postings(batch)
            ids = np.empty(len(words), np.int64)
            for position, word in enumerate(words):
                index = term_ids.get(word)
                if index is None:
                    index = term_ids[word] = len(terms)
                    terms.append(word)
                ids[position] = index
            new_terms.append(ids)
            new_docs.append(docs)
            # FTS5 adds the column weight once per token: small integers, exact in any order
            new_weights.append(column_counts @ np.asarray(BM25_WEIGHTS, np.float64))
            new_tokens.append(column_counts.sum(axis=1))
            added_docs.extend(r[0] for r in batch)
            batch.clear()

        for row in rows:
            batch.append(row)
            if len(batch) >= TOKENIZE_BATCH:
                flush()
        if batch:
            flush()

        # old postings of the papers that were not replaced
        old_terms = np.repeat(np.arange(len(self.terms), dtype=np.int64), np.diff(self.indptr))
        keep = ~np.isin(self.indices, replaced) if len(replaced) else np.ones(len(self.indices), bool)
        all_terms = np.concatenate([old_terms[keep], *new_terms])
        all_docs = np.concatenate([self.indices[keep].astype(np.int64), *new_docs])
        all_weights = np.concatenate([self.counts[keep].astype(np.float64), *new_weights])

        rows_needed = max(len(self.present), (max(added_docs) + 1) if added_docs else 0)
        present = np.zeros(rows_needed, bool)
        present[: len(self.present)] = self.present
        lengths = np.zeros(rows_needed)
        lengths[: len(self.lengths)] = self.lengths
        gone = replaced[replaced < rows_needed]
        present[gone], lengths[gone] = False, 0.0
        present[np.asarray(added_docs, np.int64)] = True
        for docs, tokens in zip(new_docs, new_tokens, strict=True):
            lengths += np.bincount(docs, weights=tokens, minlength=rows_needed)

        # CSC: postings sorted by term, then row id; duplicate (term, row) pairs summed
        # in token order, as FTS5 sums each instance's column weight
        order = np.lexsort((all_docs, all_terms))
        all_terms, all_docs, all_weights = all_terms[order], all_docs[order], all_weights[order]
        starts = np.ones(len(all_terms), bool)
        starts[1:] = (all_terms[1:] != all_terms[:-1]) | (all_docs[1:] != all_docs[:-1])
        group = np.cumsum(starts) - 1
        counts = np.bincount(group, weights=all_weights)
        unique_terms = all_terms[starts]
        indptr = np.zeros(len(terms) + 1, np.int64)
        np.cumsum(np.bincount(unique_terms, minlength=len(terms)), out=indptr[1:])
        return Bm25Matrix(
            terms, indptr, all_docs[starts].astype(np.int32), counts, lengths, present, self.store_id, seq
        )

    # --- search ---------------------------------------------------------------------------

    def search(self, query: str, limit: int, allowed: np.ndarray | None = None) -> list[int] | None:
        """Row ids of the best `limit` papers, as `PaperStore.bm25` ranks them; None when a
        query word is not a single FTS5 token (the caller asks FTS5 then).

        `allowed`: sorted row ids a filter lets through (None: all)."""
        words = fts_words(query)
        if not words or limit <= 0:
            return []
        tokens = self._tokenizer.words(words)
        if any(len(t) != 1 for t in tokens):
            return None
        rows = len(self.present)
        score = np.zeros(rows)
        touched = np.zeros(rows, bool)
        n = self.papers
        for (term,) in tokens:  # phrase by phrase, in query order, as FTS5 sums them
            column = self.term_ids.get(term)
            if column is None:
                continue
            start, end = self.indptr[column], self.indptr[column + 1]
            docs = self.indices[start:end]
            frequency = self.counts[start:end].astype(np.float64)
            hits = end - start
            idf = math.log((n - hits + 0.5) / (hits + 0.5))
            if idf <= 0.0:
                idf = 1e-6
            lengths = self.lengths[docs]
            score[docs] += idf * ((frequency * (K1 + 1.0)) / (frequency + K1 * (1 - B + B * lengths / self.avgdl)))
            touched[docs] = True
        if allowed is not None:
            mask = np.zeros(rows, bool)
            mask[allowed[allowed < rows]] = True
            touched &= mask
        candidates = np.flatnonzero(touched)
        if len(candidates) > limit:
            # everything scoring at least the limit-th best score, ties included
            threshold = np.partition(score[candidates], len(candidates) - limit)[len(candidates) - limit]
            candidates = candidates[score[candidates] >= threshold]
        order = np.lexsort((candidates, -score[candidates]))[:limit]
        return candidates[order].tolist()

    # --- saving ---------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write `bm25.npz` beside the vector index, atomically (temporary file, then rename)."""
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT_VERSION,
            "store_id": self.store_id,
            "synced_seq": self.synced_seq,
            "tokenizer": FTS_TOKENIZER,
            "weights": list(BM25_WEIGHTS),
        }
        buffer = io.BytesIO()
        np.savez(
            buffer,
            meta=np.frombuffer(json.dumps(meta).encode(), np.uint8),
            terms=np.frombuffer("\n".join(self.terms).encode(), np.uint8),
            indptr=self.indptr,
            indices=self.indices,
            counts=self.counts,
            present=self.present,
            lengths=self.lengths.astype(np.int32),
        )
        # temporaries named bm25.npz.*.tmp: what library.STALE_INDEX_FILES clears after a kill
        write_bytes_atomically(directory / BM25_FILE, buffer.getbuffer(), f"{BM25_FILE}.")

    @classmethod
    def load(cls, directory: Path, store_id: str) -> Bm25Matrix | None:
        """The saved matrix, or None when there is none, it is unreadable, or it belongs to
        another store or tokenizer (it is derived data: the caller rebuilds it)."""
        path = directory / BM25_FILE
        if not path.exists():
            return None
        try:
            with np.load(path) as saved:
                meta = json.loads(saved["meta"].tobytes())
                if (meta.get("format"), meta.get("store_id"), meta.get("tokenizer"), meta.get("weights")) != (
                    FORMAT_VERSION,
                    store_id,
                    FTS_TOKENIZER,
                    list(BM25_WEIGHTS),
                ):
                    log.info("%s is for another store or scoring; rebuilding it", path)
                    return None
                text = saved["terms"].tobytes().decode()
                indptr, indices = saved["indptr"], saved["indices"]
                counts, present = saved["counts"], saved["present"]
                lengths = saved["lengths"].astype(np.float64)
        except (OSError, ValueError, KeyError) as error:
            log.warning("%s is unreadable (%s); rebuilding it", path, error)
            return None
        terms = text.split("\n") if text else []
        if len(indptr) != len(terms) + 1 or indptr[-1] != len(indices) or len(counts) != len(indices):
            log.warning("%s is inconsistent; rebuilding it", path)
            return None
        if not (len(lengths) == len(present) and (len(indices) == 0 or int(indices.max()) < len(present))):
            log.warning("%s is inconsistent; rebuilding it", path)
            return None
        return cls(terms, indptr, indices, counts, lengths, present, store_id, int(meta["synced_seq"]))
