"""Outline similarity against the human survey's headings, by sentence embeddings.

Each heading (numbering stripped) is embedded; every human heading takes its best cosine
among the system's headings and every system heading its best among the human ones. The
similarity is the mean of the two directional means (a soft F1 over headings, as
BERTScore is over tokens). ``outline_cosine`` is the cosine of the two outlines embedded
whole, as one text each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from retriever.embeddings import Embedder
from writer.survey import Survey

_NUMBERING = re.compile(r"^\s*(?:\d+(?:\.\d+)*\.?|[IVX]+(?:\.[A-Z])*\.?)\s+")


def clean_heading(heading: str) -> str:
    """A heading without numbering, emphasis and surrounding space."""
    return _NUMBERING.sub("", heading.replace("*", "")).strip()


def survey_headings(survey: Survey) -> list[str]:
    """Section and subsection headings in order, introduction and conclusion included."""
    headings = ["Introduction"] if survey.introduction.strip() else []
    for section in survey.sections:
        headings.append(clean_heading(section.title))
        headings.extend(clean_heading(sub) for sub in section.subsections)
    if survey.conclusion.strip():
        headings.append("Conclusion")
    return [heading for heading in headings if heading]


def outline_headings(outline_text: str) -> list[str]:
    """Headings of an indented outline as SurveyBench's outlines.json writes them."""
    return [clean_heading(line) for line in outline_text.split("\n") if clean_heading(line)]


def outline_similarity(system: Sequence[str], human: Sequence[str], embedder: Embedder) -> dict[str, float | None]:
    """Soft heading match and whole-outline cosine (None when either outline is empty)."""
    if not system or not human:
        return {"outline_similarity": None, "outline_cosine": None}
    vectors = embedder.encode([*system, *human, "\n".join(system), "\n".join(human)])
    ours, theirs = vectors[: len(system)], vectors[len(system) : len(system) + len(human)]
    cosines = ours @ theirs.T  # [system, human]; rows are unit vectors
    recall = float(cosines.max(axis=0).mean())
    precision = float(cosines.max(axis=1).mean())
    whole = float(np.dot(vectors[-2], vectors[-1]))
    return {"outline_similarity": (recall + precision) / 2, "outline_cosine": whole}
