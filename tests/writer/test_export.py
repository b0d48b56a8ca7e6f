"""Survey exporters: numbered Markdown references, BibTeX, LaTeX, JSON round trip."""

from __future__ import annotations

from datetime import date

import pytest

from retriever.types import Paper
from writer import Survey, SurveyFormatError, SurveySection

A = Paper(
    "2503.00001", "Deep Reasoning & RL_Methods", "abs a", ("Ada Lovelace", "Alan Turing"), ("cs.CL",), date(2025, 3, 1)
)
B = Paper("2503.00002", "Deep Search", "abs b", ("Ada Lovelace",), ("cs.LG",), date(2025, 4, 1))
C = Paper("2503.00003", "Unused", "abs c")


def make_survey() -> Survey:
    sections = [
        SurveySection(
            "Methods",
            "Second [arXiv:2503.00002] then first [arXiv:2503.00001].\n\n### Sub\n\n**Bold** 50%.",
            papers=["2503.00001", "2503.00002", "2503.00003"],
        ),
        SurveySection("More", "Again [arXiv:2503.00001][arXiv:2503.00002].", papers=["2503.00001", "2503.00002"]),
    ]
    papers = {p.arxiv_id: p for p in (A, B, C)}
    return Survey(
        "A Survey", "Abstract.", "Intro.", sections, "Conclusion.", papers, {"title": "A Survey"}, {"run_id": "r"}
    )


def test_references_are_numbered_by_first_citation_and_linked():
    survey = make_survey()
    assert [p.arxiv_id for p in survey.references] == ["2503.00002", "2503.00001"]
    markdown = survey.to_markdown()
    assert (
        "Second [[1]](https://arxiv.org/abs/2503.00002) then first [[2]](https://arxiv.org/abs/2503.00001)." in markdown
    )
    assert "Again [[2]](https://arxiv.org/abs/2503.00001)[[1]](https://arxiv.org/abs/2503.00002)." in markdown
    references = markdown.split("## References")[1]
    assert "1. Ada Lovelace (2025). *Deep Search*. [arXiv:2503.00002](https://arxiv.org/abs/2503.00002)" in references
    assert "Unused" not in references
    assert "## 2. Methods" in markdown and "## 4. Conclusion" in markdown


def test_bibtex_has_one_unique_key_per_reference():
    bib = make_survey().to_bibtex()
    assert bib.count("@misc{") == 2
    assert "@misc{lovelace2025deep,\n" in bib and "@misc{lovelace2025deepb,\n" in bib
    assert "author = {Ada Lovelace and Alan Turing}" in bib and "eprint = {2503.00001}" in bib
    assert r"RL\_Methods" in bib and r"\&" in bib


def test_latex_cites_the_bibtex_keys_and_escapes_text():
    tex = make_survey().to_latex()
    assert r"Second~\cite{lovelace2025deep} then first~\cite{lovelace2025deepb}." in tex
    assert r"Again~\cite{lovelace2025deepb,lovelace2025deep}." in tex
    assert r"\subsection{Sub}" in tex and r"\textbf{Bold} 50\%." in tex
    assert r"\bibliography{survey}" in tex and tex.count(r"\section{") == 4


def test_json_round_trip_keeps_everything():
    survey = make_survey()
    again = Survey.from_json(survey.to_json())
    assert again == survey
    assert again.to_markdown() == survey.to_markdown()


def test_unreadable_json_is_a_clear_error():
    with pytest.raises(SurveyFormatError, match="not a cpmsurvey survey JSON"):
        Survey.from_json('{"format_version": 1, "title": "t"}')
    with pytest.raises(SurveyFormatError, match="not a cpmsurvey survey JSON"):
        Survey.from_json("[1, 2")
    with pytest.raises(SurveyFormatError, match="format_version"):
        Survey.from_json('{"format_version": 99}')


def test_citations_in_the_conclusion_are_linked_like_the_body_s():
    survey = make_survey()
    survey.conclusion = "Open: scaling 50% [arXiv:2503.00001]."
    markdown = survey.to_markdown()
    assert "Open: scaling 50% [[2]](https://arxiv.org/abs/2503.00001)." in markdown
    assert "[arXiv:2503.00001]." not in markdown.split("## References")[0]
    assert r"Open: scaling 50\%~\cite{lovelace2025deepb}." in survey.to_latex()
