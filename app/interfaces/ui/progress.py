"""A run's progress events folded into what the New survey page shows: the stages done and
the one in progress, the papers found, each section's text as it is written, the warnings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

STAGE_LABELS = {
    "ingest_corpus": "ingesting the corpus",
    "fetch_papers": "fetching papers from arXiv",
    "update_index": "updating the index",
    "plan_queries": "planning search queries",
    "retrieve_broad": "retrieving candidate papers",
    "plan_outline": "planning the outline",
    "retrieve_section": "retrieving papers for section",
    "write_section": "writing section",
    "write_sections": "writing the sections",
    "check_citations": "checking citations",
    "write_frame": "writing abstract, introduction and conclusion",
    "assemble": "assembling the outputs",
}


def stage_label(node: str | None, section: int | None = None) -> str:
    """A person's name for a graph node, with the section's number (1-based) when it has one."""
    label = STAGE_LABELS.get(node or "", node or "")
    return f"{label} {section + 1}" if section is not None else label


@dataclass
class RunProgress:
    """What a run reported so far. Build it with :func:`fold_events`."""

    started: bool = False
    current: str | None = None
    done: list[tuple[str, float]] = field(default_factory=list)
    papers: list[tuple[str, int]] = field(default_factory=list)
    paper_titles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    outline: dict[str, Any] | None = None
    sections: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    finished: bool = False
    failed: str | None = None

    @property
    def headline(self) -> str:
        """One line for the status panel's label."""
        if self.failed:
            return "stopped: " + self.failed
        if self.finished:
            return "finished"
        if self.current:
            return self.current + " ..."
        return "starting ..." if not self.started else "working ..."


def fold_events(events: Iterable[Any]) -> RunProgress:
    """The progress shown for `events` (workflow Events, oldest first)."""
    progress = RunProgress()
    for event in events:
        _apply(progress, event)
    return progress


def _apply(progress: RunProgress, event: Any) -> None:
    kind, data = event.kind, event.data
    if kind == "run_started":
        progress.started = True
    elif kind == "node_started":
        # library preparation says what it does in the message (with counts as it embeds)
        progress.current = event.message or stage_label(event.node, event.section)
    elif kind == "node_finished" and "seconds" in data:
        progress.done.append((stage_label(event.node, event.section), float(data["seconds"])))
    elif kind == "papers_found":
        where = event.message if event.section is not None else "the topic"
        progress.papers.append((where, int(data.get("count", 0))))
        if data.get("papers"):
            progress.paper_titles[where] = list(data["papers"])
    elif kind == "outline_ready":
        progress.outline = data.get("outline")
    elif kind == "token" and event.section is not None:
        progress.sections[event.section] = progress.sections.get(event.section, "") + data.get("text", "")
    elif kind == "warning":
        progress.warnings.append(event.message)
    elif kind == "notice":
        progress.notices.append(event.message)
    elif kind == "run_finished":
        progress.finished, progress.current = True, None
    elif kind == "run_failed":
        progress.failed, progress.current = event.message, None
