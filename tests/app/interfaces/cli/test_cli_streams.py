"""stdout carries only a command's output (logs and progress on stderr); corpus problems are
clear errors with a non-zero exit; titles never reach the terminal as escape codes."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.interfaces.cli.terminal import printable


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPMSURVEY_")}
    env.update(XDG_CONFIG_HOME=str(data_dir / "xdg"), CPMSURVEY_DATA_DIR=str(data_dir), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=data_dir, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def sample_lines(sample_corpus: Path) -> list[str]:
    with gzip.open(sample_corpus, "rt", encoding="utf-8") as handle:
        return [line for _, line in zip(range(40), handle, strict=False)]


@pytest.fixture()
def ingested(tmp_path, sample_lines) -> Path:
    """A library of 40 real papers, two hostile titles and two bad lines, ingested without embeddings."""
    hostile = [
        {"id": "2501.00001", "title": "Red \x1b[31mALERT\x1b[0m \x1b]0;pwned\x07attention [bold]x[/bold]"},
        {"id": "2501.00002", "title": "Attention \x07bell \x9b2J", "abstract": "attention"},
    ]
    lines = [*sample_lines[:40], *(json.dumps(r) + "\n" for r in hostile), '{"id": 5, "title": "x"}\n', "{broken\n"]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(lines), encoding="utf-8")
    result = run_cli("index", "--jsonl", str(corpus), "--no-embed", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # the report and the skipped lines' warnings go to stderr
    assert "skipped 1 line: the id is a number" in result.stderr and "line 43 skipped" in result.stderr
    return tmp_path


def test_search_json_stdout_is_only_json_even_with_warnings(ingested):
    result = run_cli("search", "attention", "--json", "-k", "5", data_dir=ingested)
    assert result.returncode == 0, result.stderr
    assert "no vector index yet" in result.stderr  # logged, on stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 5


def test_search_table_prints_titles_without_escape_codes(ingested):
    result = run_cli("search", "red alert attention", "-k", "3", data_dir=ingested)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\x9b" not in result.stdout
    assert "Red ALERT attention [bold]x[/bold]" in result.stdout  # markup-looking text shown as it is


@pytest.mark.parametrize(
    ("make", "message"),
    [(lambda folder: folder / "empty.jsonl", "is empty"), (lambda folder: folder, "is a directory")],
)
def test_an_empty_corpus_or_a_directory_fails_with_a_clear_message(tmp_path, make, message):
    target = make(tmp_path)
    if target.suffix:
        target.write_text("", encoding="utf-8")
    result = run_cli("index", "--jsonl", str(target), "--no-embed", data_dir=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(("name", "message"), [("corpus", "is a directory"), ("empty.jsonl", "is empty")])
def test_generate_names_a_bad_corpus(tmp_path, name, message):
    corpus = tmp_path / name
    corpus.mkdir() if name == "corpus" else corpus.write_text("\n")
    result = run_cli("generate", "reasoning", "--corpus", str(corpus), "--no-fetch", data_dir=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_printable_strips_sequences_and_controls():
    assert printable("a\x1b[1;31mb\x1b[0m\x1b]8;;http://x\x1b\\c\x1bMd\x00e\tf\ng") == "abcde\tf\ng"
