"""`cpmsurvey search`: hybrid (dense + BM25) search of the paper library."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from app.interfaces.cli.context import parse_date_flag, settings_for
from app.interfaces.cli.terminal import plain_cell, printable
from app.workflow import open_library
from retriever.types import SearchFilters


def search(
    ctx: typer.Context,
    queries: list[str] = typer.Argument(
        ..., metavar="QUERY...", help="One or more queries; several are fused by reciprocal rank."
    ),
    k: int = typer.Option(10, "-k", "--top", min=1, help="How many papers to show."),
    date_from: str | None = typer.Option(None, "--from", help="Published on/after YYYY-MM-DD."),
    date_to: str | None = typer.Option(None, "--to", help="Published on/before YYYY-MM-DD."),
    category: list[str] = typer.Option([], "--category", help="Only these arXiv categories (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines instead of a table."),
) -> None:
    """Search the library: dense embeddings and BM25, fused by reciprocal rank."""
    settings = settings_for(ctx)
    filters = SearchFilters(
        date_from=parse_date_flag(date_from, "--from"),
        date_to=parse_date_flag(date_to, "--to"),
        categories=tuple(category),
    )
    library = open_library(settings)
    try:
        if library.store.count() == 0:
            typer.echo(f"the library at {settings.store_path} is empty; add papers with `cpmsurvey index`", err=True)
            raise typer.Exit(1)
        hits = library.search_many(queries, k=k, filters=filters)
    finally:
        library.close()
    if as_json:
        for hit in hits:
            typer.echo(json.dumps({**hit.paper.to_dict(), "score": hit.score, "ranks": hit.ranks}, ensure_ascii=False))
        return
    table = Table(title=plain_cell(f"{len(hits)} papers for {printable(' | '.join(queries))!r}"), title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("arXiv id")
    table.add_column("date")
    table.add_column("title", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("ranks")
    for number, hit in enumerate(hits, start=1):
        ranks = ", ".join(f"{name} {rank}" for name, rank in sorted(hit.ranks.items()))
        published = hit.paper.published.isoformat() if hit.paper.published else ""
        title = plain_cell(hit.paper.title)
        table.add_row(str(number), hit.paper.arxiv_id, published, title, f"{hit.score:.4f}", ranks)
    Console().print(table)
