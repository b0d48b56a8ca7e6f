"""Search that does not depend on a model's knowledge: query expansion mined from the papers.

    result = expanded_search(retriever, "Reinforcement Learning for Large Language Models", k=150)
    result.hits            # the papers, best first
    result.mined_queries   # e.g. ["rewards policy", "Reasoning Q-Learning", ...]
    result.queries         # what round 2 searched: the topic, the caller's, the mined ones

Round 1 searches the topic alone. Its best papers (the seeds) are grouped by their
embeddings (when the retriever hands out vectors: `VectorSource`), and each group's most
distinctive phrases become one query: phrases of titles and abstracts scored by how much
more of the group uses them than of the whole library (`PhraseStatistics`; retriever/
phrases.py), reranked by closeness to the group and the topic, never holding the topic's own
words or acronyms. Round 2 searches the topic, the caller's own queries (a capable model's,
merged, never instead) and the mined queries, each with the topic's words, fused by
reciprocal rank; then the best papers found search once more by their own vectors
(query-by-paper, `FeedbackSearch`), which ranks up papers close to several of them. Dense
pseudo-relevance feedback is there too, off by default (bench/RESULTS.md measures both). No
query comes from a hand-written list.

Public: `ExpansionSettings`, `SearchRound`, `ExpandedSearch`, `mine_queries`, `expanded_search`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from retriever.clustering import kmeans_groups, normalize_rows
from retriever.phrases import Phrase, distinctive_phrases, rerank_by_similarity, topic_words
from retriever.store import paper_text
from retriever.types import FeedbackSearch, Hit, Paper, PhraseStatistics, Retriever, SearchFilters, VectorSource

CANDIDATES_PER_PHRASE = 4  # c-TF-IDF candidates per phrase kept after reranking by the embeddings


@dataclass(frozen=True, slots=True)
class ExpansionSettings:
    """How queries are mined and searched. The defaults are what bench/retrieval.py measured
    best on two surveybench topics (bench/RESULTS.md)."""

    seed_papers: int = 40  # round-1 papers the phrases are mined from
    background_papers: int = 160  # round-1 papers after the seeds, counted against them
    groups: int = 8  # seed groups, one mined query each
    phrases_per_query: int = 2
    min_documents: int = 2  # a phrase must occur in this many seed papers of its group
    # contrast phrases with the other groups and the background too, not only with the
    # whole collection (when the retriever offers phrase statistics)
    against_groups: bool = False
    avoid_topic_words: bool = True  # leave out phrases holding any of the topic's words or acronyms
    anchor_queries: bool = True  # search each mined query together with the topic's words
    # pseudo-relevance feedback in round 2 (FeedbackSearch retrievers; 0: off); the settings key is
    # retrieval.expansion.second_round_feedback_papers, apart from retrieval.feedback_papers (every search)
    feedback_papers: int = 0
    # query-by-paper in round 2: the best papers found, each searched by its own vector, those
    # lists weighing paper_query_weight in the fusion (FeedbackSearch retrievers; 0: off)
    paper_queries: int = 20
    paper_query_weight: float = 2.0

    def __post_init__(self) -> None:
        for name in ("seed_papers", "groups", "phrases_per_query", "min_documents"):
            if getattr(self, name) < 1:
                raise ValueError(f"ExpansionSettings.{name} must be at least 1, got {getattr(self, name)}")
        for name in ("background_papers", "feedback_papers", "paper_queries"):
            if getattr(self, name) < 0:
                raise ValueError(f"ExpansionSettings.{name} must be 0 or more, got {getattr(self, name)}")
        if not self.paper_query_weight > 0:
            raise ValueError(f"ExpansionSettings.paper_query_weight must be above 0, got {self.paper_query_weight}")


@dataclass(frozen=True, slots=True)
class SearchRound:
    """One search round: its queries, how many papers it returned, how many of them no
    earlier round had found, and its wall time."""

    name: str
    queries: tuple[str, ...]
    hits: int
    new_papers: int
    seconds: float


@dataclass(slots=True)
class ExpandedSearch:
    """The result of :func:`expanded_search`."""

    hits: list[Hit]
    queries: list[str]  # every query of the last round: the topic, the caller's, the mined ones
    mined_queries: list[str]
    extra_queries: list[str]  # the caller's queries that were searched (blank and repeated ones dropped)
    phrases: list[list[Phrase]] = field(default_factory=list)  # per seed group, best first
    rounds: list[SearchRound] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the retriever could not offer, and so was left out

    @property
    def papers(self) -> list[Paper]:
        """The hits' papers, best first."""
        return [hit.paper for hit in self.hits]


