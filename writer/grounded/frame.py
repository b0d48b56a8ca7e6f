"""The abstract, introduction and conclusion of a grounded survey, built from what the
sections hold: the scope (topic, paper count, date range, categories), the sections' themes,
and open problems quoted from the cited papers' own abstracts, each with its marker."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date

from retriever.types import Paper
from writer.frame import Frame
from writer.grounded.choose import Fact, Skip, limitation_fact, sentence_key
from writer.grounded.coverage import SUPPORT_THRESHOLD, content_word_coverage
from writer.grounded.section import GroundedDraft, connect, join_titles, join_words, year_span
from writer.grounded.written import WrittenSection

MAX_OPEN_PROBLEMS = 5
# Categories named in the scope sentence, most frequent first.
SCOPE_CATEGORIES = 3


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def month_span(dates: Sequence[date | None]) -> str:
    """"in March 2025", "from March 2025 to June 2026", or "" when no date is known."""
    known = sorted(day for day in dates if day is not None)
    if not known:
        return ""
    first, last = known[0].strftime("%B %Y"), known[-1].strftime("%B %Y")
    return f"in {first}" if first == last else f"from {first} to {last}"


def category_counts(papers: Sequence[Paper], top: int = SCOPE_CATEGORIES) -> list[tuple[str, int]]:
    """The `top` arXiv categories listed by most of `papers`, with their paper counts (ties by name)."""
    counts = Counter(category for paper in papers for category in dict.fromkeys(paper.categories))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]


def cited_papers(sections: Sequence[WrittenSection]) -> list[Paper]:
    """Each paper a section cites, once, in reading order."""
    papers = {paper.arxiv_id: paper for section in sections for paper in section.cited}
    return list(papers.values())


def scope_sentence(topic: str, papers: Sequence[Paper]) -> str:
    """"This survey reviews 42 papers on X, published from March 2025 to June 2026 and listed
    mainly under cs.CL (30 papers), cs.LG (21) and cs.AI (12)."""
    sentence = f"This survey reviews {_count(len(papers), 'paper')} on {topic}"
    span = month_span([paper.published for paper in papers])
    if span:
        sentence += f", published {span}"
    categories = category_counts(papers)
    if categories:
        listed = [
            f"{name} ({_count(number, 'paper') if index == 0 else number})"
            for index, (name, number) in enumerate(categories)
        ]
        sentence += (" and" if span else ",") + f" listed mainly under {join_words(listed)}"
    return sentence + "."


def introduction_scope(topic: str, papers: Sequence[Paper]) -> str:
    """The scope and the method again, in other words than the abstract's (no sentence of
    the survey repeats another): "The 42 papers reviewed here on X appeared from March 2025
    to June 2026; most are listed under cs.CL, cs.LG and cs.AI. Each section ..."."""
    span = month_span([paper.published for paper in papers])
    sentence = f"The {_count(len(papers), 'paper')} reviewed here on {topic}"
    sentence += f" appeared {span}" if span else " are undated"
    categories = [name for name, _ in category_counts(papers)]
    if categories:
        sentence += f"; most are listed under {join_words(categories)}"
    method = (
        "Each section groups related papers under sub-themes and restates, for each paper, one sentence of its "
        "own abstract, attributed to its authors and followed by its citation; the connecting words add no claims."
    )
    return f"{sentence}. {method}"


def _section_line(number: int, section: WrittenSection) -> str:
    line = f"Section {number}, {section.title}, covers {_count(len(section.cited), 'paper')}"
    span = year_span([paper.published for paper in section.cited])
    line += f" published {span}" if span else ""
    groups = section.groups
    return line + (f", grouped into {join_titles(groups)}." if len(groups) >= 2 else ".")


def _open_problem_of(paper: Paper, body: Sequence[str], used: set[str]) -> Fact | Skip:
    """`paper`'s best open-problem sentence that the body sentences citing it do not already
    state (their content words cover under SUPPORT_THRESHOLD of it)."""
    exclude = set(used)
    while True:
        found = limitation_fact(paper, exclude=exclude)
        if isinstance(found, Skip) or content_word_coverage(found.source, body) < SUPPORT_THRESHOLD:
            return found
        exclude.add(sentence_key(found.source))


def open_problems(sections: Sequence[WrittenSection], limit: int = MAX_OPEN_PROBLEMS) -> tuple[list[Fact], list[Skip]]:
    """Up to `limit` open-problem sentences from the papers the sections cite, taken from
    the sections in turn (first cited paper of each section first), none restating a body
    sentence of its paper or repeating another; and the papers that state none."""
    queues = [list(section.cited) for section in sections]
    used: set[str] = set()
    problems: list[Fact] = []
    skipped: list[Skip] = []
    while len(problems) < limit and any(queues):
        for section, queue in zip(sections, queues, strict=True):
            if not queue or len(problems) >= limit:
                continue
            paper = queue.pop(0)
            found = _open_problem_of(paper, section.sentences_citing(paper.arxiv_id), used)
            if isinstance(found, Skip):
                skipped.append(found)
                continue
            used.update({sentence_key(found.source), sentence_key(found.text)})
            problems.append(found)
    return problems, skipped


def write_grounded_frame(
    topic: str, sections: Sequence[WrittenSection | GroundedDraft], max_open_problems: int = MAX_OPEN_PROBLEMS
) -> Frame:
    """Abstract, introduction and conclusion for the grounded `sections` (in survey order;
    body sections are numbered from 2, after the introduction). Drafts are read through
    :meth:`WrittenSection.from_draft`; a workflow that stored only titles, checked texts
    and given papers passes :class:`WrittenSection` objects.

    The abstract and introduction state the scope and the sections' themes and cite
    nothing; the conclusion quotes up to `max_open_problems` open problems from the cited
    papers' abstracts, each attributed and ending with its marker (so every paper it cites
    is cited in the body too).
    """
    read = [WrittenSection.from_draft(s) if isinstance(s, GroundedDraft) else s for s in sections]
    written = [section for section in read if section.cited]
    papers = cited_papers(written)
    titles = [section.title for section in written]
    problems, _ = open_problems(written, max_open_problems)
    notes = [] if problems else ["conclusion: no cited paper's abstract states an open problem that can be quoted"]
    if not papers:
        notes.append("frame: no section quotes any paper, so there is no scope to state")
        return Frame(abstract="", introduction="", conclusion="", notes=notes)
    scope = scope_sentence(topic, papers)
    themes = f"It is organised in {_count(len(titles), 'section')}: {join_titles(titles)}."
    method = (
        "Every statement about a paper restates a sentence of that paper's abstract, names its authors and "
        "ends with its citation; the words that connect them state no facts."
    )
    problems_line = (
        f"The conclusion gathers {_count(len(problems), 'open problem')} that the papers state themselves."
        if problems
        else ""
    )
    abstract = " ".join(part for part in (scope, themes, method, problems_line) if part)
    roadmap = " ".join(_section_line(number, section) for number, section in enumerate(written, start=2))
    introduction = "\n\n".join([introduction_scope(topic, papers), roadmap])
    closing = (
        f"This survey reviewed {_count(len(papers), 'paper')} on {topic} under {_count(len(titles), 'theme')}: "
        f"{join_titles(titles)}."
    )
    if problems:
        stated = [problems[0].text] + [connect(fact, index) for index, fact in enumerate(problems[1:])]
        conclusion = f"{closing}\n\nThe papers name open problems of their own. {' '.join(stated)}"
    else:
        conclusion = closing
    return Frame(abstract=abstract, introduction=introduction, conclusion=conclusion, notes=notes)
