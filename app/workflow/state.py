"""The state of a survey run as the LangGraph checkpointer stores it, and its typed records.

Only plain JSON-ready values live here (papers as :class:`PaperRecord`, the outline as a
dict, the options as :meth:`RunOptions.to_json`), so a checkpoint reads back the same in
any later process. Fields that several nodes write carry a reducer.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Annotated, Any, TypedDict

from retriever.types import Paper


class PaperRecord(TypedDict):
    """A paper in the state: :meth:`retriever.types.Paper.to_dict`'s form."""

    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    date: str | None


class SubthemeRecord(TypedDict):
    """A subsection of a section planned from the papers, with the ids of its papers."""

    title: str
    papers: list[str]


class SectionRecord(TypedDict, total=False):
    """One body section, filled in by stages: retrieve_section writes the plan and its
    papers, write_section(s) the draft, check_citations the final text."""

    # retrieve_section
    title: str
    description: str
    subsections: list[str]
    subthemes: list[SubthemeRecord]  # only for sections planned from the papers
    queries: list[str]
    papers: list[PaperRecord]
    # write_section / write_sections
    draft: str
    given: list[str]
    abstract_words: int
    # check_citations
    text: str
    removed_citations: list[str]
    support_checks: list[dict[str, Any]]


class Frame(TypedDict):
    """The survey's frame around the sections, written by write_frame."""

    abstract: str
    introduction: str
    conclusion: str


def merge_sections(
    left: dict[str, SectionRecord] | None, right: dict[str, SectionRecord] | None
) -> dict[str, SectionRecord]:
    """Section records by key; a node's update adds to (and overrides fields of) the record."""
    merged: dict[str, SectionRecord] = {key: SectionRecord(**value) for key, value in (left or {}).items()}
    for key, update in (right or {}).items():
        merged[key] = SectionRecord(**{**merged.get(key, {}), **update})
    return merged


def add_numbers(left: dict[str, float] | None, right: dict[str, float] | None) -> dict[str, float]:
    """Per-key sums (tokens per kind)."""
    total = dict(left or {})
    for key, value in (right or {}).items():
        total[key] = total.get(key, 0) + value
    return total


class SurveyState(TypedDict, total=False):
    """One run. `options` is :meth:`RunOptions.to_json` (kept so a resume writes the same
    survey); `sections` is keyed by :func:`section_key`; `spans` holds each node's
    [stage, start, end] for :func:`stage_seconds`."""

    run_id: str
    topic: str
    options: dict[str, Any]
    queries: list[str]
    candidates: list[PaperRecord]
    outline: dict[str, Any]
    outline_source: str
    sections: Annotated[dict[str, SectionRecord], merge_sections]
    frame: Frame
    warnings: Annotated[list[str], operator.add]
    spans: Annotated[list[list], operator.add]
    tokens: Annotated[dict[str, float], add_numbers]
    output_dir: str


class RetrieveTask(TypedDict):
    """What one fanned-out retrieve_section worker receives through `Send`: a section of
    the outline and the topic's candidates (its ranking, and the fallback papers)."""

    key: str
    topic: str
    section: dict[str, Any]
    candidates: list[PaperRecord]
    options: dict[str, Any]


class WriteTask(TypedDict):
    """What one fanned-out write_section worker receives through `Send`."""

    key: str
    topic: str
    survey_title: str
    section: SectionRecord
    options: dict[str, Any]


def section_key(index: int) -> str:
    """Key of section `index` in `SurveyState.sections` (sorts in reading order)."""
    return f"{index:03d}"


def paper_records(papers: Iterable[Paper]) -> list[PaperRecord]:
    """Papers in their state form."""
    return [PaperRecord(**paper.to_dict()) for paper in papers]


def papers_of(records: Iterable[PaperRecord]) -> list[Paper]:
    """Papers back from their state form."""
    return [Paper.from_dict(dict(record)) for record in records]


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, float]:
    """A `tokens` update."""
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}


def stage_seconds(spans: list[list]) -> dict[str, float]:
    """Wall-clock seconds per stage from node spans ``[stage, start, end]`` (epoch seconds):
    the length of the union of each stage's spans, so that section workers running side by
    side (or waiting for the model in turn) count once, and the gap of a resumed run not at all."""
    by_stage: dict[str, list[tuple[float, float]]] = {}
    for stage, start, end in spans:
        by_stage.setdefault(stage, []).append((start, end))
    seconds = {}
    for stage, intervals in by_stage.items():
        total, covered_to = 0.0, float("-inf")
        for start, end in sorted(intervals):
            if end > covered_to:
                total += end - max(start, covered_to)
                covered_to = end
        seconds[stage] = total
    return seconds
