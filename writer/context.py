"""Fitting a section's papers into the model's context window.

Papers come best first. All of them with full abstracts when they fit; otherwise abstracts
are shortened step by step, and only then are papers dropped from the end. Only the papers
that end up in the prompt count as given to the writer (and may be cited).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retriever.types import Paper
from writer.prompts import PAPER_ENTRY, render

# Abstract lengths (words) tried in turn when everything does not fit; None is the whole abstract.
ABSTRACT_WORD_STEPS: tuple[int | None, ...] = (None, 150, 90, 50, 25)


@dataclass
class PaperContext:
    """The papers placed in a prompt and their rendered block."""

    papers: list[Paper]
    block: str
    tokens: int
    abstract_words: int | None


def render_paper(paper: Paper, abstract_words: int | None) -> str:
    """One paper as the writer sees it: marker, title, (possibly shortened) abstract."""
    words = paper.abstract.split()
    abstract = " ".join(words if abstract_words is None else words[:abstract_words])
    if abstract_words is not None and len(words) > abstract_words:
        abstract += " ..."
    return render(PAPER_ENTRY, arxiv_id=paper.arxiv_id, title=paper.title, abstract=abstract)


def fit_papers(papers: Sequence[Paper], token_budget: int, count_tokens: Callable[[str], int]) -> PaperContext:
    """The longest prefix of `papers`, with the longest abstracts, whose block fits `token_budget`."""
    separator_tokens = 1
    for abstract_words in ABSTRACT_WORD_STEPS:
        entries = [render_paper(paper, abstract_words) for paper in papers]
        costs = [count_tokens(entry) + separator_tokens for entry in entries]
        if sum(costs) <= token_budget or abstract_words == ABSTRACT_WORD_STEPS[-1]:
            break
    kept, used = [], 0
    for paper, entry, cost in zip(papers, entries, costs, strict=True):
        if used + cost > token_budget:
            break
        kept.append((paper, entry))
        used += cost
    return PaperContext(
        papers=[paper for paper, _ in kept],
        block="\n\n".join(entry for _, entry in kept),
        tokens=used,
        abstract_words=abstract_words,
    )
