"""Prompts of the writing stage. Module constants with ``{named}`` placeholders, filled only
through :func:`render`, which refuses a missing or an unexpected value."""

from __future__ import annotations

# Re-exported: callers fill these templates through this module.
from engine.citation_marker import format_marker
from engine.templates import placeholders as placeholders
from engine.templates import render as render

WRITER_SYSTEM = (
    "You are an expert researcher writing one section of a literature survey. You write precise, "
    "neutral academic prose in Markdown and support claims with citations to the papers you are given."
)

PAPER_ENTRY = format_marker("{arxiv_id}") + " {title}\n{abstract}"

SECTION_PROMPT = """Survey topic: {topic}
Survey title: {survey_title}

Papers you may cite (each starts with its citation marker):
{papers}

Write the section "{section_title}" of the survey: {section_description}
{subsections}
Write about {words} words of connected prose that compares and relates the papers. Cite a paper by
copying its marker exactly, for example {example_marker}, right after the claim it supports. Cite only
the papers listed above, and do not invent results. Do not repeat the section title; do not add a
reference list."""

SUBSECTIONS_LINE = "Cover these parts, each under a '### ' heading: {subsections}."

SUPPORT_SYSTEM = "You check whether a sentence of a survey is supported by the abstracts of the papers it cites."

SUPPORT_PROMPT = """Sentence: {sentence}

Abstracts of the cited papers:
{abstracts}

Is every claim of the sentence supported by these abstracts? Answer as JSON with "supported" (true or
false) and "rewrite": when not supported, the sentence rewritten so that the abstracts support it,
keeping its citation markers; an empty string when it cannot be saved."""

FRAME_SYSTEM = "You are an expert researcher finishing a literature survey. You write concise academic prose."

FRAME_PROMPT = """Survey title: {survey_title}
Topic: {topic}

The survey's sections and what they say:
{summaries}

Write the {part} of this survey, about {words} words, as plain paragraphs without a heading and without
citations. {instruction}"""

ABSTRACT_INSTRUCTION = "State the scope of the survey, how it is organised and its main observations."
INTRODUCTION_INSTRUCTION = "Motivate the topic, define its scope and announce the sections in order."
CONCLUSION_INSTRUCTION = "Summarise the main findings across the sections and name open problems."
