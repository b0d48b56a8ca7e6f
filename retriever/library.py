"""`Library`: the paper store, an embedder and the FAISS index behind one object, the
`Retriever` the workflow searches.

Public surface (stable names): `Library.open`, `ingest_jsonl`, `ingest_oai_snapshot`,
`ingest_arxiv`, `update_index`, `search`, `search_many`, `get`, `stats`, `distribution`,
`close`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from retriever.arxiv_api import ResultsClient, ingest_arxiv
from retriever.bm25 import BM25_FILE, Bm25Matrix
from retriever.embeddings import (
    DEFAULT_MAX_SEQ_LENGTH,
    DEFAULT_MODEL,
    Backend,
    Embedder,
    embedding_key,
    load_embedder,
    resolve_model,
)
from retriever.errors import EmbeddingError, IndexMismatchError
from retriever.fusion import reciprocal_rank_fusion
from retriever.index import INDEX_FILE, META_FILE, VectorIndex, choose_index_type
from retriever.ingest import IngestReport, SnapshotFilter, ingest_lines
from retriever.store import PaperStore, paper_text
from retriever.types import Hit, Paper, SearchFilters
from retriever.write_lock import exclusive, remove_stale

log = logging.getLogger(__name__)

# past this many changed papers a search asks FTS5 rather than re-tokenizing them first;
# `update_index` brings the BM25 matrix up to date whatever the number
BM25_SEARCH_SYNC_MAX = 2000
# what an interrupted index write leaves in the index folder (see index.py and bm25.py)
STALE_INDEX_FILES = tuple(f"{name}.*.tmp" for name in (INDEX_FILE, META_FILE, BM25_FILE))
EMBED_CHUNK = 2048  # papers embedded between two commits of their vectors
ENCODE_CALL = 256  # texts per encode call: sorted by length within it, and the progress bar's step


@dataclass(frozen=True, slots=True)
class IndexUpdate:
    """What `update_index` did."""

    embedded: int
    added: int
    replaced: int
    rebuilt: bool
    index_type: str
    total: int
    embed_seconds: float = 0.0
    index_seconds: float = 0.0
    bm25_papers: int = 0  # papers (re-)tokenized into the BM25 matrix
    bm25_seconds: float = 0.0

    def summary(self) -> str:
        """One line for a person."""
        how = "rebuilt" if self.rebuilt else "updated"
        return (
            f"embedded {self.embedded} papers; index {how} ({self.index_type}): "
            f"{self.added} added, {self.replaced} replaced, {self.total} in all; "
            f"BM25 matrix: {self.bm25_papers} papers tokenized"
        )


class Library:
    """Papers you can search: store (SQLite + FTS5) + embedder + FAISS index.

    The embedder loads on first use (embedding or dense search), so ingesting alone stays
    quick. Build one with :meth:`open` or app.library_factory.open_library.
    """

    def __init__(
        self,
        store: PaperStore,
        index_dir: Path,
        embedder_factory: Callable[[], Embedder],
        model_name: str,
        *,
        index_type: str = "auto",
        exact_index_max_papers: int = 100_000,
        rrf_k: int = 60,
        candidate_depth: int = 100,
        feedback_papers: int = 0,
    ) -> None:
        self.store = store
        self.index_dir = Path(index_dir)
        self.model_name = model_name
        self.index_type = index_type
        self.exact_index_max_papers = exact_index_max_papers
        self.rrf_k = rrf_k
        self.candidate_depth = candidate_depth
        self.feedback_papers = feedback_papers
        self._embedder_factory = embedder_factory
        self._embedder: Embedder | None = None
        self._index: VectorIndex | None = None
        self._index_loaded = False
        self._bm25: Bm25Matrix | None = None
        self._bm25_loaded = False

    @classmethod
    def open(
        cls,
        store_path: Path,
        index_dir: Path,
        *,
        model: str = DEFAULT_MODEL,
        backend: Backend = "auto",
        cache_dir: Path | None = None,
        batch_size: int = 64,
        max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
        index_type: str = "auto",
        exact_index_max_papers: int = 100_000,
        rrf_k: int = 60,
        feedback_papers: int = 0,
    ) -> Library:
        """Open (or create) the store at `store_path` and the index in `index_dir`.

        `cache_dir` holds the exported ONNX model (default: beside the index).
        `feedback_papers`: see :meth:`search_many` (0: off)."""
        store = PaperStore(store_path)
        resolved = resolve_model(model)
        cache = Path(cache_dir) if cache_dir else Path(index_dir).parent / "models"

        def factory() -> Embedder:
            return load_embedder(model, backend, cache, batch_size, max_seq_length)

        return cls(
            store,
            index_dir,
            factory,
            embedding_key(resolved.name, max_seq_length),
            index_type=index_type,
            exact_index_max_papers=exact_index_max_papers,
            rrf_k=rrf_k,
            feedback_papers=feedback_papers,
        )

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use."""
        if self._embedder is None:
            self._embedder = self._embedder_factory()
            if self._embedder.name != self.model_name:
                raise EmbeddingError(f"embedder {self._embedder.name!r} is not the library's model {self.model_name!r}")
        return self._embedder

    def _loaded_index(self) -> VectorIndex | None:
        if not self._index_loaded:
            self._index = VectorIndex.load(self.index_dir, self.model_name)
            self._index_loaded = True
        return self._index

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    # --- ingestion ------------------------------------------------------------------------

    def ingest_jsonl(self, path: Path | str, on_batch: Callable[[IngestReport], None] | None = None) -> IngestReport:
        """Ingest a JSONL(.gz) corpus in our schema; resumes an interrupted ingest of it."""
        with self._writing(f"ingesting into {self.store.path}"):
            return ingest_lines(self.store, path, kind="jsonl", on_batch=on_batch)

    def ingest_oai_snapshot(
        self,
        path: Path | str,
        categories: Sequence[str] = (),
        date_from: date | None = None,
        date_to: date | None = None,
        on_batch: Callable[[IngestReport], None] | None = None,
    ) -> IngestReport:
        """Stream the arXiv OAI metadata snapshot, keeping papers of `categories` (exact, or an
        archive like `cs`) first submitted between `date_from` and `date_to`."""
        keep = SnapshotFilter(categories=tuple(categories), date_from=date_from, date_to=date_to)
        with self._writing(f"ingesting into {self.store.path}"):
            return ingest_lines(self.store, path, kind="oai", snapshot_filter=keep, on_batch=on_batch)

    def ingest_arxiv(
        self,
        query: str | None = None,
        ids: Sequence[str] = (),
        max_results: int = 200,
        client: ResultsClient | None = None,
    ) -> IngestReport:
        """Fetch papers from the arXiv API by query or ids (network; ArxivUnavailableError offline)."""
        with self._writing(f"ingesting into {self.store.path}"):
            return ingest_arxiv(self.store, query=query, ids=ids, max_results=max_results, client=client)

    def _writing(self, what: str):
        """One writer per library at a time (see retriever.write_lock); a second waits."""
        return exclusive(self.store.path, what)

    # --- embedding and indexing -----------------------------------------------------------

    def update_index(
        self, show_progress: bool = False, on_chunk: Callable[[int, float], None] | None = None
    ) -> IndexUpdate:
        """Embed the papers that have no embedding yet (persisting each chunk, so an
        interrupted run continues), then bring the FAISS index up to date: add new vectors,
        replace re-embedded ones, or rebuild when the index type must change.

        `on_chunk(papers, seconds)` is called after each chunk of vectors is committed. A
        second process updating the same library waits for the first (and then finds its
        papers embedded)."""
        with self._writing(f"indexing the library at {self.store.path}"):
            remove_stale(self.index_dir, STALE_INDEX_FILES)
            started = time.perf_counter()
            embedded = self._embed_missing(show_progress, on_chunk)
            embedded_at = time.perf_counter()
            update = self._sync_index(embedded)
            indexed_at = time.perf_counter()
            bm25_papers = self._sync_bm25(limit=None)
        return dataclasses.replace(
            update,
            embed_seconds=embedded_at - started,
            index_seconds=indexed_at - embedded_at,
            bm25_papers=bm25_papers,
            bm25_seconds=time.perf_counter() - indexed_at,
        )

    def _sync_bm25(self, limit: int | None) -> int | None:
        """Bring the BM25 matrix up to the store (building it when there is none) and save
        it; how many papers were tokenized, or None when more than `limit` changed (the
        matrix is then left as it was)."""
        if not self._bm25_loaded:
            self._bm25 = Bm25Matrix.load(self.index_dir, self.store.store_id)
            self._bm25_loaded = True
        matrix = self._bm25
        if matrix is None:
            if limit is not None:
                return None
            log.info("building the BM25 matrix over %d papers", self.store.count())
            matrix = Bm25Matrix.build(self.store)
            tokenized = matrix.papers
        else:
            if self.store.fts_change_seq() == matrix.synced_seq:
                return 0
            if limit is not None and len(self.store.fts_changed_since(matrix.synced_seq)) > limit:
                return None
            matrix, tokenized = matrix.sync(self.store)
        self._bm25 = matrix
        if tokenized:
            try:
                matrix.save(self.index_dir)
            except OSError as error:
                if limit is None:  # `update_index`: the user asked for it to be written
                    raise
                # a search on a read-only index directory still ranks from the synced matrix
                log.warning("cannot save the BM25 matrix in %s (%s); it is kept in memory", self.index_dir, error)
        return tokenized

    def _embed_missing(self, show_progress: bool, on_chunk: Callable[[int, float], None] | None) -> int:
        pending = self.store.count_unembedded(self.model_name)
        if pending == 0:
            return 0
        embedder = self.embedder
        from tqdm import tqdm

        done = 0
        with tqdm(total=pending, desc="embedding", unit="paper", disable=not show_progress, smoothing=0.1) as bar:
            while True:
                chunk_started = time.perf_counter()
                chunk = self.store.unembedded(self.model_name, EMBED_CHUNK)
                if not chunk:
                    break
                rowids = [r for r, _ in chunk]
                texts = [t for _, t in chunk]
                parts = []
                for start in range(0, len(texts), ENCODE_CALL):
                    parts.append(embedder.encode(texts[start : start + ENCODE_CALL]))
                    bar.update(len(parts[-1]))
                self.store.save_embeddings(self.model_name, rowids, np.concatenate(parts))
                done += len(chunk)
                if on_chunk is not None:
                    on_chunk(len(chunk), time.perf_counter() - chunk_started)
        return done

    def _sync_index(self, embedded: int) -> IndexUpdate:
        store_id = self.store.store_id
        try:
            index = self._loaded_index()
        except IndexMismatchError as error:
            # Indexing with the configured model is what the caller asked for: the saved index is
            # derived data of another model (whose vectors stay in the store), so rebuild it.
            log.warning("%s; rebuilding it for %s", str(error).split(";")[0], self.model_name)
            index = None
        total_embedded = self.store.stats()["embeddings"].get(self.model_name, 0)
        wanted_type = choose_index_type(self.index_type, total_embedded, self.exact_index_max_papers)
        pending = self.store.unindexed_rowids(self.model_name)
        rebuild = index is None or index.meta.store_id != store_id or index.meta.index_type != wanted_type
        replaced = 0
        if not rebuild and len(pending):
            present = np.intersect1d(pending, index.ids(), assume_unique=True)
            replaced = len(present)
            if replaced and not index.supports_remove:
                rebuild = True
            else:
                if replaced:
                    index.remove(present)
                ids, vectors = self.store.embeddings(self.model_name, pending)
                index.add(ids, vectors)
                index.save(self.index_dir)
                self.store.mark_indexed(self.model_name, pending)
        if rebuild:
            if total_embedded == 0:
                return IndexUpdate(embedded, 0, 0, False, wanted_type, 0)
            ids, vectors = self.store.embeddings(self.model_name)
            log.info("building a %s index over %d papers", wanted_type, len(ids))
            index = VectorIndex.build(self.model_name, store_id, ids, vectors, wanted_type)
            index.save(self.index_dir)
            self.store.mark_indexed(self.model_name)
        self._index, self._index_loaded = index, True
        added = len(ids) if rebuild else len(pending) - replaced
        return IndexUpdate(embedded, added, replaced, rebuild, index.meta.index_type, index.count)

    # --- search ---------------------------------------------------------------------------

    def search(self, query: str, k: int = 20, filters: SearchFilters | None = None) -> list[Hit]:
        """Best `k` papers for one query: dense and BM25 fused by reciprocal rank."""
        return self.search_many([query], k, filters)

    def search_many(self, queries: Sequence[str], k: int = 100, filters: SearchFilters | None = None) -> list[Hit]:
        """Best `k` papers for several queries: each query's dense and BM25 lists, all fused
        by reciprocal rank. A hit's `ranks` holds its best rank per retriever.

        With `feedback_papers` > 0 (pseudo-relevance feedback), each query vector plus the
        mean vector of the first `feedback_papers` fused papers searches once more, and that
        "feedback" list joins the fusion: it pulls in papers like the best ones found."""
        return self.search_with_feedback(queries, k, filters, self.feedback_papers)

    def search_with_feedback(
        self,
        queries: Sequence[str],
        k: int,
        filters: SearchFilters | None,
        feedback_papers: int,
        paper_queries: int = 0,
        paper_weight: float = 1.0,
    ) -> list[Hit]:
        """`search_many` with this call's own number of feedback papers (0: none), and
        query-by-paper: the stored vectors of the first `paper_queries` fused papers (after
        feedback) each search once more, those "papers" lists weighing `paper_weight` in the
        fusion (0: none). It ranks up papers close to several of the best ones found."""
        queries = [q for q in queries if q.strip()]
        if not queries or k <= 0:
            return []
        depth = max(k, self.candidate_depth)
        active = filters if filters and (filters.date_from or filters.date_to or filters.categories) else None
        allowed = self.store.filter_rowids(active) if active is not None else None
        runs: list[tuple[str, Sequence[int]]] = []
        runs.extend(("bm25", ids) for ids in self._bm25_lists(queries, depth, active, allowed))
        dense, vectors = self._dense(queries, depth, allowed)
        runs.extend(("dense", ids) for ids in dense)
        fused = reciprocal_rank_fusion(runs, self.rrf_k)
        if feedback_papers > 0 and dense:
            runs.extend(("feedback", ids) for ids in self._feedback(fused, vectors, depth, allowed, feedback_papers))
            fused = reciprocal_rank_fusion(runs, self.rrf_k)
        if paper_queries > 0 and dense:
            runs.extend(("papers", ids) for ids in self._paper_lists(fused[:paper_queries], depth, allowed))
            fused = reciprocal_rank_fusion(runs, self.rrf_k, weights={"papers": paper_weight})
        fused = fused[:k]
        papers = self.store.get_by_rowids([f.key for f in fused])
        return [Hit(paper=papers[f.key], score=f.score, ranks=dict(f.ranks)) for f in fused if f.key in papers]

    def bm25(
        self, query: str, limit: int, filters: SearchFilters | None = None, allowed: np.ndarray | None = None
    ) -> list[int]:
        """Row ids of the best `limit` papers by BM25, ranked exactly as FTS5's bm25()
        (`PaperStore.bm25`): from the saved term matrix when it is current or a few papers
        behind (it is synced first), from FTS5 otherwise. `allowed`: `filters` as row ids."""
        return self._bm25_lists([query], limit, filters, allowed)[0]

    def _bm25_lists(
        self, queries: Sequence[str], limit: int, filters: SearchFilters | None, allowed: np.ndarray | None
    ) -> list[list[int]]:
        """`bm25` for several queries, syncing the matrix (one store check) once for all of them."""
        current = self._sync_bm25(limit=BM25_SEARCH_SYNC_MAX) is not None and self._bm25 is not None
        if current and filters is not None and allowed is None:
            allowed = self.store.filter_rowids(filters)
        lists = []
        for query in queries:
            found = self._bm25.search(query, limit, allowed) if current else None
            lists.append(found if found is not None else self.store.bm25(query, limit, filters))
        return lists

    def _dense(
        self, queries: Sequence[str], depth: int, allowed: np.ndarray | None
    ) -> tuple[list[list[int]], np.ndarray]:
        """Each query's dense list, and the query vectors ([] and no vectors without an index)."""
        index = self._loaded_index()
        if index is None or index.count == 0:
            log.warning("no vector index yet (run `cpmsurvey index`); searching with BM25 only")
            return [], np.zeros((0, 0), np.float32)
        if index.meta.store_id != self.store.store_id:
            log.warning("the vector index belongs to another store; searching with BM25 only until it is rebuilt")
            return [], np.zeros((0, 0), np.float32)
        vectors = self.embedder.encode(list(queries))
        return self._search_vectors(index, vectors, depth, allowed), vectors

    @staticmethod
    def _search_vectors(index: VectorIndex, vectors: np.ndarray, depth: int, allowed) -> list[list[int]]:
        _, ids = index.search(vectors, depth, allowed)
        return [[int(i) for i in row if i >= 0] for row in ids]

    def _feedback(
        self, fused: list, query_vectors: np.ndarray, depth: int, allowed, papers: int | None = None
    ) -> list[list[int]]:
        """Dense lists for each query vector moved toward the mean of the best `papers` fused
        papers (default: `feedback_papers`)."""
        papers = self.feedback_papers if papers is None else papers
        _, top = self.store.embeddings(self.model_name, [f.key for f in fused[:papers]])
        if len(top) == 0:
            return []
        moved = query_vectors + top.mean(axis=0)
        moved /= np.clip(np.linalg.norm(moved, axis=1, keepdims=True), 1e-12, None)
        return self._search_vectors(self._loaded_index(), moved.astype(np.float32), depth, allowed)

    def _paper_lists(self, best: list, depth: int, allowed) -> list[list[int]]:
        """Dense lists for the stored vectors of the `best` fused papers, one per paper, best first."""
        rows, vectors = self.store.embeddings(self.model_name, [f.key for f in best])
        if len(vectors) == 0:
            return []
        row_of = {int(row): i for i, row in enumerate(rows.tolist())}
        order = [row_of[f.key] for f in best if f.key in row_of]
        return self._search_vectors(self._loaded_index(), np.ascontiguousarray(vectors[order]), depth, allowed)

    # --- lookup ---------------------------------------------------------------------------

    def get(self, arxiv_ids: Sequence[str]) -> list[Paper]:
        """Papers by id, in the given order; unknown ids are skipped."""
        return self.store.get(arxiv_ids)

    def distribution(self, categories: int = 20) -> dict[str, dict[str, int]]:
        """Papers per month and per category (the `categories` largest), for charts."""
        return self.store.distribution(categories)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Texts embedded by the library's model: one L2-normalised float32 row each."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.asarray(self.embedder.encode(list(texts)), dtype=np.float32)

    def vectors(self, arxiv_ids: Sequence[str]) -> np.ndarray:
        """The stored embeddings of papers, one row per id in the given order; papers not
        embedded yet are embedded now (not stored: `update_index` does that). Raises
        KeyError naming ids the store does not hold."""
        ids = list(arxiv_ids)
        if not ids:
            return np.zeros((0, 0), dtype=np.float32)
        rowids = self.store.rowids(ids)
        missing = [i for i in ids if i not in rowids]
        if missing:
            raise KeyError(f"{len(missing)} papers are not in the library: {', '.join(missing[:5])}")
        stored_rows, stored = self.store.embeddings(self.model_name, sorted(set(rowids.values())))
        by_row = {int(r): v for r, v in zip(stored_rows.tolist(), stored, strict=True)}
        absent = [r for r in dict.fromkeys(rowids[i] for i in ids) if r not in by_row]
        if absent:
            texts = self.store.texts(absent)
            fresh = self.embed([paper_text(title, abstract) for _, title, abstract in texts])
            by_row.update({row: vector for (row, _, _), vector in zip(texts, fresh, strict=True)})
        return np.stack([by_row[rowids[i]] for i in ids]).astype(np.float32, copy=False)

    def phrase_shares(self, phrases: Sequence[str]) -> list[float]:
        """The share of the library's papers holding each phrase (`PaperStore.phrase_counts`)."""
        total = self.store.count()
        return [count / total for count in self.store.phrase_counts(phrases)] if total else [0.0] * len(phrases)

    def stats(self) -> dict:
        """Papers, date range, top categories, embeddings and index state."""
        info = self.store.stats()
        index = self._loaded_index()
        info["embedding_model"] = self.model_name
        info["unembedded"] = self.store.count_unembedded(self.model_name)
        info["index"] = None if index is None else {"type": index.meta.index_type, "vectors": index.count}
        return info
