"""The public workflow API: start, review and resume survey runs. The CLI and the UI both
call this module; neither touches the graph directly.

A run is a LangGraph thread in the SQLite checkpoint database (settings.runs_db_path),
identified by its run id. Its outputs go to one folder (settings.outputs_dir/<run id>
unless the caller names another).
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command
from pydantic import ValidationError

from app.settings import Settings
from app.workflow.events import EventEmitter, EventSink
from app.workflow.graph import GraphDeps, build_graph, survey_from_state
from app.workflow.outputs import is_finished
from engine.types import LLM
from planner import Outline, validate_topic
from retriever.types import Hit, Paper, Retriever, SearchFilters
from writer.survey import Survey

log = logging.getLogger(__name__)

OUR_PACKAGES = frozenset({"app", "planner", "retriever", "writer", "engine", "kernels", "eval"})


class WorkflowError(RuntimeError):
    """A run could not be started, resumed or finished; the message says what to do."""


class RunNotFoundError(WorkflowError):
    """No run with the given id exists in the checkpoint database."""


class RunFailedError(WorkflowError):
    """A run stopped on an error; its finished work is saved and it can be resumed."""


class OutlineEditError(WorkflowError):
    """An edited outline does not validate."""


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


@dataclass
class RunInfo:
    """A stored run as the checkpoint database knows it."""

    run_id: str
    topic: str
    options: dict[str, Any]
    output_dir: Path
    status: Literal["finished", "awaiting_review", "interrupted"]
    next_nodes: tuple[str, ...] = ()
    outline: dict[str, Any] | None = None


def new_run_id(topic: str) -> str:
    """A readable, unique run id: UTC time, a slug of the topic, random hex."""
    slug = re.sub(r"[^a-z0-9]+", "-", topic.lower()).strip("-")[:40].strip("-") or "survey"
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{slug}-{secrets.token_hex(3)}"


def open_checkpointer(path: Path) -> SqliteSaver:
    """The SQLite checkpointer of all runs; one per process is enough (it is thread-safe)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    # WAL lets the UI read run history while a CLI run writes checkpoints.
    connection.execute("PRAGMA journal_mode=WAL")
    return SqliteSaver(connection)


def run_options(settings: Settings, output_dir: Path) -> dict[str, Any]:
    """What a run records at its start so that a resume writes the same survey."""
    options = settings.generate.model_dump(mode="json")
    options.update(
        model=settings.llm.model,
        backend=settings.llm.backend,
        corpus=settings.corpus,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        output_dir=str(output_dir),
    )
    return options


class LockedRetriever:
    """Serialises calls to a retriever: section workers may run in threads, and a SQLite- and
    FAISS-backed library need not be thread-safe."""

    def __init__(self, retriever: Retriever) -> None:
        self._retriever = retriever
        self._lock = threading.Lock()

    def search(self, query: str, k: int = 20, filters: SearchFilters | None = None) -> list[Hit]:
        with self._lock:
            return self._retriever.search(query, k, filters)

    def search_many(self, queries: Sequence[str], k: int = 100, filters: SearchFilters | None = None) -> list[Hit]:
        with self._lock:
            return self._retriever.search_many(queries, k, filters)

    def get(self, arxiv_ids: Sequence[str]) -> list[Paper]:
        with self._lock:
            return self._retriever.get(arxiv_ids)


def llm_concurrency(settings: Settings) -> int:
    """Calls to have in flight at once: one on the local engine, llm.max_concurrency on a server."""
    return settings.llm.max_concurrency if settings.llm.backend == "openai" else 1


class ConcurrencyLimitedLLM:
    """At most `limit` calls of an LLM at once, across every thread of the process that
    shares this wrapper: one on the local engine (which works on one request at a time),
    llm.max_concurrency against a server."""

    def __init__(self, llm: LLM, limit: int) -> None:
        self._llm = llm
        self._slots = threading.BoundedSemaphore(limit)
        self.name = llm.name

    @property
    def context_window(self) -> int:
        return self._llm.context_window

    def count_tokens(self, text: str) -> int:
        return self._llm.count_tokens(text)

    def chat(self, messages, params, schema=None):
        with self._slots:
            return self._llm.chat(messages, params, schema=schema)

    def stream(self, messages, params, schema=None, grammar=None):
        with self._slots:
            yield from self._llm.stream(messages, params, schema=schema, grammar=grammar)

    def batch_chat(self, conversations, params, schema=None, grammar=None):
        with self._slots:
            return self._llm.batch_chat(conversations, params, schema=schema, grammar=grammar)


def default_grammar_for(settings: Settings, emitter: EventEmitter) -> Callable[[list[str]], str] | None:
    """The citation grammar builder when constrained citations are on and the engine has one."""
    if not settings.generate.constrain_citations:
        return None
    try:
        from engine.constrained import citation_grammar
    except ImportError:
        emitter.warning("constrained citations are unavailable (engine.constrained missing); checking them afterwards")
        return None
    if not settings.generate.cite_every_paragraph:
        return citation_grammar
    return functools.partial(citation_grammar, cite_every_paragraph=True)


