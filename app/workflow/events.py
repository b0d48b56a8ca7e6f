"""Progress events of a survey run and of library preparation: the seam between the
workflow and whoever shows it (the CLI renders them with rich, the Streamlit UI in its
status panel). A `notice` is a line of information (an ingest report); a `warning`
something the user should know about.

A sink is any callable taking an :class:`Event`. A failing sink is logged and ignored: a
display problem must never stop a run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger(__name__)

EventKind = Literal[
    "run_started",
    "node_started",
    "node_finished",
    "papers_found",
    "token",
    "warning",
    "notice",
    "outline_ready",
    "run_finished",
    "run_failed",
]


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in a run. `node` names the graph node; for per-section nodes
    `section` is the section's 0-based index. `data` holds kind-specific figures (papers
    found, seconds, tokens)."""

    kind: EventKind
    run_id: str
    node: str | None = None
    section: int | None = None
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)


EventSink = Callable[[Event], None]


def ignore_events(event: Event) -> None:
    """A sink that drops every event."""


class EventEmitter:
    """Builds events for one run and hands them to a sink, shielding the run from sink errors."""

    def __init__(self, run_id: str, sink: EventSink | None = None) -> None:
        self.run_id = run_id
        self._sink = sink or ignore_events

    def emit(self, kind: EventKind, node: str | None = None, section: int | None = None, message: str = "", **data):
        """Send one event."""
        event = Event(kind=kind, run_id=self.run_id, node=node, section=section, message=message, data=data)
        try:
            self._sink(event)
        except Exception:
            log.exception("progress sink failed on %s event; the run continues", kind)

    def warning(self, message: str, node: str | None = None, section: int | None = None) -> None:
        """Report something the user should know about (a fallback, removed citations)."""
        # INFO, not WARNING: the sink shows it to the user; a WARNING log would show it twice.
        log.info("warning: %s", message)
        self.emit("warning", node=node, section=section, message=message)
