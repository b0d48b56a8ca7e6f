"""Fixtures of the UI tests: a scripted OpenAI-compatible server, a small real library
(300 papers of the arXiv sample, embedded once per session), and an environment that
points the app at both through its ordinary settings (CPMSURVEY_* variables)."""

from __future__ import annotations

import gzip
import itertools
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from served_app import app_environment
from ui_scripted_server import ScriptedServer

LIBRARY_PAPERS = 300


@pytest.fixture(scope="session")
def scripted_server():
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def library_slice(sample_corpus, tmp_path_factory) -> Path:
    """The first 300 papers of the 5,000-paper sample as a JSONL file."""
    if not sample_corpus.is_file():
        pytest.skip(f"real data not found at {sample_corpus}")
    path = tmp_path_factory.mktemp("slice") / "slice.jsonl"
    with gzip.open(sample_corpus, "rt", encoding="utf-8") as lines, open(path, "w", encoding="utf-8") as out:
        out.writelines(itertools.islice(lines, LIBRARY_PAPERS))
    return path


@pytest.fixture(scope="session")
def built_library(library_slice, tmp_path_factory) -> Path:
    """A data folder whose library holds the slice, embedded and indexed (built once)."""
    from app.settings import Settings
    from app.workflow import open_library

    data_dir = tmp_path_factory.mktemp("library") / "data"
    library = open_library(Settings(data_dir=data_dir, retrieval={"embedding_backend": "torch"}))
    try:
        library.ingest_jsonl(library_slice)
        library.update_index()
    finally:
        library.close()
    return data_dir


@pytest.fixture()
def ui_data(tmp_path, monkeypatch, built_library, scripted_server) -> Path:
    """A fresh copy of the built library as this test's data folder, the app's settings
    pointing at it and at the scripted server, and Streamlit's caches emptied."""
    import streamlit as st

    data_dir = tmp_path / "data"
    shutil.copytree(built_library, data_dir)
    monkeypatch.chdir(tmp_path)  # no cpmsurvey.toml of the checkout is read
    monkeypatch.delenv("CPMSURVEY_CONFIG", raising=False)
    for name, value in app_environment(data_dir, scripted_server).items():
        monkeypatch.setenv(name, value)
    st.cache_resource.clear()
    yield data_dir
    st.cache_resource.clear()
