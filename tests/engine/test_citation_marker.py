"""The citation marker is defined once (engine.citation_marker): the writer formats and
parses, and the engine's grammar admits, exactly that spelling."""

from __future__ import annotations

import pytest

from engine.citation_marker import format_marker
from engine.constrained import citation_grammar
from writer.citations import check_citations, find_citations, strip_citations
from writer.prompts import PAPER_ENTRY


def test_formatted_markers_parse_back():
    text = f"One claim {format_marker('2503.11851')}. Two {format_marker('2503.11851', 'hep-th/9901001')}."
    assert format_marker("2503.11851", "2504.00001") == "[arXiv:2503.11851; arXiv:2504.00001]"
    assert find_citations(text) == ["2503.11851", "2503.11851", "hep-th/9901001"]
    assert strip_citations(text) == "One claim. Two."
    assert check_citations(text, ["2503.11851"]).removed == ["[arXiv:hep-th/9901001]"]


def test_the_grammar_and_the_prompt_spell_the_marker_as_formatted():
    grammar = citation_grammar(["2503.11851"])
    opening, _, _ = format_marker("ID").partition("ID")
    assert f'"{opening[0]}"' in grammar and f'"{opening[1:]}"' in grammar
    assert PAPER_ENTRY.startswith(format_marker("{arxiv_id}"))


def test_a_marker_cites_something():
    with pytest.raises(ValueError):
        format_marker()
