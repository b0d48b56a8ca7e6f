"""`cpmsurvey batch FILE`: a survey per topic of a file, with a summary table; re-running
the same file into the same folder resumes the batch."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from app.interfaces.cli.commands.generate_cmd import filter_flags
from app.interfaces.cli.context import settings_for
from app.interfaces.cli.progress_view import ProgressView
from app.interfaces.cli.stopping import stop_promptly_on_signals
from app.interfaces.cli.terminal import plain_cell, printable

# the batch's manifest and every run's checkpoints are written as they change
INTERRUPTED = "interrupted; finished topics and finished work are kept. Run the same command again to resume the batch"


def batch(
    ctx: typer.Context,
    topics_file: Path = typer.Argument(..., help="Topics: a .txt file (one a line) or .jsonl with per-topic options."),
    model: str | None = typer.Option(None, "--model", help="Model: 'embedded', an HF dir, a .gguf, a hub id."),
    backend: str | None = typer.Option(None, "--backend", help="'local' (our engine) or 'openai' (a server)."),
    corpus: Path | None = typer.Option(None, "--corpus", help="JSONL(.gz) papers to ingest first (once)."),
    sections: int | None = typer.Option(None, "--sections", help="Default number of body sections."),
    words: int | None = typer.Option(None, "--words", help="Default words per section."),
    fetch: bool = typer.Option(True, "--fetch/--no-fetch", help="Without --corpus, fetch each topic's papers."),
    date_from: str | None = typer.Option(None, "--from", help="Only papers published on/after YYYY-MM-DD."),
    date_to: str | None = typer.Option(None, "--to", help="Only papers published on/before YYYY-MM-DD."),
    category: list[str] = typer.Option([], "--category", help="Only papers in these arXiv categories (repeatable)."),
    output: Path | None = typer.Option(
        None, "--output", help="Folder for the batch (default: data_dir/outputs/batch-<file name>)."
    ),
) -> None:
    """Write one survey per topic of TOPICS_FILE; run it again to resume an interrupted batch."""
    # Imported here so that `cpmsurvey --help` and other commands stay quick.
    from app.interfaces.batch import read_batch_file, run_batch, settings_for_item, shorten
    from app.workflow import build_llm, prepare_library

    console = Console(stderr=True)
    stop_promptly_on_signals(lambda _: INTERRUPTED)
    items = read_batch_file(topics_file)
    settings = settings_for(
        ctx,
        **{
            "llm.model": model,
            "llm.backend": backend,
            "corpus": str(corpus) if corpus else None,
            "generate.sections": sections,
            "generate.words_per_section": words,
            **filter_flags(date_from, date_to, category),
        },
    )
    output_root = output or settings.outputs_dir / f"batch-{topics_file.stem}"
    # each topic's own options (dates, categories) decide what is fetched for it; a bad one
    # is refused here, before any work
    topics = [(item.topic, settings_for_item(settings, item, str(topics_file))) for item in items]
    with ProgressView(console) as view:
        library = prepare_library(settings, topics, fetch, view)
    with console.status(f"loading the model {settings.llm.model!r} ({settings.llm.backend}) ..."):
        llm = build_llm(settings)
    console.print(f"{len(items)} topics into {output_root}/ (run the same command again to resume)")
    try:
        with ProgressView(console, label_runs=True) as view:
            results = run_batch(settings, items, output_root, llm, library, on_event=view, source=str(topics_file))
    finally:
        library.close()
    table = Table(title=f"batch {topics_file.name}", title_justify="left")
    for column in ("#", "topic", "status", "sections", "words", "citations", "seconds", "folder"):
        table.add_column(column, overflow="fold")
    for r in results:
        status = Text(r.status) if r.status != "failed" else Text(f"failed: {printable(shorten(r.error or ''))}", "red")
        folder = Path(r.output_dir).name if r.output_dir else ""
        topic = plain_cell(shorten(r.topic))
        table.add_row(
            str(r.index + 1), topic, status, str(r.sections), str(r.words), str(r.citations), str(r.seconds), folder
        )
    Console().print(table)
    console.print(f"summary: {output_root / 'summary.md'}")
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)
