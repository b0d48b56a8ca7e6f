"""Prompts of the planning stage. Module constants with ``{named}`` placeholders, filled
only through :func:`render`, which refuses a missing or an unexpected value."""

from __future__ import annotations

# Re-exported: callers fill these templates through this module.
from engine.templates import placeholders as placeholders
from engine.templates import render as render

PLANNER_SYSTEM = (
    "You are a research librarian planning a literature survey. You answer with JSON only, "
    "in exactly the requested structure."
)

QUERIES_PROMPT = """Topic of the survey: {topic}

Write {count} short search queries (three to six words each) for finding research papers on this topic.
Together they should cover its main methods, applications, evaluation and open problems.
Answer as JSON with one key "queries" holding the list of queries."""

OUTLINE_PROMPT = """Topic of the survey: {topic}

Titles of papers found on this topic:
{titles}

Plan the body of a survey of these papers with exactly {sections} sections (the introduction and
the conclusion are written separately, do not include them). For each section give a title, a one
sentence description, one or two search queries (short keyword phrases) that find its papers, and up
to two subsection titles. Base the sections on the papers listed above. Also give the survey a title.
Answer as JSON with keys "title" and "sections"; each section has "title", "description", "queries"
and "subsections"; each subsection has a "title"."""

OUTLINE_REPAIR_PROMPT = """Your previous answer could not be used: {problem}

Answer again with the JSON outline only, exactly {sections} sections, each with a non-empty title and
at least one search query."""

TITLES_PROMPT = """Topic of the survey: {topic}

The survey's papers fall into {count} groups. For each group, its distinctive phrases and some of its
paper titles:
{groups}

Write one short section heading (three to eight words) for each group, in the same order, naming what
its papers share, in the words of its phrases and titles. Headings must differ from each other.
Answer as JSON with one key "titles" holding the {count} headings."""
