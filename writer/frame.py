"""The abstract, introduction and conclusion, written from the finished sections.

The three parts go to the model as one batch. They carry no citations: any marker the
model writes there is removed and reported, since the frame is not given papers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.types import LLM, Message, SamplingParams
from writer.citations import check_citations, strip_citations
from writer.prompts import (
    ABSTRACT_INSTRUCTION,
    CONCLUSION_INSTRUCTION,
    FRAME_PROMPT,
    FRAME_SYSTEM,
    INTRODUCTION_INSTRUCTION,
    render,
)
from writer.sections import clean_section_text, max_new_tokens_for

SUMMARY_WORDS_PER_SECTION = 80
MIN_PART_WORDS = 40
FRAME_PARTS = (
    ("abstract", 150, ABSTRACT_INSTRUCTION),
    ("introduction", 250, INTRODUCTION_INSTRUCTION),
    ("conclusion", 180, CONCLUSION_INSTRUCTION),
)


@dataclass
class Frame:
    """The parts of a survey around its sections."""

    abstract: str
    introduction: str
    conclusion: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    notes: list[str] = field(default_factory=list)


def summarize_sections(sections: Sequence[tuple[str, str]], words_per_section: int = SUMMARY_WORDS_PER_SECTION) -> str:
    """Each section's title and opening words, citations removed, as context for the frame."""
    lines = []
    for index, (title, text) in enumerate(sections, start=1):
        prose = " ".join(line for line in strip_citations(text).splitlines() if not line.lstrip().startswith("#"))
        words = prose.split()
        opening = " ".join(words[:words_per_section]) + (" ..." if len(words) > words_per_section else "")
        lines.append(f"{index}. {title}: {opening}")
    return "\n".join(lines)


def write_frame(
    llm: LLM,
    topic: str,
    survey_title: str,
    sections: Sequence[tuple[str, str]],
    params: SamplingParams,
    length_scale: float = 1.0,
) -> Frame:
    """Abstract, introduction and conclusion from `sections` ((title, text) pairs).

    `length_scale` scales the parts' lengths (abstract 150 words at 1.0), so that a survey
    of short sections gets a short frame; no part goes under 40 words.
    """
    summaries = summarize_sections(sections)
    parts = [
        (part, max(MIN_PART_WORDS, int(words * length_scale)), instruction) for part, words, instruction in FRAME_PARTS
    ]
    conversations: list[list[Message]] = []
    for part, words, instruction in parts:
        prompt = render(
            FRAME_PROMPT,
            survey_title=survey_title,
            topic=topic,
            summaries=summaries,
            part=part,
            words=words,
            instruction=instruction,
        )
        conversations.append([{"role": "system", "content": FRAME_SYSTEM}, {"role": "user", "content": prompt}])
    longest = max(words for _, words, _ in parts)
    completions = llm.batch_chat(conversations, dataclasses.replace(params, max_new_tokens=max_new_tokens_for(longest)))
    texts: dict[str, str] = {}
    notes: list[str] = []
    for (part, _, _), completion in zip(parts, completions, strict=True):
        cleaned = clean_section_text(completion.text, part, truncated=completion.finish_reason == "length")
        checked = check_citations(cleaned, allowed_ids=())
        if checked.removed:
            notes.append(f"{part}: removed {len(checked.removed)} citation(s) the frame may not make")
        if not checked.text:
            notes.append(f"{part}: the model returned no text")
        texts[part] = checked.text
    return Frame(
        abstract=texts["abstract"],
        introduction=texts["introduction"],
        conclusion=texts["conclusion"],
        prompt_tokens=sum(c.prompt_tokens for c in completions),
        completion_tokens=sum(c.completion_tokens for c in completions),
        notes=notes,
    )
