"""`cpmsurvey index` and `cpmsurvey search` as a user runs them, on real papers."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory) -> Path:
    """The ONNX export shared with tests/retriever (same folder), made once per session."""
    path = tmp_path_factory.getbasetemp() / "onnx-model-cache"
    path.mkdir(exist_ok=True)
    return path


def run_cli(*args: str, data_dir: Path, model_cache: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPMSURVEY_")}
    env.update(
        XDG_CONFIG_HOME=str(data_dir / "xdg"),
        CPMSURVEY_DATA_DIR=str(data_dir),
        CPMSURVEY_RETRIEVAL__MODEL_CACHE_DIR=str(model_cache),
    )
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=data_dir, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def papers(sample_corpus: Path) -> list[dict]:
    with gzip.open(sample_corpus, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for number, line in zip(range(3000), handle, strict=False) if number % 50 == 0]


def test_index_then_search(tmp_path, papers, model_cache):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(p) + "\n" for p in papers), encoding="utf-8")

    result = run_cli("index", "--jsonl", str(corpus), data_dir=tmp_path, model_cache=model_cache)
    assert result.returncode == 0, result.stderr
    assert f"{len(papers)} added" in result.stderr and f"embedded {len(papers)} papers" in result.stderr

    again = run_cli("index", "--jsonl", str(corpus), data_dir=tmp_path, model_cache=model_cache)
    assert again.returncode == 0, again.stderr
    assert "already ingested" in again.stderr and "embedded 0 papers" in again.stderr

    target = papers[7]
    found = run_cli("search", target["title"], "--json", "-k", "3", data_dir=tmp_path, model_cache=model_cache)
    assert found.returncode == 0, found.stderr
    rows = [json.loads(line) for line in found.stdout.splitlines()]
    assert len(rows) == 3 and rows[0]["id"] == target["id"]
    assert set(rows[0]["ranks"]) == {"dense", "bm25"}

    table = run_cli("search", target["title"], "-k", "2", data_dir=tmp_path, model_cache=model_cache)
    assert table.returncode == 0 and target["id"] in table.stdout

    filtered = run_cli(
        "search",
        "language models",
        "--category",
        "cs.CV",
        "--from",
        "2025-04-01",
        "--json",
        data_dir=tmp_path,
        model_cache=model_cache,
    )
    assert filtered.returncode == 0, filtered.stderr
    rows = [json.loads(line) for line in filtered.stdout.splitlines()]
    assert rows and all("cs.CV" in r["categories"] and r["date"] >= "2025-04-01" for r in rows)


def test_errors_are_one_line(tmp_path, model_cache):
    missing = run_cli("index", "--jsonl", str(tmp_path / "absent.jsonl"), data_dir=tmp_path, model_cache=model_cache)
    assert missing.returncode == 2
    assert missing.stderr.strip().startswith("error:") and "no such file" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1

    empty = run_cli("search", "anything", data_dir=tmp_path, model_cache=model_cache)
    assert empty.returncode == 1 and "is empty" in empty.stderr

    bad_date = run_cli("search", "x", "--from", "March", data_dir=tmp_path, model_cache=model_cache)
    assert bad_date.returncode == 2 and "YYYY-MM-DD" in bad_date.stderr
