"""`cpmsurvey ui`: serve the Streamlit web app on 127.0.0.1."""

from __future__ import annotations

import typer

from app.interfaces.cli.context import CLIState, load_for_command
from app.interfaces.ui.launch import DEFAULT_PORT, HOST, serve
from app.settings import parse_cli_overrides


def ui(
    ctx: typer.Context,
    port: int = typer.Option(DEFAULT_PORT, "--port", min=1, max=65535, help="Port to serve on (127.0.0.1 only)."),
) -> None:
    """Serve the web app at http://127.0.0.1:PORT: write, review, read and manage surveys
    and the paper library in the browser. Stop it with Ctrl+C; runs in progress stop with
    it and resume later (from History)."""
    load_for_command(ctx)  # bad settings are named now, not on the first page view
    state: CLIState = ctx.find_root().obj or CLIState()
    typer.echo(f"serving cpmsurvey at http://{HOST}:{port} (Ctrl+C stops it)", err=True)
    serve(port, state.config_file, parse_cli_overrides(state.overrides))
