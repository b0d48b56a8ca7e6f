"""The survey workflow and its run API: the one door every interface (CLI, batch, UI) uses
(docs/ARCHITECTURE.md section 6).

Prepare the paper library with :func:`prepare_library`; start, review, resume and inspect
runs through :class:`SurveyWorkflow`; list, load, export and delete stored runs with the
functions below. Progress arrives as :class:`Event` values at the caller's
:data:`EventSink`. The graph, its state and its nodes are internal to this package.

Names load on first use (PEP 562): an interface that imports one light name, such as
Event, does not pay for LangGraph, the planner and the writers at start-up.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> the module that defines it
_EXPORTS = {
    "RunOutcome": "app.workflow.api",
    "SurveyWorkflow": "app.workflow.api",
    "validate_outline": "app.workflow.api",
    "EmptyRetrievalError": "app.workflow.errors",
    "OUR_PACKAGES": "app.workflow.errors",
    "OutlineEditError": "app.workflow.errors",
    "RunFailedError": "app.workflow.errors",
    "RunNotFoundError": "app.workflow.errors",
    "WorkflowError": "app.workflow.errors",
    "is_user_error": "app.workflow.errors",
    "Event": "app.workflow.events",
    "EventKind": "app.workflow.events",
    "EventSink": "app.workflow.events",
    "LIBRARY_EVENTS": "app.workflow.library",
    "open_library": "app.workflow.library",
    "prepare_library": "app.workflow.library",
    "ConcurrencyLimitedLLM": "app.workflow.llm_factory",
    "build_llm": "app.workflow.llm_factory",
    "limited": "app.workflow.llm_factory",
    "llm_concurrency": "app.workflow.llm_factory",
    "RunOptions": "app.workflow.options",
    "resume_overrides": "app.workflow.options",
    "OUTLINE_REVIEW_FILE": "app.workflow.outputs",
    "OUTPUT_FILES": "app.workflow.outputs",
    "is_finished": "app.workflow.outputs",
    "write_atomically": "app.workflow.outputs",
    "NewRun": "app.workflow.runs",
    "RunInfo": "app.workflow.runs",
    "close_checkpointer": "app.workflow.runs",
    "delete_run": "app.workflow.runs",
    "export_run": "app.workflow.runs",
    "inspect_run": "app.workflow.runs",
    "list_runs": "app.workflow.runs",
    "load_survey": "app.workflow.runs",
    "new_run": "app.workflow.runs",
    "open_checkpointer": "app.workflow.runs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'app.workflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
