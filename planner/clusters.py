"""Grouping a survey's candidate papers into sections by their embeddings, and the order
the sections are read in.

Public: `PaperGroup`, `section_groups`, `subgroups`, `join_nearest`, `order_groups`, `year_span`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from retriever.clustering import kmeans_groups, normalize_rows
from retriever.types import Paper


@dataclass(frozen=True, slots=True)
class PaperGroup:
    """Papers that belong together: their rows in the candidates, how close their mean
    vector is to the topic's (cosine), and their median publication date."""

    rows: tuple[int, ...]
    closeness: float
    median_date: date | None

    def __len__(self) -> int:
        return len(self.rows)


def section_groups(vectors: np.ndarray, count: int, min_papers: int, seed: int = 0) -> list[list[int]]:
    """Rows of `vectors` in at most `count` groups of at least `min_papers` rows each.

    K-means makes `count` groups; a group smaller than `min_papers` gives its rows to the
    groups whose centres are closest to each row, and the largest group that can spare it
    is split in two, until every group is large enough or no split is possible. Fewer rows
    than `count * min_papers` give fewer groups (callers say so). Deterministic for a seed."""
    if min_papers < 1:
        raise ValueError(f"min_papers must be at least 1, got {min_papers}")
    matrix = normalize_rows(vectors)
    rows = len(matrix)
    count = min(count, rows // min_papers)
    if count <= 1:
        return [list(range(rows))] if rows else []
    groups = kmeans_groups(matrix, count, seed)
    for _ in range(2 * count):  # each pass dissolves one small group; splits are bounded the same way
        small = [g for g in groups if len(g) < min_papers]
        if not small:
            break
        groups = _dissolve(groups, min(small, key=len), matrix)
        groups = _split_largest(groups, matrix, min_papers, count, seed)
    return sorted((sorted(g) for g in groups), key=lambda g: g[0])


def join_nearest(groups: Sequence[Sequence[int]], rows: Sequence[int], vectors: np.ndarray) -> list[list[int]]:
    """`groups` (rows of `vectors`) with each of `rows` added to the group whose mean vector
    is closest to it, each group sorted."""
    matrix = normalize_rows(vectors)
    centres = normalize_rows(np.stack([matrix[list(g)].mean(axis=0) for g in groups]))
    joined = [list(g) for g in groups]
    for row in rows:
        joined[int(np.argmax(centres @ matrix[row]))].append(row)
    return [sorted(g) for g in joined]


def _dissolve(groups: list[list[int]], victim: list[int], matrix: np.ndarray) -> list[list[int]]:
    """`groups` without `victim`, its rows moved to the group with the closest centre."""
    return join_nearest([g for g in groups if g is not victim], victim, matrix)


def _split_largest(
    groups: list[list[int]], matrix: np.ndarray, min_papers: int, count: int, seed: int
) -> list[list[int]]:
    """Split the largest group in two when fewer than `count` groups remain and both halves
    would hold `min_papers` rows; otherwise return `groups` as they are."""
    if len(groups) >= count:
        return groups
    largest = max(groups, key=len)
    if len(largest) < 2 * min_papers:
        return groups
    halves = [[largest[i] for i in half] for half in kmeans_groups(matrix[largest], 2, seed)]
    if len(halves) < 2 or min(len(h) for h in halves) < min_papers:
        return groups
    return [g for g in groups if g is not largest] + halves


def subgroups(vectors: np.ndarray, rows: Sequence[int], count: int, min_papers: int, seed: int = 0) -> list[list[int]]:
    """`rows` split into up to `count` sub-groups of at least `min_papers` each (rows of
    the full `vectors`); [] when they cannot be split that way."""
    if count < 2 or len(rows) < 2 * min_papers:
        return []
    local = section_groups(np.asarray(vectors)[list(rows)], count, min_papers, seed)
    if len(local) < 2:
        return []
    return [[rows[i] for i in group] for group in local]


def order_groups(
    groups: Sequence[Sequence[int]], vectors: np.ndarray, topic_vector: np.ndarray, papers: Sequence[Paper]
) -> list[PaperGroup]:
    """Groups from foundations to applications: closest to the topic first (the topic's core
    is what the rest builds on); groups equally close (to 0.01) go oldest first."""
    matrix = normalize_rows(vectors)
    topic = normalize_rows(np.asarray(topic_vector).reshape(1, -1))[0]
    described = []
    for rows in groups:
        centre = normalize_rows(matrix[list(rows)].mean(axis=0, keepdims=True))[0]
        dates = sorted(papers[i].published for i in rows if papers[i].published is not None)
        median = dates[len(dates) // 2] if dates else None
        described.append(PaperGroup(tuple(rows), float(centre @ topic), median))
    return sorted(described, key=lambda g: (-round(g.closeness, 2), g.median_date or date.max, g.rows[0]))


def year_span(papers: Sequence[Paper]) -> tuple[int, int] | None:
    """The first and last publication year of `papers` (None when none is dated)."""
    years = [p.published.year for p in papers if p.published is not None]
    return (min(years), max(years)) if years else None
