"""The `cpmsurvey` command line. Commands register here as their parts land."""

from __future__ import annotations

import logging
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import typer

from app.interfaces.cli.commands.batch_cmd import batch
from app.interfaces.cli.commands.chat_cmd import chat
from app.interfaces.cli.commands.config_cmd import config
from app.interfaces.cli.commands.eval_cmd import eval_command
from app.interfaces.cli.commands.generate_cmd import generate
from app.interfaces.cli.commands.index_cmd import index
from app.interfaces.cli.commands.search_cmd import search
from app.interfaces.cli.commands.ui_cmd import ui
from app.interfaces.cli.context import CLIState
from app.interfaces.cli.logging_setup import configure_logging
from app.workflow import is_user_error

log = logging.getLogger(__name__)

cli = typer.Typer(
    name="cpmsurvey",
    help="Write literature surveys with verifiable citations, on a local MiniCPM4 engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _package_version() -> str:
    try:
        return version("cpmsurvey")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"cpmsurvey {_package_version()}")
        raise typer.Exit()


@cli.callback()
def root(
    ctx: typer.Context,
    config_file: Path | None = typer.Option(
        None, "--config", help="TOML settings file (default: ./cpmsurvey.toml, then ~/.config/cpmsurvey/)."
    ),
    overrides: list[str] = typer.Option(
        [], "--set", help="Override a setting for this run: KEY=VALUE, e.g. --set llm.backend=openai."
    ),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="-v for info, -vv for debug logs."),
    show_version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Global options apply to every command."""
    configure_logging(verbose)
    ctx.obj = CLIState(config_file=config_file, overrides=list(overrides), verbose=verbose)


cli.command("config")(config)
cli.command("chat")(chat)
cli.command("index")(index)
cli.command("search")(search)
cli.command("generate")(generate)
cli.command("batch")(batch)
cli.command("eval")(eval_command)
cli.command("ui")(ui)


def main() -> None:
    """Entry point: run the CLI, turning our own errors into one-line messages."""
    try:
        cli()
    except KeyboardInterrupt:
        typer.echo("interrupted; finished work is kept (runs resume with --resume)", err=True)
        sys.exit(130)
    except Exception as error:
        if not is_user_error(error):
            raise
        log.debug("user-facing error", exc_info=True)
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)