def mine_queries(
    topic: str,
    seeds: Sequence[Paper],
    background: Sequence[Paper] = (),
    vectors: np.ndarray | None = None,
    settings: ExpansionSettings = ExpansionSettings(),
    embed: Callable[[Sequence[str]], np.ndarray] | None = None,
    corpus_share: Callable[[Sequence[str]], Sequence[float]] | None = None,
) -> tuple[list[str], list[list[Phrase]]]:
    """Queries from the distinctive phrases of `seeds`' titles and abstracts.

    With `vectors` (one row per seed) the seeds are split into `settings.groups` groups by
    k-means and each group gives one query of its best `settings.phrases_per_query`
    phrases, largest group first; without, the seeds form one group that gives up to
    `settings.groups` queries. Phrases made only of the topic's own words are skipped (the
    topic is searched anyway). With `embed` (texts -> L2-normalised rows in the vectors'
    space) phrases are reranked by closeness to their group and the topic
    (`rerank_by_similarity`). Returns (queries, phrases per group)."""
    if not seeds:
        return [], []
    texts = [paper_text(p.title, p.abstract) for p in seeds]
    per_query = settings.phrases_per_query
    rows = [list(range(len(seeds)))]
    if vectors is not None:
        if len(vectors) != len(seeds):
            raise ValueError(f"{len(vectors)} vectors for {len(seeds)} seed papers; give one row per paper")
        if len(seeds) > settings.groups:
            rows = sorted(kmeans_groups(vectors, settings.groups), key=lambda g: (-len(g), g[0]))
    want = per_query if len(rows) > 1 else per_query * settings.groups
    grouped_texts = [[texts[i] for i in group] for group in rows]
    phrases = distinctive_phrases(
        grouped_texts,
        want * CANDIDATES_PER_PHRASE if embed is not None else want,
        background=[paper_text(p.title, p.abstract) for p in background],
        min_documents=settings.min_documents,
        exclude_words=topic_words(topic),
        avoid_words=topic_words(topic) if settings.avoid_topic_words else (),
        corpus_share=corpus_share,
        against_groups=settings.against_groups,
    )
    if embed is not None and vectors is not None:
        topic_vector = normalize_rows(embed([topic]))[0]
        centres = normalize_rows(np.stack([normalize_rows(vectors[g]).mean(axis=0) for g in rows]))
        phrases = rerank_by_similarity(phrases, embed, centres + topic_vector, want)
    if len(rows) == 1:
        best = phrases[0]
        chunks = [best[i : i + per_query] for i in range(0, len(best), per_query)]
    else:
        chunks = [group[:per_query] for group in phrases]
    return _unique(" ".join(p.text for p in chunk) for chunk in chunks if chunk), phrases


def expanded_search(
    retriever: Retriever,
    topic: str,
    k: int,
    filters: SearchFilters | None = None,
    extra_queries: Sequence[str] = (),
    settings: ExpansionSettings = ExpansionSettings(),
) -> ExpandedSearch:
    """The best `k` papers on `topic`: round 1 searches the topic alone, round 2 the topic,
    `extra_queries` (e.g. a model's; merged with the mined ones) and the queries mined from
    round 1's papers (:func:`mine_queries`), fused by reciprocal rank. Every search honours
    `filters`. The retriever's vectors are used for grouping the seeds when it is a
    :class:`VectorSource`; otherwise the seeds are mined as one group.

    Raises ValueError for an empty topic or k below 1."""
    topic = " ".join(topic.split())
    if not topic:
        raise ValueError("the topic is empty; give a short description to search for")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    started = time.perf_counter()
    first = retriever.search(topic, k=max(k, settings.seed_papers + settings.background_papers), filters=filters)
    rounds = [SearchRound("topic", (topic,), len(first), len(first), time.perf_counter() - started)]
    seeds = [hit.paper for hit in first[: settings.seed_papers]]
    background = [hit.paper for hit in first[settings.seed_papers : settings.seed_papers + settings.background_papers]]
    notes = _missing_abilities(retriever, settings)
    vectors, embed = None, None
    if isinstance(retriever, VectorSource) and seeds:
        vectors, embed = retriever.vectors([p.arxiv_id for p in seeds]), retriever.embed
    shares = retriever.phrase_shares if isinstance(retriever, PhraseStatistics) else None
    mined, phrases = mine_queries(topic, seeds, background, vectors, settings, embed, shares)
    extra = [q for q in _unique(" ".join(q.split()) for q in extra_queries) if q.lower() != topic.lower()]
    searched = [f"{topic} {q}" for q in mined] if settings.anchor_queries else mined
    queries = _unique([topic, *extra, *searched])
    started = time.perf_counter()
    hits = first[:k] if len(queries) == 1 else _second_round(retriever, queries, k, filters, settings)
    seen = {hit.paper.arxiv_id for hit in first}
    new = sum(hit.paper.arxiv_id not in seen for hit in hits)
    rounds.append(SearchRound("expanded", tuple(queries), len(hits), new, time.perf_counter() - started))
    return ExpandedSearch(hits, queries, mined, extra, phrases, rounds, notes)


def _missing_abilities(retriever: Retriever, settings: ExpansionSettings) -> list[str]:
    """Notes on what this retriever cannot do that the expansion would use."""
    name = type(retriever).__name__
    notes = []
    if not isinstance(retriever, VectorSource):
        notes.append(f"{name} hands out no vectors (VectorSource): the first hits were mined as one group")
    if not isinstance(retriever, PhraseStatistics):
        notes.append(f"{name} has no phrase statistics (PhraseStatistics): phrases were compared within the hits only")
    if _wants_feedback(settings) and not isinstance(retriever, FeedbackSearch):
        notes.append(
            f"{name} offers no feedback search (FeedbackSearch): the second round ran without "
            "query-by-paper and pseudo-relevance feedback"
        )
    return notes


def _wants_feedback(settings: ExpansionSettings) -> bool:
    """Whether round 2 asks for pseudo-relevance feedback or query-by-paper."""
    return settings.feedback_papers > 0 or settings.paper_queries > 0


def _second_round(
    retriever: Retriever, queries: list[str], k: int, filters: SearchFilters | None, settings: ExpansionSettings
) -> list[Hit]:
    """The expanded search, with query-by-paper and pseudo-relevance feedback where the
    settings ask for them and the retriever offers them."""
    if _wants_feedback(settings) and isinstance(retriever, FeedbackSearch):
        return retriever.search_with_feedback(
            queries, k, filters, settings.feedback_papers, settings.paper_queries, settings.paper_query_weight
        )
    return retriever.search_many(queries, k=k, filters=filters)


def _unique(items) -> list[str]:
    """Non-blank items, first spelling of each (case-insensitive), in order."""
    seen: set[str] = set()
    kept = []
    for item in items:
        key = item.lower()
        if item and key not in seen:
            seen.add(key)
            kept.append(item)
    return kept
