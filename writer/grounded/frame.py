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
from writer.grounded.section import GroundedDraft, connect, join_words

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


def cited_papers(sections: Sequence[GroundedDraft]) -> list[Paper]:
    """Each paper a section quotes, once, in reading order."""
    by_id = {paper.arxiv_id: paper for section in sections for paper in section.given}
    ids = dict.fromkeys(fact.arxiv_id for section in sections for fact in section.facts)
    return [by_id[arxiv_id] for arxiv_id in ids]


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


def _section_line(number: int, section: GroundedDraft) -> str:
    papers = {fact.arxiv_id for fact in section.facts}
    groups = [title for title, _ in section.groups if title]
    line = f"Section {number}, {section.title}, covers {_count(len(papers), 'paper')}"
    return line + (f", grouped into {join_words(groups)}." if len(groups) >= 2 else ".")


def open_problems(sections: Sequence[GroundedDraft], limit: int = MAX_OPEN_PROBLEMS) -> tuple[list[Fact], list[Skip]]:
    """Up to `limit` open-problem sentences from the papers the sections cite, taken from
    the sections in turn (first paper of each section first), none repeating a sentence of
    the body; and the papers that state none."""
    used = {sentence_key(text) for section in sections for fact in section.facts for text in (fact.source, fact.text)}
    queues = [[fact.arxiv_id for fact in section.facts] for section in sections]
    by_id = {paper.arxiv_id: paper for section in sections for paper in section.given}
    problems: list[Fact] = []
    skipped: list[Skip] = []
    while len(problems) < limit and any(queues):
        for queue in queues:
            if not queue or len(problems) >= limit:
                continue
            found = limitation_fact(by_id[queue.pop(0)], exclude=used)
            if isinstance(found, Skip):
                skipped.append(found)
                continue
            used.update({sentence_key(found.source), sentence_key(found.text)})
            problems.append(found)
    return problems, skipped


def write_grounded_frame(
    topic: str, sections: Sequence[GroundedDraft], max_open_problems: int = MAX_OPEN_PROBLEMS
) -> Frame:
    """Abstract, introduction and conclusion for the grounded `sections` (in survey order;
    body sections are numbered from 2, after the introduction).

    The abstract and introduction state the scope and the sections' themes and cite
    nothing; the conclusion quotes up to `max_open_problems` open problems from the cited
    papers' abstracts, each attributed and ending with its marker.
    """
    written = [section for section in sections if section.facts]
    papers = cited_papers(written)
    titles = [section.title for section in written]
    problems, _ = open_problems(written, max_open_problems)
    notes = [] if problems else ["conclusion: no cited paper's abstract states an open problem that can be quoted"]
    if not papers:
        notes.append("frame: no section quotes any paper, so there is no scope to state")
        return Frame(abstract="", introduction="", conclusion="", notes=notes)
    scope = scope_sentence(topic, papers)
    themes = f"It is organised in {_count(len(titles), 'section')}: {join_words(titles)}."
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
    introduction = "\n\n".join([f"{scope} {method}", roadmap])
    closing = (
        f"This survey reviewed {_count(len(papers), 'paper')} on {topic} under {_count(len(titles), 'theme')}: "
        f"{join_words(titles)}."
    )
    if problems:
        stated = [problems[0].text] + [connect(fact, index) for index, fact in enumerate(problems[1:])]
        conclusion = f"{closing}\n\nThe papers name open problems of their own. {' '.join(stated)}"
    else:
        conclusion = closing
    return Frame(abstract=abstract, introduction=introduction, conclusion=conclusion, notes=notes)
