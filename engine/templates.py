"""Prompt templates: module constants with ``{named}`` placeholders, filled strictly.

Shared by planner/ and writer/, whose prompts.py modules hold the templates themselves.
"""

from __future__ import annotations

from string import Formatter


def placeholders(template: str) -> set[str]:
    """Names of the ``{named}`` placeholders in a template."""
    return {name for _, name, _, _ in Formatter().parse(template) if name}


def render(template: str, **values: object) -> str:
    """Fill a template; a missing or an unused value is a programming error and raises."""
    names = placeholders(template)
    missing = names - values.keys()
    extra = values.keys() - names
    if missing or extra:
        raise KeyError(f"prompt placeholders missing {sorted(missing)}, unexpected {sorted(extra)}")
    return template.format(**values)
