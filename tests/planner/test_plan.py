"""Planning: queries, outline repair, retry and the reported fallback; topic checks."""

from __future__ import annotations

import json

import pytest

from engine.types import Completion, SamplingParams
from planner import TopicError, fallback_outline, plan_outline, plan_queries, validate_topic

PARAMS = SamplingParams()


class Replies:
    """Returns the given texts in turn (the last repeats) and records the conversations."""

    name = "replies"
    context_window = 4096

    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)
        self.conversations = []

    def count_tokens(self, text):
        return len(text) // 4 + 1

    def chat(self, messages, params, schema=None):
        self.conversations.append(list(messages))
        text = self.texts.pop(0) if len(self.texts) > 1 else self.texts[0]
        return Completion(text, 10, 5)


def outline_json(count: int, **overrides) -> str:
    sections = [
        {
            "title": f"Part {i}",
            "description": "what it covers",
            "queries": [f"graph learning aspect {i}"],
            "subsections": [],
        }
        for i in range(count)
    ]
    return json.dumps({"title": "T", "sections": sections, **overrides})


def test_queries_start_with_the_topic_and_are_cleaned():
    llm = Replies(json.dumps({"queries": ["**RLHF** methods", "rlhf METHODS", "reward models"]}))
    result = plan_queries(llm, "rlhf", 5, PARAMS)
    assert result.queries == ["rlhf", "RLHF methods", "reward models"]
    assert result.source == "model" and result.usage.calls == 1


def test_garbage_queries_fall_back_to_the_topic_with_a_note():
    result = plan_queries(Replies("I cannot help with that"), "rlhf", 5, PARAMS)
    assert result.queries == ["rlhf"] and result.source == "fallback" and result.notes


def test_outline_in_a_code_fence_is_accepted():
    result = plan_outline(Replies("```json\n" + outline_json(3) + "\n```"), "t", ["a"], 3, PARAMS)
    assert result.source == "model" and len(result.outline.sections) == 3


def test_too_few_sections_asks_again_saying_why():
    llm = Replies(outline_json(2), outline_json(3))
    result = plan_outline(llm, "t", ["a"], 3, PARAMS)
    assert result.source == "repaired" and len(result.outline.sections) == 3
    assert "2 usable sections instead of 3" in llm.conversations[1][-1]["content"]


def test_unusable_outline_falls_back_to_a_generic_one():
    result = plan_outline(Replies("not json"), "graph neural networks", ["a"], 4, PARAMS, retries=1)
    assert result.source == "fallback" and len(result.outline.sections) == 4
    assert any("generic outline" in note for note in result.notes)
    assert all("graph neural networks" in s.queries[0] for s in result.outline.sections)


def test_fallback_outline_has_distinct_titles_for_many_sections():
    outline = fallback_outline("t", 8)
    assert len({s.title for s in outline.sections}) == 8


@pytest.mark.parametrize(("topic", "message"), [("", "empty"), ("  \n ", "empty"), ("x " * 100, "title-length")])
def test_bad_topics_are_refused(topic, message):
    with pytest.raises(TopicError, match=message):
        validate_topic(topic)


def test_topic_whitespace_is_normalised():
    assert validate_topic("  graph   neural\nnetworks ") == "graph neural networks"


def test_planning_schemas_are_bounded_and_compile_for_constrained_decoding():
    import xgrammar as xgr
    from jsonschema import validate

    from planner.schema import outline_schema, query_plan_schema

    schema = outline_schema(3)
    assert schema["properties"]["sections"]["minItems"] == schema["properties"]["sections"]["maxItems"] == 3
    for candidate in (schema, query_plan_schema(5)):
        xgr.Grammar.from_json_schema(json.dumps(candidate))
    validate(json.loads(outline_json(3, title="A Survey")), schema)


def test_placeholder_outlines_are_not_accepted():
    from planner.plan import is_placeholder

    assert is_placeholder("Title 1") and is_placeholder("query_2") and is_placeholder("Subsection 3")
    assert not is_placeholder("Reward modelling") and not is_placeholder("RLHF 2")
    filler = json.dumps(
        {
            "title": "A Survey",
            "sections": [{"title": f"Title {i}", "description": "", "queries": [f"query_{i}"]} for i in range(3)],
        }
    )
    result = plan_outline(Replies(filler), "graph neural networks", ["a"], 3, PARAMS)
    assert result.source == "fallback"
