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
