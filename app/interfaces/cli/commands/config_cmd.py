"""`cpmsurvey config`: the effective settings and where each value came from."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from app.interfaces.cli.context import load_for_command
from app.settings import effective_values, setting_help


def config(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    explain: bool = typer.Option(False, "--explain", help="Say what each setting does, too."),
) -> None:
    """Print the effective settings, each with its source (default, file, variable, flag)."""
    loaded = load_for_command(ctx)
    values = effective_values(loaded.settings)
    meaning = setting_help() if explain else {}
    if as_json:
        rows = {key: {"value": values[key], "source": loaded.sources[key]} for key in values}
        for key, text in meaning.items():
            rows[key]["help"] = text
        typer.echo(
            json.dumps(
                {"config_file": str(loaded.config_file) if loaded.config_file else None, "settings": rows}, indent=2
            )
        )
        return
    console = Console()
    title = f"config file: {loaded.config_file}" if loaded.config_file else "config file: none found"
    caption = None if explain else "cpmsurvey config --explain: what each setting does"
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    table.add_column("setting", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("source", overflow="fold")
    if explain:  # the help texts are long: they take the width the other columns leave
        table.add_column("what it does", overflow="fold", ratio=1)
    for key in sorted(values):
        table.add_row(key, str(values[key]), loaded.sources[key], *([meaning[key]] if explain else []))
    console.print(table)
