"""A survey section written by construction: an opening line stating its theme, how many
papers it covers and their years (per sub-theme too), then for each sub-theme a cited
sentence naming the phrases its papers share and one attributed, cited sentence per paper
from that paper's abstract, joined by connectives that state no fact."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date

from retriever.types import Paper
from writer.grounded.attribution import lower_first_word
from writer.grounded.choose import Fact, Skip, contribution_fact, sentence_key
from writer.grounded.shared import heading_phrases, phrase_holders, shared_phrase_sentence
from writer.sections import SectionDraft

# Openers for a group's second and later sentences. Each is made of words that assert
# nothing (writer.grounded.coverage counts none of them as content); they rotate so that
# neighbouring sentences do not open alike.
CONNECTIVES = (
    "In a related direction,",
    "Also,",
    "In addition,",
    "Along the same line,",
    "Further,",
    "Separately,",
)
# Sentences per paragraph before a group's text is broken into another paragraph.
SENTENCES_PER_PARAGRAPH = 5


@dataclass(frozen=True)
class SubTheme:
    """A group of a section's papers under a heading (an outline subsection); an empty title
    makes an unheaded group."""

    title: str
    paper_ids: Sequence[str]


@dataclass
class GroundedDraft(SectionDraft):
    """A section written from abstracts: a :class:`~writer.sections.SectionDraft` (so the
    citation check and assembly take it as they are) that also keeps its structure, for
    re-rendering after a model rewrite (with each group's cited opening sentence, "" for
    none), the papers it could not quote, and the checks of any model rewrites (see
    writer.grounded.rewrite)."""

    title: str = ""
    opening: str = ""
    groups: list[tuple[str, list[Fact]]] = field(default_factory=list)
    connective_offset: int = 0
    openers: list[str] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    rewrites: list[dict] = field(default_factory=list)

    @property
    def facts(self) -> list[Fact]:
        """The section's fact sentences, in reading order."""
        return [fact for _, facts in self.groups for fact in facts]


def year_span(dates: Collection[date | None]) -> str:
    """"in 2025", "between 2024 and 2026", or "" when no date is known."""
    years = sorted({day.year for day in dates if day is not None})
    if not years:
        return ""
    return f"in {years[0]}" if len(years) == 1 else f"between {years[0]} and {years[-1]}"


def join_words(items: Sequence[str]) -> str:
    """"A", "A and B", "A, B and C"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" and {items[-1]}"


def join_titles(titles: Sequence[str]) -> str:
    """Headings listed in running text, each quoted: titles hold "and" themselves, so
    unquoted they run together ("grouped into Retrieval and QA and AI Systems")."""
    return join_words([f"“{title}”" for title in titles])


def _papers(count: int) -> str:
    return f"{count} paper" + ("" if count == 1 else "s")


def opening_line(
    title: str, papers: Sequence[Paper], group_titles: Sequence[str], group_papers: Sequence[Sequence[Paper]] = ()
) -> str:
    """"This section covers 7 papers on Reward Modelling, published between 2024 and 2025,
    in 2 groups: “A” (3 papers, 2025) and “B” (4 papers, 2024-2025)." (the groups only when
    two or more are titled; their counts and years with `group_papers`, one list per title).
    One sentence, so that the uncited share of a short section stays small."""
    span = year_span([paper.published for paper in papers])
    line = f"This section covers {_papers(len(papers))} on {title}" + (f", published {span}" if span else "")
    padded = _padded(group_papers, group_titles)
    titled = [(group, members) for group, members in zip(group_titles, padded, strict=True) if group]
    if len(titled) >= 2:
        line += f", in {len(titled)} groups: {join_words([_group_label(g, m) for g, m in titled])}"
    return line + "."


def _padded(group_papers: Sequence[Sequence[Paper]], titles: Sequence[str]) -> list[Sequence[Paper] | None]:
    return [group_papers[i] if i < len(group_papers) else None for i in range(len(titles))]


def _group_label(title: str, members: Sequence[Paper] | None) -> str:
    """“Title” (3 papers, 2024-2025), or just “Title” when its papers are not given."""
    if not members:
        return f"“{title}”"
    years = sorted({paper.published.year for paper in members if paper.published is not None})
    when = "" if not years else f", {years[0]}" if len(years) == 1 else f", {years[0]}-{years[-1]}"
    return f"“{title}” ({_papers(len(members))}{when})"


def connect(fact: Fact, index: int) -> str:
    """`fact`'s text opened by the connective of rotation position `index` (its first word
    lower-cased unless it names the authors)."""
    text = fact.text if fact.opens_with_name else lower_first_word(fact.text)
    return f"{CONNECTIVES[index % len(CONNECTIVES)]} {text}"


def render_section(
    opening: str,
    groups: Sequence[tuple[str, Sequence[Fact]]],
    connective_offset: int = 0,
    openers: Sequence[str] = (),
) -> str:
    """The section's Markdown: the opening paragraph, then each group (a ``###`` heading
    when titled) as paragraphs of its fact sentences, after the group's cited opener from
    `openers` (one per group, "" for none); every fact after a group's first that opens
    with its subject (the authors) opens with the next connective of the rotation, starting at
    `connective_offset` (a fact opening with a phrase of its own needs none)."""
    blocks = [opening]
    position = connective_offset
    for number, (title, facts) in enumerate(groups):
        if not facts:
            continue
        if title:
            blocks.append(f"### {title}")
        opener = openers[number] if number < len(openers) else ""
        sentences = [opener] if opener else []
        for index, fact in enumerate(facts):
            if index == 0 or not fact.opens_with_subject:
                sentences.append(fact.text)
            else:
                sentences.append(connect(fact, position))
                position += 1
        for start in range(0, len(sentences), SENTENCES_PER_PARAGRAPH):
            blocks.append(" ".join(sentences[start : start + SENTENCES_PER_PARAGRAPH]))
    return "\n\n".join(blocks)


def _grouped_papers(papers: Sequence[Paper], subthemes: Sequence[SubTheme]) -> list[tuple[str, list[Paper]]]:
    """Papers by group: the section's papers in no sub-theme first (unheaded), then each
    sub-theme's papers in its order; each paper once, ids not among `papers` ignored."""
    by_id = {paper.arxiv_id: paper for paper in papers}
    placed: set[str] = set()
    themed: list[tuple[str, list[Paper]]] = []
    for theme in subthemes:
        members = [by_id[i] for i in dict.fromkeys(theme.paper_ids) if i in by_id and i not in placed]
        placed.update(paper.arxiv_id for paper in members)
        themed.append((theme.title.strip(), members))
    loose = [paper for paper in by_id.values() if paper.arxiv_id not in placed]
    return [("", loose), *themed] if loose else themed


