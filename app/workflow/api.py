"""The run API: start, review and resume survey runs (docs/ARCHITECTURE.md section 6).
The CLI, batch mode and the UI all call it; none touches the graph.

A run is a LangGraph thread in the SQLite checkpoint database (settings.runs_db_path),
identified by its run id. Its outputs go to one folder (settings.outputs_dir/<run id>
unless the caller names another).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command
from pydantic import ValidationError

from app.settings import Settings
from app.workflow.errors import OutlineEditError, RunFailedError, WorkflowError, is_user_error
from app.workflow.events import EventEmitter, EventSink
from app.workflow.library import locked
from app.workflow.llm_factory import default_grammar_for, limited
from app.workflow.nodes import NodeDeps
from app.workflow.options import RunOptions
from app.workflow.outputs import is_finished
from app.workflow.runs import (
    NewRun,
    RunInfo,
    export_run,
    graph_for,
    inspect_run,
    new_run,
    open_checkpointer,
    thread,
)
from app.workflow.writing_mode import resolve_writing
from engine.types import LLM
from planner import Outline
from retriever.types import Retriever
from writer.survey import Survey

# No max_concurrency in the run config: LangGraph's limit also holds back the checkpoint
# writes of finished sections behind running ones, and a kill would lose them. The LLM
# wrapper limits concurrency instead.
RECURSION_LIMIT = 100
# the graph's first node: a new run is recorded up to it before anything runs
FIRST_NODE = "plan_queries"


@dataclass
class RunOutcome:
    """Where a run stands after a call: finished (with its survey) or awaiting an outline review."""

    run_id: str
    status: Literal["finished", "awaiting_review"]
    output_dir: Path
    survey: Survey | None = None
    outline: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


class SurveyWorkflow:
    """Runs surveys with one LLM over one retriever, reporting progress to `on_event`.

    `grammar_for` builds the citation grammar for a writer's allowed ids; "auto" uses the
    engine's when `generate.constrain_citations` is on. Pass `checkpointer` to share one
    between workflows (batch mode); otherwise one is opened at settings.runs_db_path and
    :meth:`close` (or the ``with`` block) closes it.
    """

    def __init__(
        self,
        settings: Settings,
        llm: LLM,
        retriever: Retriever,
        on_event: EventSink | None = None,
        grammar_for: Callable[[list[str]], str] | Literal["auto"] | None = "auto",
        checkpointer: SqliteSaver | None = None,
        library_size: int | None = None,
    ) -> None:
        self.settings = settings
        self.writing = resolve_writing(settings, llm)
        self.llm = limited(llm, settings)
        self.retriever = locked(retriever)
        self.on_event = on_event
        self._grammar_for = grammar_for
        self._owns_checkpointer = checkpointer is None
        self.checkpointer = checkpointer or open_checkpointer(settings.runs_db_path)
        self.library_size = library_size

    def close(self) -> None:
        """Close the checkpoint database if this workflow opened it."""
        if self._owns_checkpointer:
            self.checkpointer.conn.close()

    def __enter__(self) -> SurveyWorkflow:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self, topic: str | NewRun, run_id: str | None = None, output_dir: Path | None = None) -> RunOutcome:
        """Start a new run on `topic` (see :meth:`create`); returns when it finishes or waits
        for an outline review."""
        run_id = self.create(topic, run_id, output_dir)
        return self._invoke(run_id, None, fresh=True)

    def create(self, topic: str | NewRun, run_id: str | None = None, output_dir: Path | None = None) -> str:
        """Record a new run on `topic` without running it; returns its id. From then on the
        run can be resumed (:meth:`resume`), so an interface announces the id after this.
        `topic`: a :class:`NewRun` (its topic checked and its id given by ``new_run``), or a
        plain topic, checked here by ``new_run`` (TopicError when it is empty or too long)."""
        if isinstance(topic, NewRun):
            if run_id not in (None, topic.run_id):
                raise ValueError(f"the new run has the id {topic.run_id!r}; pass no other run_id")
            run = topic
        else:
            run = new_run(topic, run_id)
        topic, run_id = run.topic, run.run_id
        if self.checkpointer.get_tuple(thread(run_id)) is not None:
            raise WorkflowError(f"a run with id {run_id!r} exists already; resume it with --resume {run_id}")
        folder = Path(output_dir) if output_dir else self.settings.outputs_dir / run_id
        options = RunOptions.from_settings(self.settings, folder, self.writing)
        state = {"run_id": run_id, "topic": topic, "options": options.to_json(), "output_dir": str(folder)}
        config = {**thread(run_id), "recursion_limit": RECURSION_LIMIT}
        emitter = EventEmitter(run_id, self.on_event)
        graph = graph_for(self.checkpointer)
        graph.invoke(state, config, context=self._deps(emitter), durability="sync", interrupt_before=[FIRST_NODE])
        return run_id

    def resume(self, run_id: str, outline: dict[str, Any] | None = None) -> RunOutcome:
        """Continue a stopped run, or one waiting for review (`outline`: the edited outline;
        None keeps the planned one). Finished sections are not written again."""
        info = self.inspect(run_id)
        if info.ended:
            if info.status != "finished":  # at its end but its files are gone: write them again
                export_run(self.checkpointer, run_id)
            return self._outcome(run_id, 0.0)
        if info.status == "awaiting_review":
            return self._invoke(run_id, Command(resume=validate_outline(info.outline if outline is None else outline)))
        # a run created (see create) and not yet begun starts rather than resumes
        return self._invoke(run_id, None, fresh=info.next_nodes == (FIRST_NODE,))

    def review(self, run_id: str, outline: dict[str, Any]) -> RunOutcome:
        """Continue a run waiting for its outline review with the edited `outline`; raises
        :class:`OutlineEditError` (the run still waiting) when the edit does not validate."""
        info = self.inspect(run_id)
        if info.status != "awaiting_review":
            raise WorkflowError(f"run {run_id} is not waiting for an outline review ({info.status})")
        return self._invoke(run_id, Command(resume=validate_outline(outline)))

    def pending(self, run_id: str) -> RunOutcome | None:
        """A run waiting for its outline review as an outcome (None for any other run), so
        an interface can take up the review of a run it resumes."""
        info = self.inspect(run_id)
        if info.status != "awaiting_review":
            return None
        return RunOutcome(run_id, "awaiting_review", info.output_dir, outline=info.outline)

    def inspect(self, run_id: str) -> RunInfo:
        """Where a stored run stands; raises :class:`RunNotFoundError` for an unknown id."""
        return inspect_run(self.checkpointer, run_id, self.settings.runs_db_path)

    def _deps(self, emitter: EventEmitter) -> NodeDeps:
        grammar_for = self._grammar_for
        if grammar_for == "auto":
            grammar_for = default_grammar_for(self.settings, emitter)
        retrieval = self.settings.retrieval
        return NodeDeps(
            self.llm,
            self.retriever,
            emitter,
            grammar_for,
            self.library_size,
            retrieval.rrf_k,
            retrieval.expansion.to_expansion(),
        )

    def _invoke(self, run_id: str, graph_input: Any, fresh: bool = False) -> RunOutcome:
        emitter = EventEmitter(run_id, self.on_event)
        emitter.emit("run_started", message="" if fresh else "resumed")
        started = time.perf_counter()
        config = {**thread(run_id), "recursion_limit": RECURSION_LIMIT}
        try:
            # "sync": every checkpoint and every finished task's writes are on disk before the
            # next step starts, so a kill at any moment loses at most the work in flight.
            graph_for(self.checkpointer).invoke(graph_input, config, context=self._deps(emitter), durability="sync")
        except Exception as error:
            if not is_user_error(error) and not isinstance(error, ConnectionError | TimeoutError | OSError):
                raise
            message = (
                f"run {run_id} stopped: {error}. Finished work is saved; "
                f"continue with `cpmsurvey generate --resume {run_id}`"
            )
            emitter.emit("run_failed", message=message)
            raise RunFailedError(message) from error
        outcome = self._outcome(run_id, time.perf_counter() - started)
        if outcome.status == "finished":
            emitter.emit("run_finished", message=str(outcome.output_dir), output_dir=str(outcome.output_dir))
        return outcome

    def _outcome(self, run_id: str, seconds: float) -> RunOutcome:
        snapshot = graph_for(self.checkpointer).get_state(thread(run_id))
        values = snapshot.values
        folder = Path(values["output_dir"])
        if any(task.interrupts for task in snapshot.tasks):
            return RunOutcome(run_id, "awaiting_review", folder, outline=values["outline"], seconds=seconds)
        if not is_finished(folder):
            raise WorkflowError(f"run {run_id} finished but {folder}/survey.json is missing; resume it to rewrite")
        # survey.json as assemble wrote it: the survey is built from the state once, in assemble
        survey = Survey.from_json((folder / "survey.json").read_text(encoding="utf-8"))
        warnings = values.get("warnings", [])
        return RunOutcome(run_id, "finished", folder, survey=survey, warnings=warnings, seconds=seconds)


def validate_outline(outline: Any) -> dict[str, Any]:
    """An edited outline as a plain dict; raises :class:`OutlineEditError` naming the first problem."""
    try:
        parsed = Outline.model_validate(outline)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the outline"
        raise OutlineEditError(f"the edited outline is not valid: {where}: {first['msg']}") from None
    if not parsed.sections:
        raise OutlineEditError("the edited outline has no sections; keep at least one")
    if any(not section.title.strip() for section in parsed.sections):
        raise OutlineEditError("every section of the edited outline needs a title")
    return parsed.model_dump()
