"""What every CLI command shares: the global options and the effective settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import typer

from app.settings import LoadedSettings, Settings, load_settings, parse_cli_overrides


@dataclass
class CLIState:
    """Global options of one invocation, set by the root callback."""

    config_file: Path | None = None
    overrides: list[str] = field(default_factory=list)
    verbose: int = 0


def load_for_command(ctx: typer.Context, **flag_values: Any) -> LoadedSettings:
    """Effective settings for a command: ``--set`` overrides plus the command's own flags.

    ``flag_values`` maps dotted setting keys to flag values; None means the flag was not
    given and the lower layers decide.
    """
    state: CLIState = ctx.find_root().obj or CLIState()
    overrides = parse_cli_overrides(state.overrides)
    overrides.update({key: value for key, value in flag_values.items() if value is not None})
    loaded = load_settings(config_file=state.config_file, cli_overrides=overrides)
    for note in loaded.deprecations:
        typer.echo(f"warning: {note}", err=True)
    return loaded


def settings_for(ctx: typer.Context, **flag_values: Any) -> Settings:
    """Shorthand for :func:`load_for_command` when the sources are not needed."""
    return load_for_command(ctx, **flag_values).settings


def parse_date_flag(value: str | None, flag: str) -> date | None:
    """A YYYY-MM-DD flag value as a date (None when not given); anything else is a usage error naming `flag`."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD", param_hint=flag) from None
