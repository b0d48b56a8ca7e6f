"""Small deterministic stand-ins for a library: word-count search and bag-of-words vectors."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date

import numpy as np

from retriever.fusion import reciprocal_rank_fusion
from retriever.phrases import content_words
from retriever.store import paper_text
from retriever.types import Hit, Paper, SearchFilters


def paper(number: int, title: str, abstract: str, year: int = 2025) -> Paper:
    return Paper(f"2501.{number:05d}", title, abstract, ("A. Author",), ("cs.CL",), date(year, 1 + number % 12, 1))


def bag_of_words(texts: Sequence[str], dimension: int = 64) -> np.ndarray:
    """Each content word hashes to a fixed random direction; a text is the normalised sum."""
    out = np.zeros((len(texts), dimension), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in sorted(content_words(text)):
            seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
            out[row] += np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)
    return out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-9, None)


class WordRetriever:
    """Ranks papers by how many of the query's content words they hold (ties by id);
    several queries fused by reciprocal rank. Records every search."""

    def __init__(self, papers: Sequence[Paper]) -> None:
        self.papers = list(papers)
        self.calls: list[tuple[tuple[str, ...], int, SearchFilters | None]] = []

    def _ranked(self, query: str, filters: SearchFilters | None) -> list[Paper]:
        words = content_words(query)
        scored = [
            (len(words & content_words(paper_text(p.title, p.abstract))), p)
            for p in self.papers
            if filters is None or filters.accepts(p)
        ]
        return [p for score, p in sorted(scored, key=lambda s: (-s[0], s[1].arxiv_id)) if score > 0]

    def search(self, query: str, k: int = 20, filters: SearchFilters | None = None) -> list[Hit]:
        self.calls.append(((query,), k, filters))
        return [Hit(p, 1.0 / (1 + r), {"words": r + 1}) for r, p in enumerate(self._ranked(query, filters)[:k])]

    def search_many(self, queries: Sequence[str], k: int = 100, filters: SearchFilters | None = None) -> list[Hit]:
        self.calls.append((tuple(queries), k, filters))
        runs = [("words", [p.arxiv_id for p in self._ranked(q, filters)]) for q in queries]
        by_id = {p.arxiv_id: p for p in self.papers}
        return [Hit(by_id[f.key], f.score, dict(f.ranks)) for f in reciprocal_rank_fusion(runs)[:k]]

    def get(self, arxiv_ids: Sequence[str]) -> list[Paper]:
        by_id = {p.arxiv_id: p for p in self.papers}
        return [by_id[i] for i in arxiv_ids if i in by_id]


class VectorWordRetriever(WordRetriever):
    """A WordRetriever that also hands out bag-of-words vectors (a `VectorSource`)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return bag_of_words(texts)

    def vectors(self, arxiv_ids: Sequence[str]) -> np.ndarray:
        by_id = {p.arxiv_id: p for p in self.papers}
        missing = [i for i in arxiv_ids if i not in by_id]
        if missing:
            raise KeyError(f"not in the collection: {missing}")
        return bag_of_words([paper_text(by_id[i].title, by_id[i].abstract) for i in arxiv_ids])
