"""The outline from real papers with the real embedding model: three themes of the arXiv
sample (speech, reinforcement learning, retrieval) come back as three sections."""

from __future__ import annotations

import gzip
import json

import pytest

from planner.paper_outline import outline_from_papers
from planner.titles import title_problem
from retriever.phrases import distinctive_phrases, topic_words
from retriever.store import paper_text
from retriever.types import Paper

THEMES = ("speech", "reinforcement", "retrieval")
PER_THEME = 15


@pytest.mark.slow
def test_real_papers_of_three_themes_make_three_named_sections(sample_corpus):
    from retriever.embeddings import load_embedder

    chosen: dict[str, list[Paper]] = {theme: [] for theme in THEMES}
    with gzip.open(sample_corpus, "rt", encoding="utf-8") as lines:
        for line in lines:
            paper = Paper.from_dict(json.loads(line))
            found = [t for t in THEMES if t in paper.title.lower()]
            if len(found) == 1 and len(chosen[found[0]]) < PER_THEME:
                chosen[found[0]].append(paper)
    papers = [p for group in zip(*chosen.values(), strict=True) for p in group]  # interleaved, like hits
    theme_of = {p.arxiv_id: t for t, group in chosen.items() for p in group}
    embedder = load_embedder(backend="torch")
    vectors = embedder.encode([paper_text(p.title, p.abstract) for p in papers])
    topic = "machine learning for language and speech"
    result = outline_from_papers(topic, papers, vectors, embedder.encode([topic])[0], 3, embed=embedder.encode)
    sections = result.outline.sections
    assert len(sections) == 3 and result.notes == []
    assert sorted(p for s in sections for p in s.papers) == sorted(theme_of)  # each paper in one section
    groups = [[paper_text(p.title, p.abstract) for p in papers if p.arxiv_id in s.papers] for s in sections]
    candidates = distinctive_phrases(groups, 24, exclude_words=topic_words(topic))  # the pool titles come from
    for section, texts, phrases in zip(sections, groups, candidates, strict=True):
        themes = [theme_of[p] for p in section.papers]
        assert max(themes.count(t) for t in THEMES) >= 0.8 * len(themes), (section.title, themes)
        others = [s.title for s in sections if s is not section]
        assert title_problem(section.title, topic, texts, phrases, others) is None, section.title
        for sub in section.subsections:
            assert set(sub.papers) <= set(section.papers) and sub.title != section.title
    assert len({s.title for s in sections}) == 3
    print([s.title for s in sections], [[sub.title for sub in s.subsections] for s in sections])
