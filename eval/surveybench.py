"""The SurveyBench layout: one folder per system holding one Markdown survey per topic
(the file name is the topic), the human surveys among them, and the human outlines in
``HumanSurvey/outlines.json``."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from eval.markdown_import import import_markdown_file
from eval.references import TitleIndex
from retriever.types import Paper
from writer.survey import Survey

HUMAN = "HumanSurvey"
SYSTEMS = ("HumanSurvey", "OpenAI_DeepResearch", "AutoSurvey", "SurveyForge", "LLMxMR-V2")


class SurveyBenchError(ValueError):
    """The SurveyBench folder or a topic in it is missing; the message says which."""


def topics(root: Path) -> list[str]:
    """Topics that have a human survey, sorted."""
    folder = root / HUMAN
    if not folder.is_dir():
        raise SurveyBenchError(f"{folder} not found: point --surveybench at a SurveyBench data folder")
    return sorted(path.stem for path in folder.glob("*.md"))


def load(
    root: Path, system: str, topic: str, titles: TitleIndex | None = None, library: dict[str, Paper] | None = None
) -> Survey:
    """One system's survey on one topic, imported."""
    path = root / system / f"{topic}.md"
    if not path.is_file():
        raise SurveyBenchError(f"no {system} survey on {topic!r} ({path} not found)")
    return import_markdown_file(path, system, titles=titles, library=library)


def human_outlines(root: Path) -> dict[str, str]:
    """Topic -> the human outline as indented text (SurveyBench's outlines.json)."""
    path = root / HUMAN / "outlines.json"
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SurveyBenchError(f"cannot read the human outlines {path}: {error}") from None
    return {record["topic"]: record["outline"] for record in records}


def as_of(human: Survey) -> date | None:
    """The date a survey on the human survey's topic should be written as of: the end of the
    month of the newest arXiv paper the human survey cites (its own date is not in the
    file; a survey cannot cite a paper from after it). None without any arXiv reference."""
    ids = [entry["arxiv_id"] for entry in human.metadata.get("references", []) if entry.get("arxiv_id")]
    months = sorted(arxiv_id[:4] for arxiv_id in ids if arxiv_id[:4].isdigit())
    if not months:
        return None
    year, month = 2000 + int(months[-1][:2]), int(months[-1][2:])
    if month == 12:
        return date(year, 12, 31)
    return date.fromordinal(date(year, month + 1, 1).toordinal() - 1)
