"""Prompts of the optional fluency rewrite. Module constants with ``{named}`` placeholders,
filled only through :func:`render`."""

from __future__ import annotations

from engine.templates import placeholders as placeholders
from engine.templates import render as render

POLISH_SYSTEM = (
    "You edit single sentences of a literature survey so that they read fluently. You never add facts, "
    "numbers, names, comparisons or judgements that the sentence does not already state."
)

POLISH_PROMPT = """Sentence from the paper's abstract: {source}

Survey sentence built from it: {sentence}

Rewrite the survey sentence so that it reads as fluent academic prose. Keep its meaning, the authors'
names and every fact; add nothing. End it with the citation marker {marker} exactly as written, then a
full stop. Answer with the one rewritten sentence only."""
