"""Spherical k-means on clearly separated groups, with exact expected groups."""

from __future__ import annotations

import numpy as np
import pytest

from retriever.clustering import kmeans_groups, normalize_rows


def separated(sizes: list[int], dimension: int = 8, spread: float = 0.05) -> np.ndarray:
    """Rows in groups of `sizes`, group g around axis g, deterministic offsets."""
    rows = []
    for group, size in enumerate(sizes):
        for member in range(size):
            vector = np.zeros(dimension)
            vector[group] = 1.0
            vector[(group + 1 + member) % dimension] += spread * (member + 1)
            rows.append(vector)
    return np.array(rows, dtype=np.float32)


def test_clearly_separated_groups_are_found_exactly():
    vectors = separated([4, 3, 5])
    assert kmeans_groups(vectors, 3) == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9, 10, 11]]


def test_order_of_rows_does_not_change_the_groups():
    vectors = separated([4, 3, 5])
    order = [11, 3, 7, 0, 5, 9, 1, 4, 10, 2, 6, 8]
    found = kmeans_groups(vectors[order], 3)
    assert sorted(sorted(order[i] for i in g) for g in found) == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9, 10, 11]]


def test_edge_counts():
    vectors = separated([2, 2])
    assert kmeans_groups(vectors, 1) == [[0, 1, 2, 3]]
    assert kmeans_groups(vectors[:2], 5) == [[0], [1]]
    assert kmeans_groups(np.zeros((0, 8), np.float32), 3) == []
    with pytest.raises(ValueError, match="at least one"):
        kmeans_groups(vectors, 0)


def test_normalize_rows_leaves_zero_rows_zero():
    out = normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert out.dtype == np.float32 and np.allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    with pytest.raises(ValueError, match="2-D"):
        normalize_rows(np.zeros(3))


def test_one_thread_groups_as_the_default_threads_and_the_setting_is_restored(monkeypatch):
    import contextlib

    import faiss

    from retriever import clustering

    vectors = np.random.default_rng(0).standard_normal((40, 384)).astype(np.float32)
    threads = faiss.omp_get_max_threads()
    one_thread = kmeans_groups(vectors, 8)
    assert faiss.omp_get_max_threads() == threads
    monkeypatch.setattr(clustering, "_one_thread", lambda _faiss: contextlib.nullcontext())
    assert kmeans_groups(vectors, 8) == one_thread
    assert len(one_thread) == 8 and sorted(i for g in one_thread for i in g) == list(range(40))
