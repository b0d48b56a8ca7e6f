"""The outline's field descriptions, its constrained-decoding schema and the outline prompt
state the same bounds (issue 15: they said four, two and "one or two")."""

from __future__ import annotations

from planner.prompts import OUTLINE_PROMPT
from planner.schema import MAX_SECTION_QUERIES, MAX_SUBSECTIONS, OutlineSection, Subsection, outline_schema

NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}


def test_descriptions_schema_and_prompt_agree():
    fields = OutlineSection.model_fields
    assert fields["queries"].description == f"one to {MAX_SECTION_QUERIES} search queries for its papers"
    assert fields["subsections"].description == f"zero to {MAX_SUBSECTIONS} subsections"
    section = outline_schema(3)["properties"]["sections"]["items"]["properties"]
    assert section["queries"]["maxItems"] == MAX_SECTION_QUERIES and section["queries"]["minItems"] == 1
    assert section["subsections"]["maxItems"] == MAX_SUBSECTIONS
    prompt = " ".join(OUTLINE_PROMPT.split())
    assert f"one or {NUMBER_WORDS[MAX_SECTION_QUERIES]} search queries" in prompt
    assert f"up to {NUMBER_WORDS[MAX_SUBSECTIONS]} subsection titles" in prompt


def test_papers_are_optional_and_kept():
    section = OutlineSection(
        title="T", papers=["2503.00001"], subsections=[Subsection(title="S", papers=["2503.00001"])]
    )
    assert OutlineSection(title="T").papers == [] and Subsection(title="S").papers == []
    assert OutlineSection.model_validate(section.model_dump()).subsections[0].papers == ["2503.00001"]
    assert (
        "papers" not in outline_schema(2)["properties"]["sections"]["items"]["properties"]
    )  # the model never writes ids
