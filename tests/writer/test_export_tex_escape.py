"""BibTeX/LaTeX text from arXiv's TeX-flavoured titles and names (real corpus strings)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.writer.tex_rules import tex_violations
from writer.export import bibtex_authors, tex_from_arxiv

REAL = [
    "Tolúl\\d{o}pé Ògúnrèmí",  # arXiv 2510.02569
    "Causal identification with $Y_0$",
    "$MV_{Hybrid}$: Improving Spatial Transcriptomics Prediction",
    "$\\textrm{ODE}_t \\left(\\textrm{ODE}_l \\right)$: Shortcutting the Time and Length",
    "code_transformed: The Influence of Large Language Models on Code",
    "sudo rm -rf agentic_security",
]


def test_accent_of_a_real_name_is_kept_whole():
    assert tex_from_arxiv("Tolúl\\d{o}pé Ògúnrèmí") == "Tolúl\\d{o}pé Ògúnrèmí"
    assert "Tolúl\\d{o}pé" in bibtex_authors(["Tolúl\\d{o}pé Ògúnrèmí"])


def test_math_is_kept_and_underscore_outside_it_escaped():
    assert tex_from_arxiv("Causal identification with $Y_0$") == "Causal identification with $Y_0$"
    assert tex_from_arxiv("code_transformed: The Influence") == "code\\_transformed: The Influence"


def test_unknown_command_unmatched_brace_and_odd_dollar_are_printed():
    assert tex_from_arxiv("\\model beats 50% of {x") == "\\textbackslash{}model beats 50\\% of x"
    assert tex_from_arxiv("costs $5 a~b^c") == "costs \\$5 a\\textasciitilde{}b\\textasciicircum{}c"
    assert tex_from_arxiv("$\\madeup{x}$ wins") == "\\$\\textbackslash{}madeup{x}\\$ wins"


@pytest.mark.parametrize("text", REAL)
def test_real_strings_pass_the_rules(text):
    assert tex_violations("{" + tex_from_arxiv(text) + "}") == []


def test_the_rules_catch_what_the_old_escape_wrote():
    assert tex_violations("Tolúl\\dopé") == ["unknown command"]
    assert tex_violations("a_b {c") == ["braces", "bare special"]


SAMPLE = Path(__file__).resolve().parents[2].parent / "shared/data/arxiv/arxiv_cs_CL_LG_AI_sample5k.jsonl.gz"


@pytest.mark.slow
@pytest.mark.skipif(not SAMPLE.exists(), reason="../shared/data is not here")
def test_every_title_and_author_list_of_the_5k_sample_passes_the_rules():
    with gzip.open(SAMPLE, "rt") as lines:
        papers = [json.loads(line) for line in lines]
    failing = [
        paper["id"]
        for paper in papers
        if tex_violations("{" + tex_from_arxiv(paper["title"]) + "}")
        or tex_violations(bibtex_authors(paper["authors"]))
    ]
    assert len(papers) == 5000 and failing == []


def test_standard_commands_missing_from_pylatexenc_stay_in_math():
    assert tex_from_arxiv("Readability $\\ne$ Learnability") == "Readability $\\ne$ Learnability"
    assert tex_from_arxiv("$\\bf{D^3}$QE: Learning") == "$\\bf{D^3}$QE: Learning"
