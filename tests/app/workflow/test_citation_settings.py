"""Which citation grammar the workflow gives its writers, by settings."""

from __future__ import annotations

import xgrammar as xgr

from app.settings import load_settings
from app.workflow.events import EventEmitter
from app.workflow.llm_factory import default_grammar_for

IDS = ["2501.12345"]
UNCITED_SECOND_PARAGRAPH = "First [arXiv:2501.12345].\n\nSecond, with no citation."


def grammar_accepts(builder, text: str) -> bool:
    return xgr.testing._is_grammar_accept_string(xgr.Grammar.from_ebnf(builder(IDS)), text)


def builder_for(**overrides):
    settings = load_settings(cli_overrides=overrides, environ={}).settings
    return default_grammar_for(settings, EventEmitter("test"))


def test_by_default_every_paragraph_must_cite():
    builder = builder_for()
    assert not grammar_accepts(builder, UNCITED_SECOND_PARAGRAPH)
    assert grammar_accepts(builder, "First [arXiv:2501.12345].\n\nSecond [arXiv:2501.12345].")


def test_the_requirement_can_be_switched_off_and_so_can_the_grammar():
    assert grammar_accepts(builder_for(**{"generate.cite_every_paragraph": "false"}), UNCITED_SECOND_PARAGRAPH)
    assert builder_for(**{"generate.constrain_citations": "false"}) is None
