"""Reciprocal-rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009): a document's score is
the sum over ranked lists of 1 / (k + rank), so agreement between lists beats a single
high rank, and no list's raw scores need calibrating against another's. A retriever's lists
may count more or less than the others' (a weight per retriever name)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(slots=True)
class Fused:
    """One fused result: its key, RRF score, and its best rank in each retriever's lists."""

    key: Hashable
    score: float = 0.0
    ranks: dict[str, int] = field(default_factory=dict)


def reciprocal_rank_fusion(
    runs: Sequence[tuple[str, Sequence[Hashable]]], k: int = 60, weights: Mapping[str, float] | None = None
) -> list[Fused]:
    """Fuse ranked lists. `runs` holds (retriever name, keys best first); a retriever may
    contribute several lists (one per query). Each list of retriever `name` adds
    weights[name] / (k + rank) (weight 1 for names `weights` does not hold). Ranks are
    1-based; ties in score go to the better best rank, then to the earlier first appearance."""
    weights = weights or {}
    fused: dict[Hashable, Fused] = {}
    for name, keys in runs:
        weight = weights.get(name, 1.0)
        for rank, key in enumerate(keys, start=1):
            entry = fused.get(key)
            if entry is None:
                entry = fused[key] = Fused(key)
            entry.score += weight / (k + rank)
            if rank < entry.ranks.get(name, rank + 1):
                entry.ranks[name] = rank
    order = sorted(fused.values(), key=lambda f: (-f.score, min(f.ranks.values())))
    return order
