"""The CLI as a user runs it: a real subprocess of the installed entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str, cwd: Path, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPMSURVEY_")}
    env["XDG_CONFIG_HOME"] = str(cwd / "xdg")
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def test_help_and_version(workdir):
    result = run_cli("--help", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "config" in result.stdout
    result = run_cli("--version", cwd=workdir)
    assert result.returncode == 0 and result.stdout.startswith("cpmsurvey ")


def test_every_command_has_help(workdir):
    import typer.main

    from app.interfaces.cli.main import cli

    group = typer.main.get_command(cli)
    for name in group.commands:
        result = run_cli(name, "--help", cwd=workdir)
        assert result.returncode == 0, f"{name} --help failed: {result.stderr}"
        assert "Usage" in result.stdout


def test_config_reports_sources(workdir):
    (workdir / "cpmsurvey.toml").write_text("[generate]\nsections = 5\n")
    result = run_cli(
        "--set", "llm.max_retries=9", "config", "--json", cwd=workdir, env_extra={"CPMSURVEY_LLM__TIMEOUT_S": "12.5"}
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["settings"]
    assert report["generate.sections"] == {"value": 5, "source": str(workdir / "cpmsurvey.toml")}
    assert report["llm.timeout_s"] == {"value": 12.5, "source": "CPMSURVEY_LLM__TIMEOUT_S"}
    assert report["llm.max_retries"] == {"value": 9, "source": "command line"}
    assert report["llm.backend"]["source"] == "default"


def test_malformed_config_is_one_line_error(workdir):
    (workdir / "cpmsurvey.toml").write_text("sections = = 4\n")
    result = run_cli("config", cwd=workdir)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cpmsurvey.toml" in lines[0]


def test_bad_env_value_is_one_line_error(workdir):
    result = run_cli("config", cwd=workdir, env_extra={"CPMSURVEY_GENERATE__SECTIONS": "-3"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "CPMSURVEY_GENERATE__SECTIONS" in lines[0] and "generate.sections" in lines[0]


def test_the_run_summary_counts_in_words():
    from app.interfaces.cli.commands.generate_cmd import counted

    assert [counted(n, "warning") for n in (0, 1, 2)] == ["0 warnings", "1 warning", "2 warnings"]
