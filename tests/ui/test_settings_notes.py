"""A setting given by its old name shows the settings layer's deprecation note on the page,
once per browser session (the CLI prints the same note on stderr)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.interfaces.ui import APP_SCRIPT
from app.settings import RENAMED_KEYS, load_settings

OLD = "retrieval.expansion.feedback_papers"
NEW = RENAMED_KEYS[OLD]
OLD_VARIABLE = "CPMSURVEY_RETRIEVAL__EXPANSION__FEEDBACK_PAPERS"


@pytest.fixture()
def empty_app(tmp_path, monkeypatch) -> Path:
    """The app's settings on an empty data folder, read from `tmp_path` (no cpmsurvey.toml of
    the checkout, no CPMSURVEY_* variable of the caller's shell); returns `tmp_path`."""
    import streamlit as st

    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("CPMSURVEY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("CPMSURVEY_DATA_DIR", str(tmp_path / "data"))
    st.cache_resource.clear()
    return tmp_path


def opened(page: str) -> AppTest:
    app = AppTest.from_file(str(APP_SCRIPT), default_timeout=60)
    app.run()
    app.switch_page(page)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    return app


def notes_on(app: AppTest) -> list[str]:
    return [element.value for element in app.warning if OLD in element.value]


def test_the_old_name_in_the_file_is_shown_once_per_session(empty_app):
    (empty_app / "cpmsurvey.toml").write_text("[retrieval.expansion]\nfeedback_papers = 5\n", encoding="utf-8")
    expected = load_settings().deprecations
    assert len(expected) == 1 and "cpmsurvey.toml" in expected[0]
    app = AppTest.from_file(str(APP_SCRIPT), default_timeout=60)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert notes_on(app) == expected  # the settings layer's own words, nothing re-worded
    app.run()
    assert notes_on(app) == []
    app.switch_page("views/library.py")
    app.run()
    assert not app.exception and notes_on(app) == []
    assert "is empty" in " ".join(info.value for info in app.info)  # the page itself still renders


def test_the_old_environment_variable_is_named_in_a_new_session(empty_app, monkeypatch):
    monkeypatch.setenv(OLD_VARIABLE, "3")
    app = opened("views/history.py")
    # the first run (New survey) showed the note; the page opened next does not repeat it
    assert notes_on(app) == []
    fresh = AppTest.from_file(str(APP_SCRIPT), default_timeout=60)
    fresh.run()
    (note,) = notes_on(fresh)
    assert OLD_VARIABLE in note and NEW.upper().replace(".", "__") in note and "deprecated" in note


def test_no_note_when_the_settings_use_the_new_name(empty_app):
    (empty_app / "cpmsurvey.toml").write_text(
        "[retrieval.expansion]\nsecond_round_feedback_papers = 5\n", encoding="utf-8"
    )
    app = opened("views/result.py")
    assert [element.value for element in app.warning] == []
