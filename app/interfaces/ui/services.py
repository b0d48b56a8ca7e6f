"""The UI's long-lived objects, one per server process (st.cache_resource): the job
registry, the checkpoint store, the language model and the library the Library page reads.

Settings are read afresh on each page view (a changed cpmsurvey.toml shows at once); the
cached objects are keyed by the settings they were built from. A setting given by its old
name is shown as a warning once per browser session.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from app.interfaces.ui.jobs import JobRegistry
from app.settings import Settings, load_settings
from app.workflow import build_llm, limited, open_checkpointer, open_library


@st.cache_resource(show_spinner=False)
def job_registry() -> JobRegistry:
    """The background jobs of this server process (shared by every browser session)."""
    return JobRegistry()


def current_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """The effective settings (file, environment), with the page's `overrides` (dotted keys)
    on top. Raises app.settings.SettingsError naming a bad key or value. A renamed setting
    given by its old name (in cpmsurvey.toml or the environment) is read, and its
    deprecation note shown: see :func:`warn_once`."""
    loaded = load_settings(cli_overrides=overrides or {})
    warn_once(loaded.deprecations)
    return loaded.settings


SHOWN_NOTES_KEY = "cpmsurvey-settings-notes-shown"


def warn_once(notes: Iterable[str]) -> None:
    """Show each of the settings layer's deprecation `notes` (the lines the CLI prints as
    'warning: ...' on stderr) as a warning on the page, once per browser session: settings
    load on every rerun, and a warning repeated on each click would be noise."""
    shown: set[str] = st.session_state.setdefault(SHOWN_NOTES_KEY, set())
    for note in notes:
        if note not in shown:
            shown.add(note)
            st.warning(note, icon=":material/warning:")


@st.cache_resource(show_spinner=False)
def checkpoint_store(runs_db: str):
    """The run checkpoint database at `runs_db` (thread-safe; shared by the pages)."""
    return open_checkpointer(Path(runs_db))


@st.cache_resource(show_spinner="loading the language model ...", max_entries=2)
def language_model(llm_settings_json: str, _settings: Settings):
    """The LLM for these llm settings (loaded once per process and kept: the local engine
    takes seconds to load), behind one concurrency limit shared by every run of the
    process. Keyed by the settings' JSON; `_settings` is not hashed."""
    return limited(build_llm(_settings), _settings)


def language_model_for(settings: Settings):
    """The cached LLM of `settings.llm`."""
    return language_model(settings.llm.model_dump_json(), settings)


class SharedLibrary:
    """The library the Library page searches and counts, behind one lock: page views of
    several sessions run in threads, and the store's connection is not shared safely."""

    def __init__(self, library) -> None:
        self._library = library
        self._lock = threading.Lock()
        self.opened_at = time.time()

    def stats(self) -> dict:
        with self._lock:
            return self._library.stats()

    def distribution(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return self._library.distribution()

    def search_many(self, queries: Sequence[str], k: int, filters) -> list:
        with self._lock:
            return self._library.search_many(queries, k=k, filters=filters)


@st.cache_resource(show_spinner="opening the library ...", max_entries=2)
def shared_library(store_path: str, retrieval_json: str, _settings: Settings) -> SharedLibrary:
    """The library of these settings, opened once per process (its embedding model loads
    on the first search). Reopened after an ingest: see :func:`library_changed`."""
    return SharedLibrary(open_library(_settings))


def library_for(settings: Settings) -> SharedLibrary:
    """The cached library of `settings`."""
    return shared_library(str(settings.store_path), settings.retrieval.model_dump_json(), settings)


def library_changed() -> None:
    """Forget the cached library so the next page view opens it afresh (new papers, a new index)."""
    shared_library.clear()
