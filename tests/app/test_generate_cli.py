"""`cpmsurvey generate` and `batch` as a user runs them: one-line errors, outline editing."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from app.commands.generate_cmd import edit_outline
from app.workflow import OutlineEditError


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPMSURVEY_")}
    env.update(XDG_CONFIG_HOME=str(cwd / "xdg"), CPMSURVEY_DATA_DIR=str(cwd / "data"))
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("generate", "   "), "the topic is empty"),
        (("generate", "--resume", "no-such-run"), "no run with id 'no-such-run'"),
    ],
)
def test_bad_input_is_a_one_line_error(tmp_path, args, expected):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], result.stderr


def test_generate_needs_a_topic_or_resume(tmp_path):
    result = run_cli("generate", cwd=tmp_path)
    assert result.returncode == 2 and "--resume" in result.stderr


EDITOR = """
import json, sys
path = sys.argv[1]
outline = json.load(open(path))
outline["sections"] = outline["sections"][:1]
outline["sections"][0]["title"] = "Edited"
json.dump(outline, open(path, "w"))
"""


def test_outline_review_round_trips_through_the_editor(tmp_path, monkeypatch, good_outline):
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    edited = edit_outline(good_outline, tmp_path / "run", Console(file=io.StringIO()))
    assert [s["title"] for s in edited["sections"]] == ["Edited"]
    assert json.loads((tmp_path / "run" / "outline.review.json").read_text())["sections"][0]["title"] == "Edited"


def test_an_invalid_edit_is_refused_with_the_reason(tmp_path, monkeypatch, good_outline):
    script = tmp_path / "editor.py"
    script.write_text('import sys\nopen(sys.argv[1], \'w\').write(\'{"title": "x", "sections": []}\')\n')
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.setattr("typer.confirm", lambda *args, **kwargs: False)
    with pytest.raises(OutlineEditError, match="no sections"):
        edit_outline(good_outline, tmp_path / "run", Console(file=io.StringIO()))
