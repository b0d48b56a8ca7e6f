"""`cpmsurvey config`: the effective settings and where each value came from."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from app.interfaces.cli.context import load_for_command
from app.settings import effective_values


def config(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Print the effective settings, each with its source (default, file, variable, flag)."""
    loaded = load_for_command(ctx)
    values = effective_values(loaded.settings)
    if as_json:
        rows = {key: {"value": values[key], "source": loaded.sources[key]} for key in values}
        typer.echo(
            json.dumps(
                {"config_file": str(loaded.config_file) if loaded.config_file else None, "settings": rows}, indent=2
            )
        )
        return
    console = Console()
    title = f"config file: {loaded.config_file}" if loaded.config_file else "config file: none found"
    table = Table(title=title, title_justify="left")
    table.add_column("setting")
    table.add_column("value", overflow="fold")
    table.add_column("source")
    for key in sorted(values):
        table.add_row(key, str(values[key]), loaded.sources[key])
    console.print(table)
