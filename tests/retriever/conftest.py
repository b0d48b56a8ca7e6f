"""Fixtures for retrieval tests: slices of the real arXiv sample."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sample_lines(sample_corpus: Path) -> list[str]:
    """Every fifth line of the 5,000-paper sample (sorted by date, so the slice spans all dates)."""
    with gzip.open(sample_corpus, "rt", encoding="utf-8") as handle:
        return [line for number, line in enumerate(handle) if number % 5 == 0]


@pytest.fixture(scope="session")
def sample_records(sample_lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in sample_lines]


@pytest.fixture()
def slice_jsonl(tmp_path: Path, sample_lines: list[str]) -> Path:
    """A plain JSONL file of 1,000 real papers."""
    path = tmp_path / "slice.jsonl"
    path.write_text("".join(sample_lines), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """One ONNX export of the default model for the whole test session (the CLI tests use the same folder)."""
    path = tmp_path_factory.getbasetemp() / "onnx-model-cache"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def onnx_embedder(model_cache: Path):
    from retriever.embeddings import load_embedder

    return load_embedder(backend="onnx", cache_dir=model_cache, batch_size=32)


@pytest.fixture(scope="session")
def torch_embedder():
    from retriever.embeddings import load_embedder

    return load_embedder(backend="torch", batch_size=32)
