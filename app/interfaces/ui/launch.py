"""Serving the web app: the Streamlit command line that `cpmsurvey ui` runs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from app.interfaces.ui import APP_SCRIPT, MAX_UPLOAD_MB

HOST = "127.0.0.1"
DEFAULT_PORT = 8501


def streamlit_command(port: int = DEFAULT_PORT, host: str = HOST) -> list[str]:
    """The command that serves the app on `host`:`port`, headless: no browser opened, no
    usage statistics sent, no file watching, no tracebacks shown to the browser (errors are
    shown as messages by the pages; details go to the server's log)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--server.maxUploadSize", str(MAX_UPLOAD_MB),
        "--browser.gatherUsageStats", "false",
        "--client.showErrorDetails", "none",
        "--client.toolbarMode", "minimal",
        "--theme.base", "light",
    ]  # fmt: skip


def settings_environment(config_file: Path | None, overrides: dict[str, object]) -> dict[str, str]:
    """Environment variables that carry the CLI's --config and --set to the app's process
    (the app reads its settings as every command does: file, then CPMSURVEY_* variables)."""
    import json

    environment = {}
    if config_file is not None:
        environment["CPMSURVEY_CONFIG"] = str(Path(config_file).expanduser().resolve())
    for key, value in overrides.items():
        name = "CPMSURVEY_" + key.upper().replace(".", "__")
        environment[name] = value if isinstance(value, str) else json.dumps(value)
    return environment


def serve(port: int, config_file: Path | None = None, overrides: dict[str, object] | None = None) -> None:
    """Become the Streamlit server (exec: signals such as Ctrl+C or a service manager's
    SIGTERM reach it directly, and no orphan is left behind); does not return."""
    environment = {**os.environ, **settings_environment(config_file, overrides or {})}
    command = streamlit_command(port)
    os.execve(command[0], command, environment)
