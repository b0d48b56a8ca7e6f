"""Stored runs: their ids, the checkpoint database, and what can be asked of a run without
a model or a library (inspect, list, load, export, delete)."""

from __future__ import annotations

import re
import secrets
import sqlite3
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from langgraph.checkpoint.sqlite import SqliteSaver

from app.workflow.errors import RunNotFoundError, WorkflowError
from app.workflow.graph import compile_graph
from app.workflow.nodes import survey_from_state
from app.workflow.options import RunOptions
from app.workflow.outputs import OUTLINE_REVIEW_FILE, OUTPUT_FILES, is_finished, write_outputs
from planner import validate_topic
from writer.survey import Survey

RunStatus = Literal["finished", "awaiting_review", "interrupted"]

_graphs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass
class RunInfo:
    """A stored run as the checkpoint database knows it."""

    run_id: str
    topic: str
    options: RunOptions
    output_dir: Path
    status: RunStatus
    next_nodes: tuple[str, ...] = ()
    outline: dict[str, Any] | None = None
    ended: bool = False  # the graph reached its end; "interrupted" then means its files are missing


def new_run_id(topic: str) -> str:
    """A readable, unique run id: UTC time, a slug of the topic, random hex."""
    slug = re.sub(r"[^a-z0-9]+", "-", topic.lower()).strip("-")[:40].strip("-") or "survey"
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{slug}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class NewRun:
    """A run not recorded yet: its topic, checked and with its whitespace normalised, and
    its id. Made by :func:`new_run`."""

    topic: str
    run_id: str


def new_run(topic: str, run_id: str | None = None) -> NewRun:
    """The one check of a run's topic (planner.validate_topic: a TopicError says what is
    wrong and what to give instead), and the run's id (:func:`new_run_id` unless given).
    Interfaces call it before spending anything on a run (a library update, a model load)
    and hand the result to ``SurveyWorkflow.create`` or ``start``, which check nothing again;
    given a plain topic, those call it themselves."""
    topic = validate_topic(topic)
    return NewRun(topic, run_id or new_run_id(topic))


def open_checkpointer(path: Path) -> SqliteSaver:
    """The SQLite checkpointer of all runs; one per process is enough (it is thread-safe).
    Close it with ``checkpointer.conn.close()`` (or :func:`close_checkpointer`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    # WAL lets the UI read run history while a CLI run writes checkpoints.
    connection.execute("PRAGMA journal_mode=WAL")
    return SqliteSaver(connection)


def close_checkpointer(checkpointer: SqliteSaver) -> None:
    """Close the checkpoint database's connection."""
    checkpointer.conn.close()


def graph_for(checkpointer: SqliteSaver) -> Any:
    """The compiled graph over `checkpointer`, compiled once per checkpointer."""
    graph = _graphs.get(checkpointer)
    if graph is None:
        graph = _graphs[checkpointer] = compile_graph(checkpointer)
    return graph


def thread(run_id: str) -> dict[str, Any]:
    """The LangGraph config naming a run's thread."""
    return {"configurable": {"thread_id": run_id}}


def inspect_run(checkpointer: SqliteSaver, run_id: str, where: Path | str = "the run database") -> RunInfo:
    """Where a stored run stands, without an LLM or a library (the CLI reads a run's
    recorded model before building one). Raises :class:`RunNotFoundError` for an unknown id."""
    snapshot = graph_for(checkpointer).get_state(thread(run_id))
    if not snapshot.values:
        raise RunNotFoundError(
            f"no run with id {run_id!r} in {where}; check the id (printed when the run started) "
            "and the data_dir setting"
        )
    values = snapshot.values
    output_dir = Path(values["output_dir"])
    return RunInfo(
        run_id=run_id,
        topic=values["topic"],
        options=RunOptions.from_json(values["options"]),
        output_dir=output_dir,
        status=_status(snapshot, output_dir),
        next_nodes=tuple(snapshot.next),
        outline=values.get("outline"),
        ended=not snapshot.tasks,
    )


def _status(snapshot: Any, output_dir: Path) -> RunStatus:
    """Finished only at the graph's end with the files written. `snapshot.next` is no guide:
    it omits tasks whose writes are saved, so a step all of whose tasks finished while the
    process was stopping (Ctrl-C unwinding the graph) shows no next node, yet the run is
    not done; its tasks are still there, and a resume applies their writes and goes on."""
    if any(task.interrupts for task in snapshot.tasks):
        return "awaiting_review"
    if snapshot.tasks or not is_finished(output_dir):
        return "interrupted"
    return "finished"


def list_runs(checkpointer: SqliteSaver) -> list[RunInfo]:
    """Every stored run, newest first (run ids start with their UTC start time)."""
    checkpointer.setup()
    with checkpointer.cursor(transaction=False) as cursor:
        thread_ids = [row[0] for row in cursor.execute("SELECT DISTINCT thread_id FROM checkpoints")]
    runs = []
    for run_id in sorted(thread_ids, reverse=True):
        try:
            runs.append(inspect_run(checkpointer, run_id))
        except RunNotFoundError:
            continue
    return runs


def finished_survey(checkpointer: SqliteSaver, run_id: str) -> Survey:
    """The survey of a run that reached its end, rebuilt from its checkpoint."""
    info = inspect_run(checkpointer, run_id)
    if not info.ended:
        raise WorkflowError(f"run {run_id} is not finished ({info.status}); resume it first")
    return survey_from_state(graph_for(checkpointer).get_state(thread(run_id)).values)


def load_survey(checkpointer: SqliteSaver, run_id: str) -> Survey:
    """The survey of a finished run as its output folder holds it (survey.json)."""
    info = inspect_run(checkpointer, run_id)
    path = info.output_dir / "survey.json"
    if not path.is_file():
        raise WorkflowError(f"run {run_id} has no survey.json in {info.output_dir}; export or resume it")
    return Survey.from_json(path.read_text(encoding="utf-8"))


def export_run(checkpointer: SqliteSaver, run_id: str, folder: Path | None = None) -> Path:
    """Write the files (survey.md, .bib, .tex, .json) of a run that reached its end again
    from its checkpoint, into `folder` (default: the run's output folder); returns the
    folder. Resuming such a run whose files are gone does this."""
    survey = finished_survey(checkpointer, run_id)
    return write_outputs(survey, folder or inspect_run(checkpointer, run_id).output_dir)


def delete_run(checkpointer: SqliteSaver, run_id: str) -> None:
    """Delete a run: its checkpoints and the survey files in its output folder (the folder
    goes too when nothing else is left in it)."""
    info = inspect_run(checkpointer, run_id)
    checkpointer.delete_thread(run_id)
    for name in (*OUTPUT_FILES, OUTLINE_REVIEW_FILE):
        (info.output_dir / name).unlink(missing_ok=True)
    if info.output_dir.is_dir() and not any(info.output_dir.iterdir()):
        info.output_dir.rmdir()
