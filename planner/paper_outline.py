"""An outline planned from the papers themselves, with no model: the candidates' embeddings
are clustered into sections (sub-clusters into subsections), each named from its
distinctive phrases, ordered from the topic's core outward, and each carrying the arXiv ids
of its papers so the writer can group them.

    result = outline_from_retriever(topic, library, papers, sections=settings.generate.sections)
    result.outline.sections[0].title    # e.g. "Reward Models and Preference Data"
    result.outline.sections[0].papers   # ["2503.01234", ...], in the candidates' order
    result.notes                        # e.g. why there are fewer sections than asked

Public: `MIN_PAPERS_PER_SECTION`, `MIN_PAPERS_PER_SUBSECTION`, `outline_from_papers`,
`outline_from_retriever`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from planner.clusters import PaperGroup, join_nearest, order_groups, section_groups, subgroups, year_span
from planner.errors import PlanningError
from planner.model_titles import TitleProposer, TitleRequest, apply_proposals
from planner.phrase_spread import library_spread
from planner.plan import OutlineResult
from planner.schema import MAX_SUBSECTIONS, Outline, OutlineSection, Subsection
from planner.title_grammar import title_parts
from planner.titles import GroupTitle, Spread, mined_titles, named_papers, title_problem
from retriever.clustering import normalize_rows
from retriever.store import paper_text
from retriever.types import Paper, PhraseStatistics, VectorSource

MIN_PAPERS_PER_SECTION = 5  # a body section cites at least this many distinct papers
MIN_PAPERS_PER_SUBSECTION = 3
THEME_TITLE_PARTS = 3  # phrases of its sub-themes' titles a catch-all section's title may join
# A section's title joined from its sub-themes' replaces its mined title when it names this
# many times as many of the section's papers: the mined one names a corner of the section.
BROADER_BY_THEMES = 1.5


@dataclass(frozen=True)
class _Candidates:
    """The papers an outline is planned over, with what naming and grouping them needs."""

    topic: str
    papers: Sequence[Paper]
    texts: list[str]
    vectors: np.ndarray  # L2-normalised, one row per paper
    topic_vector: np.ndarray
    embed: Callable[[Sequence[str]], np.ndarray] | None
    corpus_share: Callable[[Sequence[str]], Sequence[float]] | None
    spread: Spread | None = None

    def name(
        self, groups: Sequence[Sequence[int]], parts: Sequence[Sequence[Sequence[int]]] = (), **options
    ) -> list[GroupTitle]:
        """`mined_titles` of groups of rows, reranked by the group centres when `embed` is set;
        `parts` (rows of each group's sub-themes) are what each title should name."""
        centres = normalize_rows(np.stack([self.vectors[list(g)].mean(axis=0) for g in groups]))
        texts = [[self.texts[i] for i in g] for g in groups]
        part_texts = [self.part_texts(group_parts) for group_parts in parts]
        return mined_titles(
            texts,
            self.topic,
            embed=self.embed,
            centres=centres,
            corpus_share=self.corpus_share,
            spread=self.spread,
            parts=part_texts,
            usage=self.texts,
            **options,
        )

    def part_texts(self, parts: Sequence[Sequence[int]]) -> list[list[str]]:
        return [[self.texts[i] for i in part] for part in parts]

    def order(self, groups: Sequence[Sequence[int]]) -> list[PaperGroup]:
        return order_groups(groups, self.vectors, self.topic_vector, self.papers)


def outline_from_papers(
    topic: str,
    papers: Sequence[Paper],
    vectors: np.ndarray,
    topic_vector: np.ndarray,
    sections: int,
    *,
    subsections: int = MAX_SUBSECTIONS,
    min_papers: int = MIN_PAPERS_PER_SECTION,
    min_subsection_papers: int = MIN_PAPERS_PER_SUBSECTION,
    seed: int = 0,
    embed: Callable[[Sequence[str]], np.ndarray] | None = None,
    corpus_share: Callable[[Sequence[str]], Sequence[float]] | None = None,
    spread: Spread | None = None,
    propose_titles: TitleProposer | None = None,
) -> OutlineResult:
    """An outline of up to `sections` sections over `papers` (one row of `vectors` each;
    `topic_vector` is the topic embedded the same way), each with up to `subsections`
    subsections. Source "papers". With `embed` (texts -> L2-normalised rows in the same
    space) title phrases are reranked by closeness to their papers; with `corpus_share`
    (phrases -> their share of the whole library) phrases every paper uses sink; with `spread`
    (phrases -> how evenly they spread over the library's topics, planner.phrase_spread)
    boilerplate titles fail. With `propose_titles`
    (e.g. `planner.model_titles.model_title_proposer(llm, params)`) a proposed section title
    replaces the mined one where it passes `title_problem`; source is then "papers+model".

    Fewer papers than `sections * min_papers` give fewer sections, and a note says so;
    a group no phrase can name joins its nearest group, also noted. Raises PlanningError
    when there are no papers, ValueError when the vectors do not match the papers."""
    vectors = _checked(topic, papers, vectors, sections)
    texts = [paper_text(p.title, p.abstract) for p in papers]
    candidates = _Candidates(
        topic, papers, texts, normalize_rows(vectors), np.asarray(topic_vector), embed, corpus_share, spread
    )
    groups = section_groups(vectors, sections, min_papers, seed)
    notes = _count_notes(topic, len(papers), len(groups), sections, min_papers)
    split = functools.partial(_sub_themes, candidates, count=subsections, min_papers=min_subsection_papers, seed=seed)
    ordered, named, parts, themes = _named_groups(candidates, groups, split, notes)
    titles = [t.title for t in named]
    if propose_titles is not None:
        titles = _proposed(candidates, ordered, named, propose_titles, notes)
    outline_sections = [
        _section_of(candidates, *section) for section in zip(ordered, titles, named, parts, themes, strict=True)
    ]
    source = "papers" if titles == [t.title for t in named] else "papers+model"
    return OutlineResult(Outline(title=f"A Survey of {topic}", sections=outline_sections), source, notes)


def _checked(topic: str, papers: Sequence[Paper], vectors: np.ndarray, sections: int) -> np.ndarray:
    """`vectors` as float32 rows, one per paper; PlanningError without papers, ValueError
    for vectors that do not match them or fewer than one section."""
    if not papers:
        raise PlanningError(
            f"no papers were found for {topic!r}; widen the date or category filters, or add papers to the library"
        )
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(papers):
        raise ValueError(f"{len(vectors)} vectors for {len(papers)} papers; give one row per paper")
    if sections < 1:
        raise ValueError(f"sections must be at least 1, got {sections}")
    return vectors


def _count_notes(topic: str, papers: int, groups: int, sections: int, min_papers: int) -> list[str]:
    """Why there are fewer sections than asked (too few papers, or too few large groups), if so."""
    if groups >= sections:
        return []
    if papers < sections * min_papers:
        plural = "s" if groups != 1 else ""
        return [
            f"the search found {papers} papers on {topic!r}; {sections} sections need at least "
            f"{sections * min_papers} ({min_papers} each), so the survey has {groups} section{plural}"
        ]
    return [f"the papers fell into {groups} groups of at least {min_papers}; planned that many sections"]


def _sub_themes(
    candidates: _Candidates, ordered: Sequence[PaperGroup], count: int, min_papers: int, seed: int
) -> list[list[list[int]]]:
    """Each group's sub-themes (`planner.clusters.subgroups`): up to `count` of at least
    `min_papers` rows each, [] for a group that does not split."""
    return [subgroups(candidates.vectors, list(g.rows), count, min_papers, seed) for g in ordered]


def _named_groups(
    candidates: _Candidates,
    groups: Sequence[Sequence[int]],
    split: Callable[[Sequence[PaperGroup]], list[list[list[int]]]],
    notes: list[str],
) -> tuple[list[PaperGroup], list[GroupTitle], list[list[list[int]]], list[list[GroupTitle]]]:
    """The groups in reading order with their mined titles, their sub-themes' rows, and the
    sub-themes' titles of a section named by them (`_named_by_themes`; [] for the others).
    A group no phrase names joins its nearest group (noted)."""
    ordered = candidates.order(groups)
    named = candidates.name([g.rows for g in ordered], split(ordered))
    ordered, named = _merge_unnamed(candidates, ordered, named, notes, split)
    parts = split(ordered)
    titles, themes = list(named), []
    for index, (group, group_parts) in enumerate(zip(ordered, parts, strict=True)):
        others = [t.title for position, t in enumerate(titles) if position != index]
        titles[index], found = _themed(candidates, group, titles[index], group_parts, others)
        themes.append(found)
    return ordered, titles, parts, themes


def _themed(
    candidates: _Candidates, group: PaperGroup, mined: GroupTitle, parts: list[list[int]], others: list[str | None]
) -> tuple[GroupTitle, list[GroupTitle]]:
    """A group's title and the titles its sub-themes keep: named by its sub-themes
    (`_named_by_themes`) when the mined title is a catch-all's (it need not name the papers,
    or leaves a sub-theme out) or when the sub-themes' title names BROADER_BY_THEMES times as
    many of its papers (what most of them are about); else `mined`, and no kept titles."""
    if not parts:
        return mined, []
    themed, themes = _named_by_themes(candidates, group, mined, parts, others)
    if themed is mined or not (mined.names_papers and mined.names_themes):
        return themed, themes
    texts = [candidates.texts[i] for i in group.rows]
    by_themes, by_mined = (named_papers(t.title or "", candidates.topic, texts) for t in (themed, mined))
    return (themed, themes) if by_themes >= BROADER_BY_THEMES * by_mined else (mined, [])


def _section_of(
    candidates: _Candidates,
    group: PaperGroup,
    title: str,
    mined: GroupTitle,
    parts: list[list[int]],
    themes: list[GroupTitle],
) -> OutlineSection:
    """The outline section of a group titled `title`, with its sub-themes as subsections: a
    section named by its sub-themes keeps their titles (`themes`, while its mined title
    stands); the others name theirs apart from the section's title."""
    kept = themes if themes and title == mined.title else None
    subs = _subsections(candidates, parts, title, kept) if parts else []
    return _section(candidates, group.rows, title, mined, subs)


def _proposed(
    candidates: _Candidates,
    ordered: list[PaperGroup],
    named: list[GroupTitle],
    propose: TitleProposer,
    notes: list[str],
) -> list[str]:
    """Section titles with the proposer's fit proposals in place of the mined ones."""
    requests = [
        TitleRequest(t.title, tuple(p.text for p in t.phrases), tuple(candidates.papers[i].title for i in g.rows))
        for g, t in zip(ordered, named, strict=True)
    ]
    proposals = list(propose(candidates.topic, requests))
    if len(proposals) != len(requests):
        notes.append(
            f"the title proposer gave {len(proposals)} titles for {len(requests)} sections; kept the mined ones"
        )
        return [t.title for t in named]

    def problem(index: int, title: str, others: Sequence[str]) -> str | None:
        texts = [candidates.texts[i] for i in ordered[index].rows]
        share, spread = candidates.corpus_share, candidates.spread
        phrases = named[index].phrases
        return title_problem(title, candidates.topic, texts, phrases, others, word_share=share, spread=spread)

    titles, refused = apply_proposals([t.title for t in named], proposals, problem)
    notes.extend(refused)
    return titles


def outline_from_retriever(
    topic: str, retriever: VectorSource, papers: Sequence[Paper], sections: int, **options
) -> OutlineResult:
    """:func:`outline_from_papers` with the vectors taken from `retriever` (e.g. a Library):
    the stored embeddings of `papers`, the topic and title phrases embedded by the same model,
    and phrase shares of the whole library when it offers them (`PhraseStatistics`), and how
    evenly phrases spread over its topics when it is a library with a paper store
    (`planner.phrase_spread.library_spread`).
    Raises TypeError when `retriever` cannot hand out vectors (not a VectorSource)."""
    if not isinstance(retriever, VectorSource):
        raise TypeError(
            f"{type(retriever).__name__} has no embed/vectors methods (retriever.types.VectorSource); "
            "pass a Library, or a wrapper that forwards them"
        )
    if not papers:
        return outline_from_papers(topic, papers, np.zeros((0, 1), np.float32), np.zeros(1), sections, **options)
    vectors = retriever.vectors([p.arxiv_id for p in papers])
    topic_vector = retriever.embed([topic])[0]
    options.setdefault("embed", retriever.embed)
    if isinstance(retriever, PhraseStatistics):
        options.setdefault("corpus_share", retriever.phrase_shares)
    if "spread" not in options:
        options["spread"] = library_spread(retriever)
    return outline_from_papers(topic, papers, vectors, topic_vector, sections, **options)


def _merge_unnamed(
    candidates: _Candidates,
    ordered: list[PaperGroup],
    named: list[GroupTitle],
    notes: list[str],
    split: Callable[[Sequence[PaperGroup]], list[list[list[int]]]],
) -> tuple[list[PaperGroup], list[GroupTitle]]:
    """Groups with titles; an unnamed group's rows join the named group closest to them."""
    if all(t.title for t in named):
        return ordered, named
    keep = [list(g.rows) for g, t in zip(ordered, named, strict=True) if t.title]
    lost = [r for g, t in zip(ordered, named, strict=True) if not t.title for r in g.rows]
    notes.append("some papers had no distinctive phrase to name their group by; they joined the nearest section")
    merged = join_nearest(keep, lost, candidates.vectors) if keep else [sorted(lost)]
    regrouped = candidates.order(merged)
    renamed = candidates.name([g.rows for g in regrouped], split(regrouped))
    if not all(t.title for t in renamed):
        raise PlanningError(
            f"the papers found for {candidates.topic!r} have no words to name a section by "
            "(empty or non-text titles and abstracts?)"
        )
    return regrouped, renamed


def _named_by_themes(
    candidates: _Candidates, group: PaperGroup, mined: GroupTitle, parts: list[list[int]], others: list[str | None]
) -> tuple[GroupTitle, list[GroupTitle]]:
    """A section whose phrases gave only a fallback title, one that need not name what its
    papers share (a catch-all group), named by its sub-themes instead: the first part of
    each sub-theme's title, joined ("Search and Hierarchical Memory"), or else their first
    THEME_TITLE_PARTS parts, when every sub-theme is named and the result passes
    `title_problem`, with the sub-themes' titles; otherwise `mined` as it is and no titles."""
    taken = [t for t in others if t]
    themes = candidates.name(parts, taken=taken)
    if not all(t.title and t.specific for t in themes):
        return mined, []
    heads = [" ".join(title_parts(t.title)[0]) for t in themes if t.title]
    every = [" ".join(part) for t in themes if t.title for part in title_parts(t.title)]
    texts = [candidates.texts[i] for i in group.rows]
    phrases = [p for t in themes for p in t.phrases]
    share, spread = candidates.corpus_share, candidates.spread
    for names in (heads, every[:THEME_TITLE_PARTS]):
        names = list(dict.fromkeys(names))
        title = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        problem = title_problem(
            title, candidates.topic, texts, phrases, taken, word_share=share, spread=spread, usage=candidates.texts
        )
        if problem is None:
            return GroupTitle(title, mined.phrases), themes
    return mined, []


def _subsections(
    candidates: _Candidates, parts: list[list[int]], section_title: str, named: list[GroupTitle] | None = None
) -> list[Subsection]:
    """Subsections of the parts, named against each other and apart from the section (or
    with the titles `named` already found); none when a part cannot be named, or only by a
    last resort (a heading such as "Systems" says less than none)."""
    if named is None:
        named = candidates.name(parts, taken=[section_title], avoid_words=[section_title])
    if not all(t.title and t.specific for t in named):
        return []
    return [
        Subsection(title=t.title, description=_description(candidates, part, t), papers=_ids(candidates, part))
        for part, t in zip(parts, named, strict=True)
    ]


def _section(
    candidates: _Candidates, rows: Sequence[int], title: str, mined: GroupTitle, subs: list[Subsection]
) -> OutlineSection:
    queries = [" ".join(p.text for p in mined.phrases[:2])] if mined.phrases else []
    return OutlineSection(
        title=title,
        description=_description(candidates, rows, mined),
        queries=queries,
        subsections=subs,
        papers=_ids(candidates, rows),
    )


def _description(candidates: _Candidates, rows: Sequence[int], title: GroupTitle) -> str:
    """What the papers are and when: "12 papers (2025-2026) on reward models, RLHF and ..."."""
    members = [candidates.papers[i] for i in rows]
    span = year_span(members)
    when = "" if span is None else f" ({span[0]})" if span[0] == span[1] else f" ({span[0]}-{span[1]})"
    topics = [p.text for p in title.phrases[:3]]
    if len(topics) > 1:
        topics = [", ".join(topics[:-1]) + " and " + topics[-1]]
    on = f" on {topics[0]}" if topics else ""
    return f"{len(members)} paper{'s' if len(members) != 1 else ''}{when}{on}."


def _ids(candidates: _Candidates, rows: Sequence[int]) -> list[str]:
    """arXiv ids of the rows, in the candidates' order (best retrieved first)."""
    return [candidates.papers[i].arxiv_id for i in sorted(rows)]
