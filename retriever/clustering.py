"""Grouping papers by their embeddings: spherical k-means (FAISS), deterministic for a seed.

The k-means runs on one thread: it groups a search's few dozen best papers, and FAISS's
OpenMP threads wait for each other at every step of every iteration, which costs tenths of a
second when other processes hold the cores (bench/RESULTS.md, Retrieval).

Public: `kmeans_groups`, `normalize_rows`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

KMEANS_ITERATIONS = 25
KMEANS_RESTARTS = 5  # FAISS keeps the run with the lowest objective


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {matrix.shape}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.ascontiguousarray(matrix / np.clip(norms, 1e-12, None), dtype=np.float32)


def kmeans_groups(vectors: np.ndarray, count: int, seed: int = 0) -> list[list[int]]:
    """Row indices of `vectors` split into at most `count` groups by spherical k-means on
    cosine similarity; empty groups are dropped. Groups are ordered by their smallest row
    index and each lists its rows in ascending order, so equal input gives equal output.

    Raises ValueError for a count below 1."""
    if count < 1:
        raise ValueError(f"cannot make {count} groups; ask for at least one")
    matrix = normalize_rows(vectors)
    rows = len(matrix)
    if rows == 0:
        return []
    if count == 1 or rows <= count:
        return [list(range(rows))] if count == 1 else [[i] for i in range(rows)]
    import faiss

    kmeans = faiss.Kmeans(
        matrix.shape[1],
        count,
        niter=KMEANS_ITERATIONS,
        nredo=KMEANS_RESTARTS,
        seed=seed + 1,  # FAISS treats seed 0 as its default seed as well; keep them apart explicitly
        spherical=True,
        min_points_per_centroid=1,
        max_points_per_centroid=max(rows, 256),
        verbose=False,
    )
    with _one_thread(faiss):
        kmeans.train(matrix)
        _, assigned = kmeans.index.search(matrix, 1)
    groups: dict[int, list[int]] = {}
    for row, label in enumerate(assigned.ravel().tolist()):
        groups.setdefault(int(label), []).append(row)
    return sorted(groups.values(), key=lambda members: members[0])


@contextmanager
def _one_thread(faiss) -> Iterator[None]:
    """FAISS's OpenMP threads limited to one inside the block (for the calling thread: an
    OpenMP setting of the thread that makes it), restored after."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
