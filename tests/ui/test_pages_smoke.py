"""Every page renders without an exception on an empty data folder and on a library."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.interfaces.ui import APP_SCRIPT

PAGES = ["views/new_survey.py", "views/result.py", "views/library.py", "views/history.py", "views/evaluate.py"]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_the_library(ui_data, page):
    app = AppTest.from_file(str(APP_SCRIPT), default_timeout=60)
    app.run()
    app.switch_page(page)
    app.run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    assert app.title[0].value


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_an_empty_data_folder(tmp_path, monkeypatch, page):
    import streamlit as st

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CPMSURVEY_CONFIG", raising=False)
    monkeypatch.setenv("CPMSURVEY_DATA_DIR", str(tmp_path / "data"))
    st.cache_resource.clear()
    app = AppTest.from_file(str(APP_SCRIPT), default_timeout=60)
    app.run()
    app.switch_page(page)
    app.run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    assert app.title[0].value
    if page.endswith("library.py"):
        assert any("is empty" in i.value for i in app.info)