class SurveyWorkflow:
    """Runs surveys with one LLM over one retriever, reporting progress to `on_event`.

    `grammar_for` builds the citation grammar for a writer's allowed ids; "auto" uses the
    engine's when `generate.constrain_citations` is on. Pass `checkpointer` to share one
    between workflows (batch mode); otherwise one is opened at settings.runs_db_path.
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
        # A batch shares one limited LLM between its runs, so the limit holds across them.
        self.llm = (
            llm if isinstance(llm, ConcurrencyLimitedLLM) else ConcurrencyLimitedLLM(llm, llm_concurrency(settings))
        )
        self.retriever = LockedRetriever(retriever)
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

    def _graph(self, run_id: str):
        emitter = EventEmitter(run_id, self.on_event)
        grammar_for = default_grammar_for(self.settings, emitter) if self._grammar_for == "auto" else self._grammar_for
        deps = GraphDeps(self.llm, self.retriever, emitter, grammar_for, self.library_size)
        return build_graph(deps, self.checkpointer), emitter

    def _config(self, run_id: str) -> dict[str, Any]:
        # No max_concurrency here: LangGraph's limit also holds back the checkpoint writes of
        # finished sections behind running ones, and a kill would lose them. The LLM wrapper
        # limits concurrency instead.
        return {"configurable": {"thread_id": run_id}, "recursion_limit": 100}

    def start(self, topic: str, run_id: str | None = None, output_dir: Path | None = None) -> RunOutcome:
        """Start a new run on `topic`; returns when it finishes or waits for an outline review."""
        topic = validate_topic(topic)
        run_id = run_id or new_run_id(topic)
        if self.checkpointer.get_tuple({"configurable": {"thread_id": run_id}}) is not None:
            raise WorkflowError(f"a run with id {run_id!r} exists already; resume it with --resume {run_id}")
        folder = Path(output_dir) if output_dir else self.settings.outputs_dir / run_id
        state = {
            "run_id": run_id,
            "topic": topic,
            "options": run_options(self.settings, folder),
            "output_dir": str(folder),
        }
        return self._invoke(run_id, state)

    def resume(self, run_id: str, outline: dict[str, Any] | None = None) -> RunOutcome:
        """Continue a stopped run, or one waiting for review (`outline`: the edited outline;
        None keeps the planned one). Finished sections are not written again."""
        info = self.inspect(run_id)
        if info.status == "finished":
            return self._outcome(run_id, 0.0)
        if info.status == "awaiting_review":
            snapshot = self._graph(run_id)[0].get_state(self._config(run_id))
            edited = outline if outline is not None else snapshot.values["outline"]
            return self._invoke(run_id, Command(resume=validate_outline(edited)))
        return self._invoke(run_id, None)

    def inspect(self, run_id: str) -> RunInfo:
        """Where a stored run stands; raises :class:`RunNotFoundError` for an unknown id."""
        return inspect_run(self.checkpointer, run_id, self.settings.runs_db_path)

    def _invoke(self, run_id: str, graph_input: Any) -> RunOutcome:
        graph, emitter = self._graph(run_id)
        emitter.emit("run_started", message="resumed" if graph_input is None else "")
        started = time.perf_counter()
        try:
            # "sync": every checkpoint and every finished task's writes are on disk before the
            # next step starts, so a kill at any moment loses at most the work in flight.
            graph.invoke(graph_input, self._config(run_id), durability="sync")
        except Exception as error:
            if type(error).__module__.split(".")[0] not in OUR_PACKAGES and not _is_connection_error(error):
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
        graph, _ = self._graph(run_id)
        snapshot = graph.get_state(self._config(run_id))
        values = snapshot.values
        folder = Path(values["output_dir"])
        if any(task.interrupts for task in snapshot.tasks):
            return RunOutcome(run_id, "awaiting_review", folder, outline=values["outline"], seconds=seconds)
        survey = survey_from_state(values)
        if not is_finished(folder):
            raise WorkflowError(f"run {run_id} finished but {folder}/survey.json is missing; resume it to rewrite")
        return RunOutcome(
            run_id, "finished", folder, survey=survey, warnings=values.get("warnings", []), seconds=seconds
        )


def inspect_run(checkpointer: SqliteSaver, run_id: str, where: Path | str = "the run database") -> RunInfo:
    """Where a stored run stands, without an LLM or a library (the CLI reads a run's
    recorded model before building one). Raises :class:`RunNotFoundError` for an unknown id."""
    graph = build_graph(GraphDeps(llm=None, retriever=None, emitter=EventEmitter(run_id)), checkpointer)
    snapshot = graph.get_state({"configurable": {"thread_id": run_id}})
    if not snapshot.values:
        raise RunNotFoundError(
            f"no run with id {run_id!r} in {where}; check the id (printed when the run started) "
            "and the data_dir setting"
        )
    values = snapshot.values
    if any(task.interrupts for task in snapshot.tasks):
        status = "awaiting_review"
    elif not snapshot.next:
        status = "finished"
    else:
        status = "interrupted"
    return RunInfo(
        run_id=run_id,
        topic=values["topic"],
        options=values["options"],
        output_dir=Path(values["output_dir"]),
        status=status,
        next_nodes=tuple(snapshot.next),
        outline=values.get("outline"),
    )


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


def _is_connection_error(error: BaseException) -> bool:
    return isinstance(error, ConnectionError | TimeoutError | OSError)
