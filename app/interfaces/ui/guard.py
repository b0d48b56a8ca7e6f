"""Errors on the page, never a traceback page: a page's body runs inside :func:`shown_errors`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import streamlit as st

from app.interfaces.ui.jobs import user_message
from app.workflow import is_user_error

log = logging.getLogger(__name__)


@contextlib.contextmanager
def shown_errors(what: str) -> Iterator[None]:
    """Show an error raised inside the block as a message on the page. Our own errors
    (settings, workflow, library, engine) say what to do; anything else is logged with its
    traceback and shown as one line. Streamlit's rerun and stop signals pass through (they
    are BaseExceptions)."""
    try:
        yield
    except Exception as error:
        if not is_user_error(error):
            log.exception("%s failed", what)
        st.error(f"{what} failed: {user_message(error)}", icon=":material/error:")
