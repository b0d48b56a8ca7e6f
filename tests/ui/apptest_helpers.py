"""Driving the app with streamlit.testing.v1.AppTest: open a page, find widgets by label,
wait for a background run by re-running the page as a person would reload it."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from app.interfaces.ui import APP_SCRIPT

WAIT_SECONDS = 300  # a whole run while CI compiles llama.cpp beside the suite


def open_page(page: str, **query: str) -> AppTest:
    """A fresh session of the app on `page` (a path under the app's folder), with `query` as URL parameters."""
    app = AppTest.from_file(str(APP_SCRIPT), default_timeout=90)
    app.query_params.update(query)
    app.run()
    app.switch_page(page)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def button(app: AppTest, label: str):
    """The button (or form submit button) labelled `label`."""
    found = [b for b in app.button if b.label == label]
    assert found, f"no button {label!r} among {[b.label for b in app.button]}"
    return found[0]


def page_links(app: AppTest) -> list:
    return list(app.get("page_link"))


def texts(app: AppTest) -> str:
    """Every markdown, caption, alert and heading of the page, joined (to search in)."""
    kinds = ("markdown", "caption", "error", "warning", "info", "success", "title", "header", "subheader")
    return "\n".join(str(element.value) for kind in kinds for element in app.get(kind))


def wait_until(app: AppTest, done, what: str) -> AppTest:
    """Re-run the page until `done(app)` holds (or fail after WAIT_SECONDS naming `what`)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        if done(app):
            return app
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; page shows:\n{texts(app)}")
        time.sleep(0.5)
