"""Rendering workflow events in the terminal with rich: a line per finished step, a spinner
with the step in progress and the text streamed so far, warnings in colour; library
preparation's events show their message."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.markup import escape

from app.workflow import LIBRARY_EVENTS, Event

NODE_LABELS = {
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


class ProgressView:
    """An event sink that draws progress on `console`. With `label_runs` (batch mode) each
    line names its run, since several runs may report at once."""

    def __init__(self, console: Console, label_runs: bool = False) -> None:
        self.console = console
        self.label_runs = label_runs
        self._status = console.status("starting", spinner="dots")
        self._streamed: dict[tuple[str, int | None], int] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> ProgressView:
        self._status.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._status.stop()

    def _prefix(self, event: Event) -> str:
        """The run's id before each line in batch mode (library preparation belongs to no run)."""
        return f"[dim]{escape(event.run_id)}[/] " if self.label_runs and event.run_id != LIBRARY_EVENTS else ""

    def _label(self, event: Event) -> str:
        if event.run_id == LIBRARY_EVENTS:
            return escape(event.message)
        label = NODE_LABELS.get(event.node or "", event.node or "")
        if event.section is not None:
            label += f" {event.section + 1}"
        return self._prefix(event) + label

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._render(event)

    def _render(self, event: Event) -> None:
        prefix = self._prefix(event)
        if event.kind == "run_started":
            verb = "resuming" if event.message == "resumed" else "starting"
            self.console.print(f"{verb} run [bold]{escape(event.run_id)}[/]")
        elif event.kind == "node_started":
            self._status.update(self._label(event) + " ...")
        elif event.kind == "token":
            key = (event.run_id, event.section)
            self._streamed[key] = self._streamed.get(key, 0) + len(event.data.get("text", ""))
            self._status.update(f"{self._label(event)}: {self._streamed[key]} characters")
        elif event.kind == "node_finished" and "seconds" in event.data:
            self.console.print(f"[green]✓[/] {self._label(event)} [dim]({event.data['seconds']:.1f} s)[/]")
        elif event.kind == "papers_found":
            where = f" for {escape(event.message)}" if event.section is not None else ""
            self.console.print(f"  {prefix}found {event.data.get('count', 0)} papers{where}")
        elif event.kind == "outline_ready":
            outline = event.data.get("outline", {})
            self.console.print(f"  {prefix}outline: [bold]{escape(outline.get('title', ''))}[/]")
            for number, section in enumerate(outline.get("sections", []), start=1):
                self.console.print(f"    {number}. {escape(section.get('title', ''))}")
        elif event.kind == "notice":
            self.console.print(escape(event.message))
        elif event.kind == "warning":
            self.console.print(f"[yellow]warning:[/] {prefix}{escape(event.message)}")
        elif event.kind == "run_finished":
            self.console.print(f"[green]done:[/] {prefix}{escape(event.message)}")