def write_grounded_section(
    title: str,
    papers: Sequence[Paper],
    subthemes: Sequence[SubTheme] = (),
    exclude: Collection[str] = (),
    connective_offset: int = 0,
) -> GroundedDraft:
    """Write the section `title` from its `papers` (best first) grouped by `subthemes`.

    Each paper contributes its contribution sentence (see
    :func:`~writer.grounded.choose.contribution_fact`), attributed and ending with its
    marker; a paper whose abstract has none that can be quoted is skipped with a note.
    Sentences whose :func:`~writer.grounded.choose.sentence_key` is in `exclude` (used by
    earlier sections) are not used again. A section left without any fact has empty text.
    """
    started = time.perf_counter()
    used = set(exclude)
    groups: list[tuple[str, list[Fact]]] = []
    skipped: list[Skip] = []
    cited: list[Paper] = []
    for group_title, members in _grouped_papers(papers, subthemes):
        members = _sharing_first(group_title or (title if not subthemes else ""), members)
        facts = []
        for paper in members:
            fact = contribution_fact(paper, exclude=used)
            if isinstance(fact, Skip):
                skipped.append(fact)
                continue
            used.update({sentence_key(fact.source), sentence_key(fact.text)})
            facts.append(fact)
            cited.append(paper)
        groups.append((group_title, facts))
    notes = [f"section {title!r}: not quoting arXiv:{skip.arxiv_id}: {skip.reason}" for skip in skipped]
    kept_groups = [(group_title, facts) for group_title, facts in groups if facts]
    by_id = {paper.arxiv_id: paper for paper in cited}
    members = [[by_id[fact.arxiv_id] for fact in facts] for _, facts in kept_groups]
    group_titles = [group_title for group_title, _ in kept_groups]
    opening = opening_line(title, cited, group_titles, members) if cited else ""
    openers = _openers(title, group_titles, members)
    if not cited:
        notes.append(f"section {title!r}: none of its {len(papers)} papers has a quotable contribution sentence")
    return GroundedDraft(
        text=render_section(opening, kept_groups, connective_offset, openers) if cited else "",
        given=list(papers),
        prompt_tokens=0,
        completion_tokens=0,
        seconds=time.perf_counter() - started,
        abstract_words=None,
        notes=notes,
        title=title,
        opening=opening,
        groups=kept_groups,
        connective_offset=connective_offset,
        openers=openers,
        skipped=skipped,
    )


def _sharing_first(heading: str, papers: Sequence[Paper]) -> list[Paper]:
    """`papers` with those whose abstracts hold a phrase of `heading` first (each part in its
    order), so a group's cited opener is followed by the papers it names."""
    holders = {paper.arxiv_id for phrase in heading_phrases(heading) for paper in phrase_holders(phrase, papers)}
    return sorted(papers, key=lambda paper: paper.arxiv_id not in holders)


def _openers(title: str, group_titles: Sequence[str], members: Sequence[Sequence[Paper]]) -> list[str]:
    """Each group's cited opener (`shared_phrase_sentence` of its heading, or of the section's
    title for a section of one unheaded group), "" where its papers share no phrase."""
    if len(group_titles) == 1 and not group_titles[0]:
        return [shared_phrase_sentence(title, members[0]) or ""]
    return [shared_phrase_sentence(t, m) or "" if t else "" for t, m in zip(group_titles, members, strict=True)]


def write_grounded_sections(
    sections: Sequence[tuple[str, Sequence[Paper], Sequence[SubTheme]]],
) -> list[GroundedDraft]:
    """Write several sections in order (title, papers, sub-themes each), so that no sentence
    appears twice in the survey and each section starts the connective rotation elsewhere."""
    used: set[str] = set()
    drafts = []
    for index, (title, papers, subthemes) in enumerate(sections):
        draft = write_grounded_section(title, papers, subthemes, exclude=used, connective_offset=2 * index)
        for fact in draft.facts:
            used.update({sentence_key(fact.source), sentence_key(fact.text)})
        drafts.append(draft)
    return drafts
