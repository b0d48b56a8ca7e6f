"""The FAISS inner-product index over normalized paper embeddings, saved beside the store.

Ids in the index are the store's paper row ids (an IndexIDMap2 holds the map, and it is
saved with the index). A JSON file beside it names the embedding model, the dimension,
the index type and the store it belongs to; opening it for another model is an error. The
index is derived data: the store keeps every embedding, so it can always be rebuilt.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from retriever.atomic_write import write_bytes_atomically
from retriever.errors import IndexMismatchError, VectorIndexError

log = logging.getLogger(__name__)

IndexType = Literal["flat", "hnsw"]
INDEX_FILE = "papers.faiss"
META_FILE = "papers.meta.json"

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128
SMALL_BATCH = 8  # at most this many queries search on one thread


@dataclass(frozen=True, slots=True)
class IndexMeta:
    """What the saved index was built from."""

    model: str
    dimension: int
    index_type: IndexType
    count: int
    store_id: str


def choose_index_type(requested: str, papers: int, exact_max: int) -> IndexType:
    """'auto' means exact (flat) up to `exact_max` papers and HNSW past it."""
    if requested == "auto":
        return "flat" if papers <= exact_max else "hnsw"
    if requested == "ivfpq":
        # IVF-PQ training hung in faiss-cpu 1.15.1 here (IVF + PQ, inner product); until it
        # is tested, HNSW is the approximate index
        raise VectorIndexError("index type 'ivfpq' is not available in this version; use 'hnsw' (or 'auto')")
    if requested not in ("flat", "hnsw"):
        raise VectorIndexError(f"unknown index type {requested!r}; use auto, flat or hnsw")
    return requested  # type: ignore[return-value]


class VectorIndex:
    """A FAISS index of normalized vectors, searched by inner product (cosine)."""

    def __init__(self, index, meta: IndexMeta) -> None:
        self._index = index
        self.meta = meta

    # --- making and loading ---------------------------------------------------------------

    @classmethod
    def build(
        cls, model: str, store_id: str, ids: np.ndarray, vectors: np.ndarray, index_type: IndexType
    ) -> VectorIndex:
        """A new index over `vectors` (rows, normalized) with the given ids."""
        import faiss

        dimension = int(vectors.shape[1])
        if index_type == "flat":
            base = faiss.IndexFlatIP(dimension)
        elif index_type == "hnsw":
            base = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            base.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            raise VectorIndexError(f"unknown index type {index_type!r}")
        index = faiss.IndexIDMap2(base)
        meta = IndexMeta(model=model, dimension=dimension, index_type=index_type, count=0, store_id=store_id)
        built = cls(index, meta)
        built.add(ids, vectors)
        return built

    @classmethod
    def load(cls, directory: Path, model: str, dimension: int | None = None) -> VectorIndex | None:
        """The saved index in `directory`, or None when there is none.

        Raises IndexMismatchError when it was built with another model or dimension, and
        VectorIndexError when its files disagree (a crash between writing them).
        """
        import faiss

        meta_path, index_path = directory / META_FILE, directory / INDEX_FILE
        if not meta_path.exists() or not index_path.exists():
            return None
        try:
            meta = IndexMeta(**json.loads(meta_path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as error:
            raise VectorIndexError(f"{meta_path} is unreadable ({error}); delete {directory} to rebuild") from None
        if meta.model != model or (dimension is not None and meta.dimension != dimension):
            raise IndexMismatchError(
                f"the index in {directory} was built with embedding model {meta.model!r} "
                f"(dimension {meta.dimension}), not {model!r}"
                + (f" (dimension {dimension})" if dimension is not None else "")
                + "; set retrieval.embedding_model and retrieval.embedding_max_seq_length to match "
                + f"{meta.model!r} (model@length), or run `cpmsurvey index` to rebuild it for {model!r}"
            )
        try:
            index = faiss.read_index(str(index_path))
        except RuntimeError as error:
            raise VectorIndexError(f"{index_path} is unreadable ({error}); delete {directory} to rebuild") from None
        if index.ntotal != meta.count or index.d != meta.dimension:
            raise VectorIndexError(f"{index_path} does not match {meta_path}; delete {directory} to rebuild")
        return cls(index, meta)

    def save(self, directory: Path) -> None:
        """Write the index, then its metadata, each to a temporary file renamed into place."""
        import faiss

        directory.mkdir(parents=True, exist_ok=True)
        data = faiss.serialize_index(self._index)
        # temporaries named <file>.*.tmp: what library.STALE_INDEX_FILES clears after a kill
        write_bytes_atomically(directory / INDEX_FILE, data.tobytes(), f"{INDEX_FILE}.")
        write_bytes_atomically(directory / META_FILE, json.dumps(asdict(self.meta), indent=2).encode(), f"{META_FILE}.")

    # --- contents -------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Number of vectors."""
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        """Every id in the index (int64)."""
        import faiss

        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors with their ids, without rebuilding."""
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape[1] != self.meta.dimension:
            raise IndexMismatchError(f"vectors of dimension {vectors.shape[1]} for an index of {self.meta.dimension}")
        self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))
        self.meta = IndexMeta(**{**asdict(self.meta), "count": self.count})

    @property
    def supports_remove(self) -> bool:
        """HNSW graphs cannot drop a vector; a flat index can."""
        return self.meta.index_type != "hnsw"

    def remove(self, ids: np.ndarray) -> None:
        """Drop the given ids (flat only)."""
        import faiss

        if not self.supports_remove:
            raise VectorIndexError("an HNSW index cannot remove vectors; rebuild it")
        self._index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64)))
        self.meta = IndexMeta(**{**asdict(self.meta), "count": self.count})

    # --- search ---------------------------------------------------------------------------

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the best `k` per query row; missing slots have id -1.

        `allowed` restricts the search to those ids (a FAISS selector, so the restriction
        is applied inside the search, not by over-fetching).
        """
        import faiss

        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = max(1, min(k, self.count)) if self.count else 1
        if self.count == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        params = self._search_params(faiss, k)
        if allowed is not None:
            if len(allowed) == 0:
                return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
            params.sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        if len(queries) > SMALL_BATCH:
            return self._index.search(queries, k, params=params)
        # A few queries finish in well under a millisecond on one thread; OpenMP's thread
        # team costs ~10 ms per call when the cores are shared (measured at load 4 on 2 cores).
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            return self._index.search(queries, k, params=params)
        finally:
            faiss.omp_set_num_threads(threads)

    def _search_params(self, faiss, k: int):
        if self.meta.index_type == "hnsw":
            return faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))
        return faiss.SearchParameters()
