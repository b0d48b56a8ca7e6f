"""Survey runs as background jobs: what the New survey and History pages start.

A run's job key is ``run:<run id>``; its work prepares the library, then starts or resumes
the run through the workflow API with the job as the event sink, so the page shows each
event as it arrives, whichever session started the run.
"""

from __future__ import annotations

from typing import Any

from app.interfaces.ui.jobs import Job, JobRegistry
from app.settings import Settings
from app.workflow import SurveyWorkflow, new_run, prepare_library

RUN_PREFIX = "run:"


class InputError(ValueError):
    """Something typed into a form cannot be used; the message says what to change."""


def run_key(run_id: str) -> str:
    """The registry key of a run's job."""
    return RUN_PREFIX + run_id


def run_job(registry: JobRegistry, run_id: str) -> Job | None:
    """The latest job of a run in this process, or None (a run of the CLI, or before a restart)."""
    return registry.get(run_key(run_id))


def _run(settings: Settings, llm, report, call, fetch_topic: str | None = None):
    library = prepare_library(
        settings, [(fetch_topic, settings)] if fetch_topic else [], fetch_topic is not None, report
    )
    try:
        with SurveyWorkflow(settings, llm, library, on_event=report, library_size=library.stats()["papers"]) as flow:
            return call(flow)
    finally:
        library.close()


def start_survey(registry: JobRegistry, settings: Settings, llm, topic: str, fetch: bool) -> str:
    """Start writing a survey on `topic` in the background; returns the new run's id.
    `fetch`: fetch the topic's papers from arXiv first (otherwise the library, or
    settings.corpus, is used as it is)."""
    run = new_run(topic)  # an empty or paragraph-long topic is refused here, before anything starts
    registry.start(
        run_key(run.run_id),
        run.topic,
        lambda report: _run(settings, llm, report, lambda flow: flow.start(run), run.topic if fetch else None),
    )
    return run.run_id


def resume_survey(
    registry: JobRegistry, settings: Settings, llm, run_id: str, topic: str, outline: dict[str, Any] | None = None
) -> None:
    """Continue a stopped run, or one waiting for review with the (edited) `outline`."""
    registry.start(
        run_key(run_id), topic, lambda report: _run(settings, llm, report, lambda flow: flow.resume(run_id, outline))
    )
