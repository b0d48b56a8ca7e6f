"""`cpmsurvey index`: ingest papers from a source, embed what is new, bring the index up to date."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from app.interfaces.cli.context import parse_date_flag, settings_for
from app.interfaces.cli.stopping import stop_promptly_on_signals
from app.workflow import open_library

# every batch of papers and chunk of vectors is committed as it is done
INTERRUPTED = "interrupted; what was ingested and embedded is kept. Run the same command again to go on"


def index(
    ctx: typer.Context,
    jsonl: list[Path] = typer.Option([], "--jsonl", help="A JSONL or JSONL.gz corpus (id, title, abstract, ...)."),
    arxiv_query: str | None = typer.Option(None, "--arxiv-query", help="Fetch papers matching this arXiv query."),
    arxiv_ids: list[str] = typer.Option([], "--arxiv-ids", help="Fetch these arXiv ids (repeat or comma-separate)."),
    max_results: int = typer.Option(200, "--max-results", min=1, help="At most this many papers per arXiv query."),
    oai_snapshot: Path | None = typer.Option(
        None, "--oai-snapshot", help="The arXiv OAI metadata snapshot (JSON lines)."
    ),
    category: list[str] = typer.Option(
        [], "--category", help="With --oai-snapshot: keep these categories (cs.CL, or an archive: cs)."
    ),
    date_from: str | None = typer.Option(
        None, "--from", help="With --oai-snapshot: first submitted on/after YYYY-MM-DD."
    ),
    date_to: str | None = typer.Option(None, "--to", help="With --oai-snapshot: first submitted on/before YYYY-MM-DD."),
    no_embed: bool = typer.Option(False, "--no-embed", help="Only ingest; embed and index later."),
) -> None:
    """Ingest papers, embed the new ones and update the search index. Re-running adds what is new;
    an interrupted run resumes."""
    settings = settings_for(ctx)
    console = Console(stderr=True)
    ids = [part.strip() for value in arxiv_ids for part in value.split(",") if part.strip()]
    start, end = parse_date_flag(date_from, "--from"), parse_date_flag(date_to, "--to")
    if (category or start or end) and oai_snapshot is None:
        raise typer.BadParameter("--category, --from and --to filter --oai-snapshot", param_hint="--category")
    stop_promptly_on_signals(lambda _: INTERRUPTED)
    library = open_library(settings)
    try:
        reports = []
        for path in jsonl:
            with console.status(f"ingesting {path}"):
                reports.append(library.ingest_jsonl(path))
        if oai_snapshot is not None:
            with console.status(f"streaming {oai_snapshot}") as status:
                reports.append(
                    library.ingest_oai_snapshot(
                        oai_snapshot,
                        category,
                        start,
                        end,
                        on_batch=lambda r: status.update(f"streaming {oai_snapshot}: {r.lines_read:,} lines"),
                    )
                )
        if arxiv_query or ids:
            with console.status("fetching from arXiv (one request every 3 s)"):
                if arxiv_query:
                    reports.append(library.ingest_arxiv(query=arxiv_query, max_results=max_results))
                if ids:
                    reports.append(library.ingest_arxiv(ids=ids))
        for report in reports:
            typer.echo(report.summary(), err=True)
        if not no_embed:
            update = library.update_index(show_progress=True)
            typer.echo(update.summary(), err=True)
        stats = library.stats()
        typer.echo(
            f"library: {stats['papers']:,} papers ({stats['first_date']} to {stats['last_date']}) in "
            f"{settings.store_path}; {stats['unembedded']:,} not yet embedded",
            err=True,
        )
    finally:
        library.close()
