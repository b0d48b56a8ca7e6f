"""Evaluations as a background job of the UI: what the Evaluate page starts.

The job (key ``eval``, one at a time per server process) runs the evaluation `cpmsurvey eval`
runs (app.interfaces.evaluation), reporting each step and each survey as a line of text, and
ends with the pipeline's summary; the report lies in the options' output folder.
"""

from __future__ import annotations

from app.interfaces.evaluation import EvalOptions, check_options, evaluate
from app.interfaces.ui.jobs import Job, JobRegistry
from app.settings import Settings

EVAL_KEY = "eval"


def evaluation_job(registry: JobRegistry) -> Job | None:
    """The latest evaluation of this server process, running or ended, or None."""
    return registry.get(EVAL_KEY)


def start_evaluation(registry: JobRegistry, settings: Settings, options: EvalOptions, judge_llm=None) -> Job:
    """Check `options` (unknown systems or topics are refused here, before anything runs),
    then evaluate in the background; raises jobs.JobBusyError while an evaluation runs."""
    check_options(options)

    def work(report):
        def progress(done: int, total: int, item) -> None:
            report(f"scoring {item.system} on {item.topic!r} ({done + 1} of {total})")

        return evaluate(settings, options, judge_llm, on_step=report, progress=progress)

    return registry.start(EVAL_KEY, f"evaluation into {options.output}", work)
