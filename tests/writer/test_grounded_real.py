"""The grounded writer on real arXiv abstracts: properties every survey it writes must have."""

from __future__ import annotations

import gzip
import json
import re
from datetime import date
from pathlib import Path

import pytest

from retriever.types import Paper
from writer.citations import find_citations
from writer.grounded.choose import sentence_key
from writer.grounded.coverage import SUPPORT_THRESHOLD, content_word_coverage, evidence_text
from writer.grounded.frame import write_grounded_frame
from writer.grounded.section import GroundedDraft, SubTheme, write_grounded_sections
from writer.support import split_sentences

_SENTENCE_WITH_MARKER = re.compile(r"\[arXiv:([^\]]+)\]\.$")


def load_papers(path: Path, count: int, needle: str) -> list[Paper]:
    papers = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if needle in (row["title"] + " " + row["abstract"]).lower():
                papers.append(
                    Paper(
                        row["id"],
                        row["title"],
                        row["abstract"],
                        tuple(row["authors"]),
                        tuple(row["categories"]),
                        date.fromisoformat(row["date"]),
                    )
                )
            if len(papers) == count:
                return papers
    return papers


def fact_sentences(text: str) -> list[str]:
    """The sentences of a grounded text after its opening paragraph, headings left out."""
    blocks = [block for block in text.split("\n\n")[1:] if not block.startswith("#")]
    return [sentence for block in blocks for sentence in split_sentences(block)]


def assert_grounded(sentences: list[str], papers: dict[str, Paper], seen: set[str]) -> None:
    for sentence in sentences:
        ending = _SENTENCE_WITH_MARKER.search(sentence)
        assert ending, f"no closing marker: {sentence!r}"
        cited = find_citations(sentence)
        assert cited == [ending.group(1)] and cited[0] in papers, sentence
        paper = papers[cited[0]]
        assert content_word_coverage(sentence, [evidence_text(paper)]) >= SUPPORT_THRESHOLD, sentence
        assert content_word_coverage(sentence, [paper.abstract]) >= SUPPORT_THRESHOLD, sentence
        assert not re.search(r"[\\{}$^_]|https?:", sentence), sentence
        key = sentence_key(sentence)
        assert key not in seen, f"duplicate: {sentence!r}"
        seen.add(key)


def check_survey(papers: list[Paper], size: int) -> tuple[list[GroundedDraft], int]:
    plan = [(f"Theme {i}", papers[start : start + size], []) for i, start in enumerate(range(0, len(papers), size))]
    drafts = write_grounded_sections(plan)
    seen: set[str] = set()
    for (_, group, _), draft in zip(plan, drafts, strict=True):
        assert_grounded(fact_sentences(draft.text), {paper.arxiv_id: paper for paper in group}, seen)
        assert len(draft.facts) + len(draft.skipped) == len(group)
    frame = write_grounded_frame("language models", drafts)
    by_id = {paper.arxiv_id: paper for paper in papers}
    problems = fact_sentences(frame.conclusion)
    assert_grounded([s for s in problems if s != "The papers name open problems of their own."], by_id, seen)
    assert find_citations(frame.abstract + frame.introduction) == []
    return drafts, len(problems)


def test_twenty_real_abstracts_give_grounded_sections(sample_corpus):
    papers = load_papers(sample_corpus, 20, "language model")
    assert len(papers) == 20
    drafts, problems = check_survey(papers, size=10)
    assert sum(len(draft.facts) for draft in drafts) >= 18  # nearly every real abstract has a contribution sentence
    assert problems >= 2


@pytest.mark.slow
def test_three_hundred_real_abstracts_give_grounded_sections(sample_corpus):
    papers = load_papers(sample_corpus, 300, "")
    drafts, _ = check_survey(papers, size=30)
    assert sum(len(draft.facts) for draft in drafts) >= 270


def test_each_sentence_sits_under_the_sub_theme_of_its_paper(sample_corpus):
    papers = load_papers(sample_corpus, 20, "language model")
    themes = [
        SubTheme("First half", [p.arxiv_id for p in papers[:10]]),
        SubTheme("Second half", [p.arxiv_id for p in papers[10:]]),
    ]
    (draft,) = write_grounded_sections([("All", papers, themes)])
    members = {theme.title: set(theme.paper_ids) for theme in themes}
    current = None
    for block in draft.text.split("\n\n")[1:]:
        if block.startswith("### "):
            current = block[4:]
            continue
        for sentence in split_sentences(block):
            assert find_citations(sentence)[0] in members[current], (current, sentence)
    assert [title for title, _ in draft.groups] == ["First half", "Second half"]
