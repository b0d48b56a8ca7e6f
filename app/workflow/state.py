"""The state of a survey run as the LangGraph checkpointer stores it.

Only plain JSON-ready values live here (papers as dicts, the outline as a dict), so a
checkpoint reads back the same in any later process. Fields that several nodes write
carry a reducer.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


def merge_sections(left: dict[str, dict] | None, right: dict[str, dict] | None) -> dict[str, dict]:
    """Section records by key; a node's update adds to (and overrides fields of) the record."""
    merged = {key: dict(value) for key, value in (left or {}).items()}
    for key, update in (right or {}).items():
        merged[key] = {**merged.get(key, {}), **update}
    return merged


def add_numbers(left: dict[str, float] | None, right: dict[str, float] | None) -> dict[str, float]:
    """Per-key sums (tokens per kind)."""
    total = dict(left or {})
    for key, value in (right or {}).items():
        total[key] = total.get(key, 0) + value
    return total


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


class SurveyState(TypedDict, total=False):
    """One run. `options` are the settings it was started with (kept so a resume writes
    the same survey); `sections` is keyed by the section's zero-padded index; `spans` holds
    each node's [stage, start, end] for :func:`stage_seconds`."""

    run_id: str
    topic: str
    options: dict[str, Any]
    queries: list[str]
    candidates: list[dict]
    outline: dict[str, Any]
    outline_source: str
    sections: Annotated[dict[str, dict], merge_sections]
    frame: dict[str, Any]
    warnings: Annotated[list[str], operator.add]
    spans: Annotated[list[list], operator.add]
    tokens: Annotated[dict[str, float], add_numbers]
    output_dir: str


class SectionTask(TypedDict):
    """What one fanned-out section worker receives through `Send`."""

    key: str
    topic: str
    survey_title: str
    section: dict[str, Any]
    candidates: list[dict]
    options: dict[str, Any]
    papers: list[dict]


def section_key(index: int) -> str:
    """Key of section `index` in `SurveyState.sections` (sorts in reading order)."""
    return f"{index:03d}"
