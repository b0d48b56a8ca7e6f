"""The survey workflow and its run API: the one door every interface (CLI, batch, UI) uses.

Start, resume, review and inspect runs through :class:`SurveyWorkflow`; list them with
:func:`list_runs`; progress arrives as :class:`Event` values at the caller's
:data:`EventSink`. The graph, its state and its nodes are internal to this package.
"""

from app.workflow.api import (
    OutlineEditError,
    RunFailedError,
    RunInfo,
    RunNotFoundError,
    RunOutcome,
    SurveyWorkflow,
    WorkflowError,
    inspect_run,
    list_runs,
    new_run_id,
    open_checkpointer,
    validate_outline,
)
from app.workflow.events import Event, EventKind, EventSink
from app.workflow.library import open_library
from app.workflow.llm_factory import build_llm
from app.workflow.outputs import OUTPUT_FILES

__all__ = [
    "OUTPUT_FILES",
    "Event",
    "EventKind",
    "EventSink",
    "OutlineEditError",
    "RunFailedError",
    "RunInfo",
    "RunNotFoundError",
    "RunOutcome",
    "SurveyWorkflow",
    "WorkflowError",
    "build_llm",
    "inspect_run",
    "list_runs",
    "new_run_id",
    "open_checkpointer",
    "open_library",
    "validate_outline",
]
