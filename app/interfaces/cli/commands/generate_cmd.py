"""`cpmsurvey generate TOPIC`: write one survey, or finish a stopped run with --resume ID."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import typer
from rich.console import Console

from app.interfaces.cli.context import parse_date_flag, settings_for
from app.interfaces.cli.progress_view import ProgressView
from app.interfaces.cli.stopping import stop_promptly_on_signals

if TYPE_CHECKING:
    from app.workflow import RunOutcome

MAX_REVIEW_ATTEMPTS = 3


def edit_outline(outline: dict[str, Any], folder: Path, console: Console) -> dict[str, Any]:
    """Open the outline as JSON in $EDITOR until it validates (a few attempts)."""
    from app.workflow import OUTLINE_REVIEW_FILE, OutlineEditError, validate_outline

    path = folder / OUTLINE_REVIEW_FILE
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(outline, indent=2, ensure_ascii=False), encoding="utf-8")
    for attempt in range(MAX_REVIEW_ATTEMPTS):
        console.print(f"opening the outline in your editor: {path}")
        click.edit(filename=str(path))
        try:
            return validate_outline(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as error:
            problem = f"the outline file is not valid JSON: {error.msg} at line {error.lineno}"
        except OutlineEditError as error:
            problem = str(error)
        console.print(f"[red]{problem}[/]")
        if attempt + 1 < MAX_REVIEW_ATTEMPTS and not typer.confirm("edit it again?", default=True):
            break
    raise OutlineEditError(f"{problem}; fix {path} and resume the run with --resume")


def filter_flags(date_from: str | None, date_to: str | None, categories: list[str]) -> dict[str, Any]:
    """Settings overrides for --from, --to and --category (None: not given); a malformed date
    is a usage error naming the flag."""
    start, end = parse_date_flag(date_from, "--from"), parse_date_flag(date_to, "--to")
    if start and end and start > end:
        raise typer.BadParameter(f"--from {start} is after --to {end}", param_hint="--from")
    return {
        "generate.date_from": start.isoformat() if start else None,
        "generate.date_to": end.isoformat() if end else None,
        "generate.categories": list(categories) or None,
    }


def counted(n: int, noun: str) -> str:
    """'1 warning', '2 warnings', '0 warnings'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def report(outcome: RunOutcome, console: Console) -> None:
    """One short summary of a finished run."""
    survey = outcome.survey
    counts = [
        counted(len(survey.sections), "section"),
        counted(survey.word_count(), "word"),
        f"{counted(len(survey.citations), 'citation')} of {counted(len(survey.references), 'paper')}",
    ]
    console.print(f"[bold]{survey.title}[/]: {', '.join(counts)}; {counted(len(outcome.warnings), 'warning')}")
    console.print(f"written to {outcome.output_dir}/ (survey.md, survey.bib, survey.tex, survey.json)")


