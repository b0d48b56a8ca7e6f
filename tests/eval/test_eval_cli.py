"""`cpmsurvey eval` as a user runs it: a report from a tiny SurveyBench-shaped folder, and
one-line errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HUMAN = (
    "# Human\n\n## 1 Intro\n\nWidgets matter [1].\n\n## References\n\n"
    "[1] Widget learning with deep networks. arXiv:2403.00001\n"
)
SYSTEM = "# Ours\n\n## Intro\n\nWidgets matter a lot [1].\n\n## References\n\n[1] Widget learning with deep networks\n"


def _bench(root: Path) -> Path:
    for system, text in (("HumanSurvey", HUMAN), ("AutoSurvey", SYSTEM)):
        (root / system).mkdir(parents=True)
        (root / system / "Widgets.md").write_text(text)
    (root / "HumanSurvey" / "outlines.json").write_text(json.dumps([{"topic": "Widgets", "outline": "1 Intro"}]))
    return root


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPMSURVEY_")}
    env.update(XDG_CONFIG_HOME=str(cwd / "xdg"), CPMSURVEY_DATA_DIR=str(cwd / "data"), HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow  # a fresh interpreter importing the CLI: 5-10 s
def test_unknown_topic_is_a_one_line_error(tmp_path):
    root = _bench(tmp_path / "sb")
    result = run_cli("eval", "--surveybench", str(root), "--topic", "Gizmos", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "unknown topics ['Gizmos']" in result.stderr


@pytest.mark.slow
def test_unknown_system_is_refused(tmp_path):
    result = run_cli("eval", "--surveybench", str(_bench(tmp_path / "sb")), "--system", "Nope", cwd=tmp_path)
    assert result.returncode == 2 and "unknown systems" in result.stderr


@pytest.mark.slow
def test_eval_writes_the_report(tmp_path):
    root = _bench(tmp_path / "sb")
    out = tmp_path / "report"
    result = run_cli("--set", "retrieval.embedding_backend=torch", "eval", "--surveybench", str(root),
                     "--system", "AutoSurvey", "--output", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out / "report.md")
    assert "AutoSurvey" in (out / "report.md").read_text()
    assert (out / "per_topic_spread.png").is_file()
