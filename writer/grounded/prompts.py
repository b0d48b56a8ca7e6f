"""Prompts of the optional fluency rewrite. Module constants with ``{named}`` placeholders,
filled only through :func:`render`."""

from __future__ import annotations

from engine.templates import placeholders as placeholders
from engine.templates import render as render

POLISH_SYSTEM = (
    "You edit single sentences of a literature survey so that they read fluently. You never add facts, "
    "numbers, names, comparisons or judgements that the sentence does not already state."
)

# The sentence goes without its citation marker, which the code puts back: a small model
# need not copy it, and cannot change it.
POLISH_PROMPT = """Rewrite this sentence of a literature survey so that it reads as fluent academic prose.
Keep its meaning and every fact, keep "{subject}" as its first words, and add nothing.
Answer with the one rewritten sentence only.

Sentence: {sentence}"""