def generate(
    ctx: typer.Context,
    topic: str | None = typer.Argument(None, help="What the survey is about, e.g. 'retrieval-augmented generation'."),
    model: str | None = typer.Option(None, "--model", help="Model: 'embedded', an HF dir, a .gguf, a hub id."),
    backend: str | None = typer.Option(None, "--backend", help="'local' (our engine) or 'openai' (a server)."),
    corpus: Path | None = typer.Option(None, "--corpus", help="JSONL(.gz) papers to ingest first (once)."),
    sections: int | None = typer.Option(None, "--sections", help="Number of body sections."),
    words: int | None = typer.Option(None, "--words", help="Words per section."),
    review: bool = typer.Option(False, "--review", help="Edit the planned outline in $EDITOR before writing."),
    check_support: bool = typer.Option(False, "--check-support", help="Check cited sentences against abstracts."),
    fetch: bool = typer.Option(True, "--fetch/--no-fetch", help="Without --corpus, fetch the topic's papers."),
    output: Path | None = typer.Option(None, "--output", help="Folder for the outputs (default: data_dir/outputs/ID)."),
    resume: str | None = typer.Option(None, "--resume", help="Finish the stopped run with this id."),
    date_from: str | None = typer.Option(None, "--from", help="Only papers published on/after YYYY-MM-DD."),
    date_to: str | None = typer.Option(None, "--to", help="Only papers published on/before YYYY-MM-DD."),
    category: list[str] = typer.Option([], "--category", help="Only papers in these arXiv categories (repeatable)."),
) -> None:
    """Write a survey on TOPIC with verifiable citations (or finish a stopped run)."""
    # Imported here so that `cpmsurvey --help` and other commands stay quick.
    from app.workflow import SurveyWorkflow, build_llm, close_checkpointer, prepare_library

    console = Console(stderr=True)
    flags = {
        "llm.model": model,
        "llm.backend": backend,
        "corpus": str(corpus) if corpus else None,
        "generate.sections": sections,
        "generate.words_per_section": words,
        "generate.review_outline": True if review else None,
        "generate.check_support": True if check_support else None,
        **filter_flags(date_from, date_to, category),
    }
    if resume is None and topic is None:
        raise typer.BadParameter("give a TOPIC, or --resume ID to finish a stopped run", param_hint="TOPIC")
    farewell = ["interrupted before the run was recorded; papers ingested or embedded are kept. Run the command again"]
    stop_promptly_on_signals(lambda _: farewell[0])
    settings, checkpointer, topic, run_id, new = _open_run(ctx, topic, resume, flags)
    resume_hint = f"`cpmsurvey generate --resume {run_id}`"
    saved = f"interrupted; finished work is saved. Continue with {resume_hint}"
    if resume is not None:
        farewell[0] = saved
    with ProgressView(console) as view:
        library = prepare_library(settings, [(topic, settings)], fetch and resume is None, view)
    with console.status(f"loading the model {settings.llm.model!r} ({settings.llm.backend}) ..."):
        llm = build_llm(settings)
    flow = SurveyWorkflow(settings, llm, library, checkpointer=checkpointer, library_size=library.stats()["papers"])
    try:
        if resume is None:  # announced once recorded: from then on it resumes
            flow.create(new, output_dir=output)
            farewell[0] = saved
        console.print(f"run id: [bold]{run_id}[/] (if stopped, continue with {resume_hint})")
        outcome = _run(flow, run_id, console)
    finally:
        close_checkpointer(checkpointer)
        library.close()
    report(outcome, console)
    typer.echo(str(outcome.output_dir))


def _open_run(ctx: typer.Context, topic: str | None, resume: str | None, flags: dict[str, Any]):
    """Settings, checkpointer, topic, run id and NewRun (None when resuming) of a new run, or
    of the stopped run `resume` (its recorded options, unless a flag says otherwise). A bad
    topic is refused here, before the library or the model is touched."""
    from app.workflow import inspect_run, new_run, open_checkpointer, resume_overrides

    if resume is not None:
        base = settings_for(ctx)
        checkpointer = open_checkpointer(base.runs_db_path)
        info = inspect_run(checkpointer, resume, base.runs_db_path)
        return settings_for(ctx, **resume_overrides(info.options, flags)), checkpointer, info.topic, resume, None
    run = new_run(topic)
    settings = settings_for(ctx, **flags)
    return settings, open_checkpointer(settings.runs_db_path), run.topic, run.run_id, run


def _run(flow, run_id: str, console: Console) -> RunOutcome:
    """Run the recorded run to its end, reviewing its outline in $EDITOR as long as it waits for that."""
    with ProgressView(console) as view:
        flow.on_event = view
        outcome = flow.pending(run_id) or flow.resume(run_id)
    while outcome.status == "awaiting_review":
        edited = edit_outline(outcome.outline, outcome.output_dir, console)
        with ProgressView(console) as view:
            flow.on_event = view
            outcome = flow.review(run_id, edited)
    return outcome
