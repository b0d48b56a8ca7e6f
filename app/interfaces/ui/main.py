"""The cpmsurvey web app: `cpmsurvey ui` serves this script with Streamlit on 127.0.0.1.

Five pages: New survey, Result, Library, History, Evaluate. Each page is a file in
views/ (not pages/, which Streamlit would list on its own) that calls the run API
(app.workflow) and the settings, nothing of the CLI.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent / "views"

navigation = st.navigation(
    [
        st.Page(PAGES / "new_survey.py", title="New survey", icon=":material/edit_note:", default=True),
        st.Page(PAGES / "result.py", title="Result", icon=":material/article:", url_path="result"),
        st.Page(PAGES / "library.py", title="Library", icon=":material/local_library:", url_path="library"),
        st.Page(PAGES / "history.py", title="History", icon=":material/history:", url_path="history"),
        st.Page(PAGES / "evaluate.py", title="Evaluate", icon=":material/analytics:", url_path="evaluate"),
    ]
)
st.set_page_config(page_title=f"{navigation.title} · cpmsurvey", page_icon=":material/menu_book:", layout="wide")
st.sidebar.caption("cpmsurvey: literature surveys citing real arXiv papers")
navigation.run()
