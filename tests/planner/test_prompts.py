"""Every prompt's placeholders are filled by the code that uses it, and render refuses gaps."""

from __future__ import annotations

import re

import pytest

import planner.prompts as planner_prompts
import writer.prompts as writer_prompts
from planner.prompts import placeholders, render


def templates(module):
    return {name: value for name, value in vars(module).items() if name.isupper() and isinstance(value, str)}


@pytest.mark.parametrize("module", [planner_prompts, writer_prompts])
def test_every_template_renders_with_exactly_its_placeholders(module):
    for name, template in templates(module).items():
        values = {key: f"<{key}>" for key in placeholders(template)}
        text = render(template, **values)
        assert not re.search(r"\{[a-z_]+\}", text), name
        for value in values.values():
            assert value in text, (name, value)


def test_render_refuses_missing_and_unexpected_values():
    with pytest.raises(KeyError, match="missing"):
        render(planner_prompts.QUERIES_PROMPT, topic="x")
    with pytest.raises(KeyError, match="unexpected"):
        render(planner_prompts.QUERIES_PROMPT, topic="x", count=3, extra=1)


def test_the_code_fills_every_placeholder(monkeypatch):
    """The prompts as the planner and writer send them hold no unfilled {name}."""
    from engine.types import Completion
    from planner import plan_outline, plan_queries
    from retriever.types import Paper
    from writer import SectionRequest, write_frame, write_section

    sent: list[str] = []

    class Recorder:
        name = "recorder"
        context_window = 4096

        def count_tokens(self, text):
            return len(text) // 4 + 1

        def chat(self, messages, params, schema=None):
            sent.extend(m["content"] for m in messages)
            return Completion('{"queries": ["a b"], "title": "t", "sections": []}', 1, 1)

        def stream(self, messages, params, schema=None, grammar=None):
            sent.extend(m["content"] for m in messages)
            yield "text"

        def batch_chat(self, conversations, params, schema=None, grammar=None):
            return [self.chat(c, params, schema) for c in conversations]

    from engine.types import SamplingParams

    llm, params = Recorder(), SamplingParams()
    plan_queries(llm, "topic", 3, params)
    plan_outline(llm, "topic", ["A title"], 2, params)
    paper = Paper("2503.00001", "A paper", "An abstract.")
    write_section(llm, SectionRequest("topic", "Survey", "Sec", "desc", 100, ["Sub"]), [paper], params)
    write_frame(llm, "topic", "Survey", [("Sec", "text [arXiv:2503.00001]")], params)
    assert len(sent) > 8
    for text in sent:
        assert not re.search(r"\{[a-z_]+\}", text), text
