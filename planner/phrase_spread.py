"""How evenly a phrase spreads over the library's topics: boilerplate ("future research",
"promising", "category", "evidence") occurs in every field's abstracts about as often, while
a name of a research theme ("reward models", "memory", "jailbreak") gathers in a few.

The library's papers are grouped once by k-means on their stored embeddings (SPREAD_CLUSTERS
groups); a phrase's evenness is the effective number of groups its papers fall in (the
exponential of the entropy of its per-group rates, each group's holders over its size),
as a share of all groups. A handful of papers cannot fill many groups whatever the phrase,
so the evenness is divided by that of the same number of papers drawn at random
(`relative_evenness`): about 1 for a phrase placed as if at random, lower the more it
gathers. Phrases in fewer than MIN_HOLDERS papers get None (too little to judge).

Public: `SPREAD_CLUSTERS`, `MIN_HOLDERS`, `evenness`, `relative_evenness`, `LibrarySpread`,
`PhraseSpread`, `library_spread`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from retriever.clustering import kmeans_groups

SPREAD_CLUSTERS = 32  # groups of the library's papers a phrase may spread over
MIN_HOLDERS = 30  # papers a phrase must be in before its spread says anything (fewer: noisy)
RANDOM_DRAWS = 20  # random samples whose mean evenness is a phrase's baseline


@runtime_checkable
class _PhraseRows(Protocol):
    def phrase_rowids(self, phrase: str) -> np.ndarray: ...

    def embeddings(self, model: str, rowids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]: ...


def evenness(counts: np.ndarray, sizes: np.ndarray) -> float:
    """The effective number of groups holders fall in, as a share of the groups: per-group
    rates `counts / sizes` normalised to a distribution q, exp(-sum q ln q) / len(sizes).
    1.0 when every group holds the phrase at the same rate, 1/len(sizes) when one holds all;
    0.0 for no holders."""
    rates = np.asarray(counts, dtype=np.float64) / np.asarray(sizes, dtype=np.float64)
    total = rates.sum()
    if total <= 0:
        return 0.0
    q = rates[rates > 0] / total
    return float(np.exp(-(q * np.log(q)).sum()) / len(rates))


def relative_evenness(labels: np.ndarray, holders: np.ndarray, groups: int, seed: int = 0) -> float | None:
    """`evenness` of the rows `holders` (indices into `labels`, each row's group) over that of
    as many rows drawn at random (mean of RANDOM_DRAWS draws, seeded); None for fewer than
    MIN_HOLDERS holders."""
    if len(holders) < MIN_HOLDERS:
        return None
    sizes = np.bincount(labels, minlength=groups)
    observed = evenness(np.bincount(labels[holders], minlength=groups), sizes)
    rng = np.random.default_rng(seed)
    draws = [
        evenness(np.bincount(rng.choice(labels, len(holders), replace=False), minlength=groups), sizes)
        for _ in range(RANDOM_DRAWS)
    ]
    return observed / float(np.mean(draws))


class LibrarySpread:
    """Phrases -> their `relative_evenness` over a library's k-means groups (None: too few
    holders). Built from a paper store (`phrase_rowids`, `embeddings`) and the embedding
    model whose vectors it groups; the grouping is made on the first call."""

    def __init__(self, store: _PhraseRows, model: str, groups: int = SPREAD_CLUSTERS, seed: int = 0) -> None:
        self._store, self._model, self._groups, self._seed = store, model, groups, seed
        self._labels: dict[int, int] | None = None
        self._label_array = np.zeros(0, dtype=np.int64)
        self._known: dict[str, float | None] = {}

    def _grouped(self) -> dict[int, int]:
        if self._labels is None:
            rowids, vectors = self._store.embeddings(self._model)
            labels = np.zeros(len(rowids), dtype=np.int64)
            if len(rowids):
                for label, rows in enumerate(kmeans_groups(vectors, self._groups, self._seed)):
                    labels[rows] = label
            self._labels = {int(r): i for i, r in enumerate(rowids)}
            self._label_array = labels
        return self._labels

    def __call__(self, phrases: Sequence[str]) -> list[float | None]:
        position = self._grouped()
        groups = int(self._label_array.max()) + 1 if len(self._label_array) else 0
        for phrase in dict.fromkeys(phrases):
            if phrase not in self._known:
                rows = [position[r] for r in self._store.phrase_rowids(phrase).tolist() if r in position]
                holders = np.asarray(rows, dtype=np.int64)
                self._known[phrase] = (
                    relative_evenness(self._label_array, holders, groups, self._seed) if groups > 1 else None
                )
        return [self._known[p] for p in phrases]


@runtime_checkable
class PhraseSpread(Protocol):
    """A retriever that measures phrase spreads itself (e.g. a wrapper holding a lock)."""

    def phrase_spread(self, phrases: Sequence[str]) -> list[float | None]: ...


def library_spread(retriever: object) -> LibrarySpread | PhraseSpread | None:
    """Phrases -> spread for a retriever: its own `phrase_spread` when it has one
    (`PhraseSpread`), else a :class:`LibrarySpread` of a library (an object with a paper
    `store` offering `phrase_rowids` and `embeddings`, and the `model_name` of its vectors,
    as `retriever.library.Library` has), else None."""
    if isinstance(retriever, PhraseSpread):
        return retriever.phrase_spread
    store, model = getattr(retriever, "store", None), getattr(retriever, "model_name", None)
    if not isinstance(store, _PhraseRows) or not isinstance(model, str):
        return None
    changed = getattr(store, "fts_change_seq", None)
    key = (id(store), model, changed() if callable(changed) else None)
    if key not in _SPREADS:  # the grouping costs seconds: made once per library state
        _SPREADS.clear()
        _SPREADS[key] = LibrarySpread(store, model)
    return _SPREADS[key]


_SPREADS: dict[tuple, LibrarySpread] = {}
