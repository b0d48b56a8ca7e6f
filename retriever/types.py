"""The types retrieval hands to the rest of cpmsurvey: papers, hits, filters, the
Retriever interface."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, runtime_checkable

import numpy as np

# New-style ids (2503.11851) and old-style ids (cs/0112017, math.AG/0601001).
_ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})$")
_VERSION_SUFFIX = re.compile(r"v\d+$")


def normalize_arxiv_id(raw: str) -> str:
    """Versionless arXiv id from an id, an id with version, or an arxiv.org URL.

    Raises ValueError for text that is not an arXiv id.
    """
    text = raw.strip()
    for prefix in ("https://", "http://"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    for prefix in ("arxiv.org/abs/", "arxiv.org/pdf/", "www.arxiv.org/abs/", "export.arxiv.org/abs/"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if text.lower().startswith("arxiv:"):
        text = text[len("arxiv:") :]
    text = text.removesuffix(".pdf")
    text = _VERSION_SUFFIX.sub("", text)
    if not _ARXIV_ID.match(text):
        raise ValueError(f"{raw!r} is not an arXiv id (expected e.g. 2503.11851 or cs/0112017)")
    return text


def _ascii(text: str) -> str:
    """`text` with accents taken off its letters ("Márquez" -> "Marquez") and any other
    character outside ASCII dropped."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _key_letters(text: str) -> str:
    """`text` as a BibTeX key may hold it: lower-case ASCII letters and digits ("García
    Márquez" -> "garciamarquez")."""
    return re.sub(r"[^a-z0-9]", "", _ascii(text).lower())


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper's metadata, keyed by its versionless arXiv id."""

    arxiv_id: str
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    published: date | None = None

    @property
    def url(self) -> str:
        """The paper's arXiv abstract page."""
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def cite_key(self) -> str:
        """A BibTeX key: the first author's family name (retriever.names.lead_surname: "Yu
        Xinmiao" -> "yu", "García Márquez, Gabriel" -> "garciamarquez", "Qwen Team" ->
        "qwenteam"), year, first title word of four letters or more (e.g. `smith2025deep`),
        in ASCII letters and digits."""
        # imported here: the name parsers take ~0.1 s to load, and only keys need them
        from retriever.names import lead_surname

        family = _key_letters(lead_surname(self.authors)) or "anon"
        year = str(self.published.year) if self.published else ""
        words = [w for w in re.findall(r"[A-Za-z]+", _ascii(self.title)) if len(w) > 3]
        first = words[0].lower() if words else "paper"
        return f"{family}{year}{first}"

    def to_dict(self) -> dict:
        """JSON-ready form, in the schema of the JSONL corpora."""
        return {
            "id": self.arxiv_id,
            "title": self.title,
            "abstract": self.abstract,
            "authors": list(self.authors),
            "categories": list(self.categories),
            "date": self.published.isoformat() if self.published else None,
        }

    @classmethod
    def from_dict(cls, record: dict) -> Paper:
        """Inverse of :meth:`to_dict`, by the corpus schema's rules (retriever.corpus_schema:
        also `arxiv_id` and `published` keys); a record that breaks one raises ValueError."""
        # imported here: the schema module builds Papers, so it imports this one
        from retriever.corpus_schema import validate_record

        return validate_record(record)


def category_matches(category: str, wanted: str) -> bool:
    """The one category rule of every filter (search, the SQL reference, the arXiv OAI
    snapshot ingest): `wanted` is an exact arXiv category (``cs.CL``) or an archive
    (``cs``: every ``cs.*`` category)."""
    return category == wanted or category.startswith(wanted + ".")


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Restrict a search to a date range and/or any of several categories (each an exact
    category or an archive, by :func:`category_matches`)."""

    date_from: date | None = None
    date_to: date | None = None
    categories: tuple[str, ...] = ()

    def accepts(self, paper: Paper) -> bool:
        """Whether `paper` passes every filter (papers without a date fail date filters)."""
        if self.date_from or self.date_to:
            if paper.published is None:
                return False
            if self.date_from and paper.published < self.date_from:
                return False
            if self.date_to and paper.published > self.date_to:
                return False
        return not self.categories or any(category_matches(c, w) for c in paper.categories for w in self.categories)


@dataclass(slots=True)
class Hit:
    """A search result: the paper, its fused score and which retrievers found it at which rank."""

    paper: Paper
    score: float
    ranks: dict[str, int] = field(default_factory=dict)

    @property
    def found_by(self) -> tuple[str, ...]:
        """Names of the retrievers ('dense', 'bm25', ...) that returned this paper."""
        return tuple(sorted(self.ranks))


@runtime_checkable
class Retriever(Protocol):
    """Search over a paper collection."""

    def search(self, query: str, k: int = 20, filters: SearchFilters | None = None) -> list[Hit]:
        """Best `k` papers for one query, best first."""
        ...

    def search_many(self, queries: Sequence[str], k: int = 100, filters: SearchFilters | None = None) -> list[Hit]:
        """Best `k` papers for several queries fused by reciprocal rank, best first."""
        ...

    def get(self, arxiv_ids: Sequence[str]) -> list[Paper]:
        """Papers by id, in the given order; unknown ids are skipped."""
        ...


@runtime_checkable
class VectorSource(Protocol):
    """A collection that hands out the embeddings it searches with (clustering papers,
    scoring phrases against a topic). `retriever.library.Library` is one."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text, in the collection's embedding space."""
        ...

    def vectors(self, arxiv_ids: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per id, in the given order; raises KeyError naming
        the ids the collection does not hold."""
        ...


@runtime_checkable
class PhraseStatistics(Protocol):
    """A collection that can say how common a phrase is in it (telling a group's distinctive
    phrases from words every paper uses). `retriever.library.Library` is one."""

    def phrase_shares(self, phrases: Sequence[str]) -> list[float]:
        """The share of the collection's papers holding each phrase, 0.0 to 1.0."""
        ...


@runtime_checkable
class FeedbackSearch(Protocol):
    """A collection whose multi-query search can add pseudo-relevance feedback per call.
    `retriever.library.Library` is one."""

    def search_with_feedback(
        self,
        queries: Sequence[str],
        k: int,
        filters: SearchFilters | None,
        feedback_papers: int,
        paper_queries: int = 0,
        paper_weight: float = 1.0,
    ) -> list[Hit]:
        """`Retriever.search_many`, each query also searched moved toward the mean vector of
        the first `feedback_papers` fused papers, and each of the first `paper_queries` fused
        papers searched by its own vector, those lists weighing `paper_weight` in the fusion
        (0 and 0: plain `search_many`)."""
        ...
