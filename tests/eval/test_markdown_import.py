# ruff: noqa: E501 (the sample surveys hold reference lists as other systems print them, one entry a line)
"""Importing surveys written elsewhere: hand-built files of each citation style with exact
results, and every SurveyBench file (none crashes; counts asserted for a few)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.markdown_import import import_markdown, import_markdown_file
from eval.references import TitleIndex
from eval.survey_text import cited_references, sentences
from eval.surveybench import SYSTEMS
from retriever.types import Paper

NUMBERED = """# Survey of Things

## 1 Introduction

Transformers changed NLP [1]. Vision followed [2, 3]. Math [0,1] stays.

## 2 Methods

### 2.1 Attention

Attention is central [2]-[3].

## References

[1] A. Vaswani et al. Attention is all you need. arXiv:1706.03762, 2017. [2] Swin Transformer: Hierarchical Vision Transformer using Shifted Windows
[3] A paper nobody can resolve, 2020.
"""

AUTHOR_YEAR = """# Survey

## Body

Retrieval helps (Lewis et al., 2020; Guu et al., 2020). Smith et al. (2021) disagree. Others differ (Jones and Lee, 2019).

## References

Patrick Lewis, Ethan Perez, et al. Retrieval-augmented generation for knowledge-intensive NLP tasks. arXiv preprint arXiv:2005.11401, 2020.

Kelvin Guu, Kenton Lee. REALM: retrieval-augmented language model pre-training. In ICML, 2020.

John Smith. A study. 2021a.

John Smith. Another study. 2021b.
"""

SOURCES = """# Deep Report

## 1 Intro

ViT applies attention to patches 1 2. DETR detects objects 3.

## References

1 [2010.11929] An Image is Worth 16x16 Words https://arxiv.org/abs/2010.11929

2 3 Vision transformer - Wikipedia https://en.wikipedia.org/wiki/Vision_transformer
"""

NONE = """# Plain

## One

No citations at all here. See [the paper](https://arxiv.org/abs/2106.09685v2) for more.
"""


def test_numbered_citations_resolve_by_id_and_by_title():
    library = [Paper("2103.14030", "Swin Transformer: Hierarchical Vision Transformer using Shifted Windows", "abs")]
    survey = import_markdown(NUMBERED, "test", "things", titles=TitleIndex(library))
    counts = survey.metadata["reference_counts"]
    assert survey.metadata["citation_style"] == "numbered"
    assert (counts["entries"], counts["resolved_by_id"], counts["resolved_by_title"], counts["unresolved"]) == (
        3, 1, 1, 1)
    assert [s.title for s in survey.sections] == ["Introduction", "Methods"]
    assert survey.sections[1].subsections == ["Attention"]
    intro = survey.sections[0].text
    assert "[arXiv:1706.03762]" in intro and "[arXiv:2103.14030][ref:3]" in intro and "[0,1]" in intro
    assert "[arXiv:2103.14030][ref:3]" in survey.sections[1].text
    assert counts["citations_numbered"] == 5
    assert sorted(survey.papers) == ["1706.03762", "2103.14030"]


def test_author_year_matches_unique_entries_and_counts_the_rest():
    survey = import_markdown(AUTHOR_YEAR, "test")
    text = survey.sections[0].text
    assert survey.metadata["citation_style"] == "unnumbered"
    assert "[arXiv:2005.11401][ref:e2]" in text
    assert "Smith et al. [ref:?Smith 2021]" in text  # 2021a and 2021b: ambiguous, not guessed
    assert "[ref:?Jones 2019]" in text
    counts = survey.metadata["reference_counts"]
    assert (counts["citations_author_year_matched"], counts["citations_author_year_ambiguous"],
            counts["citations_author_year_unmatched"]) == (2, 1, 1)


def test_deep_research_sources_and_footnotes():
    survey = import_markdown(SOURCES, "test")
    assert survey.metadata["citation_style"] == "sources"
    cited = [s.citations for s in sentences(survey)]
    assert cited == [("2010.11929", "ref:2"), ("ref:3",)]


def test_links_and_no_reference_list():
    survey = import_markdown(NONE, "test")
    assert survey.metadata["citation_style"] == "none"
    assert [s.citations for s in sentences(survey)] == [(), ("2106.09685",)]
    assert [item.arxiv_id for item in cited_references(survey)] == ["2106.09685"]


def test_empty_file_is_a_clear_error():
    with pytest.raises(ValueError, match="empty"):
        import_markdown("  \n", "test", "topic")


def _files(shared: Path) -> list[Path]:
    return sorted((shared / "surveybench").glob("*/*.md"))


@pytest.mark.slow
@pytest.mark.parametrize("system", SYSTEMS)
def test_every_surveybench_file_parses(shared_data: Path, system: str):
    files = sorted((shared_data / "surveybench" / system).glob("*.md"))
    assert len(files) == 15
    for path in files:
        survey = import_markdown_file(path, system)
        assert survey.sections, path
        assert sentences(survey), path
        counts = survey.metadata["reference_counts"]
        assert counts["resolved_by_id"] + counts["resolved_by_title"] + counts["unresolved"] == counts["entries"]


@pytest.mark.parametrize(
    ("system", "topic", "entries", "by_id", "style"),
    [
        ("AutoSurvey", "Vision Transformers", 176, 0, "numbered"),
        ("SurveyForge", "Vision Transformers", 80, 0, "numbered"),
        ("HumanSurvey", "Reinforcement Learning for Large Language Models", None, 534, "unnumbered"),
        ("HumanSurvey", "3D Gaussian Splatting", 326, 122, "numbered"),
        ("OpenAI_DeepResearch", "Retrieval-Augmented Generation for Large Language Models", 0, 0, "none"),
        ("LLMxMR-V2", "Vision Transformers", 42, 2, "numbered"),
    ],
)
def test_reference_counts_of_known_files(shared_data, system, topic, entries, by_id, style):
    survey = import_markdown_file(shared_data / "surveybench" / system / f"{topic}.md", system)
    counts = survey.metadata["reference_counts"]
    assert survey.metadata["citation_style"] == style
    assert counts["resolved_by_id"] == by_id
    if entries is not None:
        assert counts["entries"] == entries


@pytest.mark.parametrize("topic", ["Reinforcement Learning for Large Language Models", "Alignment of Large Language Models"])
def test_indexed_author_year_matcher_equals_the_plain_scan(shared_data, topic):
    from eval import citation_styles
    from eval.markdown_import import parse_reference_section, split_off_references

    body, section = split_off_references((shared_data / "surveybench" / "HumanSurvey" / f"{topic}.md").read_text())
    entries = [e for key, e in parse_reference_section(section).entries.items() if not key.isdigit()]
    matcher = citation_styles.author_year_matcher(entries)
    cites = [(m.group(1), m.group(2)) for group in citation_styles._PAREN_GROUP.finditer(body)
             for m in citation_styles._AUTHOR_YEAR.finditer(group.group(1))]
    assert len(cites) > 100
    for surname, year in cites:
        assert matcher(surname, year) == citation_styles.author_year_match_plain(entries, surname, year)
