"""History: every run in the checkpoint store, finished or not; open, resume, re-export or
delete one (deleting asks first)."""

from __future__ import annotations

import streamlit as st

from app.interfaces.ui.guard import shown_errors
from app.interfaces.ui.runs import run_job
from app.interfaces.ui.services import checkpoint_store, current_settings, job_registry
from app.workflow import delete_run, export_run, list_runs

STATUS_LABELS = {"finished": "finished", "awaiting_review": "awaiting outline review", "interrupted": "stopped"}

st.title("History")


def _status(info) -> str:
    job = run_job(job_registry(), info.run_id)
    return "running" if job is not None and job.running else STATUS_LABELS.get(info.status, info.status)


def _actions(info, checkpointer) -> None:
    job = run_job(job_registry(), info.run_id)
    running = job is not None and job.running
    first, second, third, fourth = st.columns(4)
    if info.status == "finished":
        first.page_link("views/result.py", label="Open", icon=":material/article:", query_params={"run": info.run_id})
    else:
        first.page_link(
            "views/new_survey.py",
            label="Resume or review",
            icon=":material/play_arrow:",
            query_params={"run": info.run_id},
        )
    if second.button("Re-export", disabled=info.status != "finished" or running, key="export"):
        with shown_errors("re-exporting the run"):
            folder = export_run(checkpointer, info.run_id)
            st.success(f"Wrote survey.md, survey.bib, survey.tex and survey.json to {folder}")
    pending = st.session_state.get("confirm_delete") == info.run_id
    if not pending and third.button("Delete…", disabled=running, key="delete"):
        st.session_state["confirm_delete"] = info.run_id
        st.rerun()
    if pending:
        st.warning(
            f"Delete run {info.run_id} ({info.topic!r}) and its output folder {info.output_dir}? This cannot be undone."
        )
        yes, no = st.columns(2)
        if yes.button("Yes, delete it", type="primary", key="delete-yes"):
            with shown_errors("deleting the run"):
                delete_run(checkpointer, info.run_id)
                job_registry().forget("run:" + info.run_id)
                st.session_state.pop("confirm_delete", None)
                st.toast(f"deleted {info.run_id}")
                st.rerun()
        if no.button("Cancel", key="delete-no"):
            st.session_state.pop("confirm_delete", None)
            st.rerun()
    fourth.caption(f"output: {info.output_dir}")


with shown_errors("reading the run history"):
    settings = current_settings()
    checkpointer = checkpoint_store(str(settings.runs_db_path))
    runs = list_runs(checkpointer)
    if not runs:
        st.info(f"No runs yet in {settings.runs_db_path}. Write one on the New survey page.")
    else:
        st.dataframe(
            [
                {
                    "run id": info.run_id,
                    "topic": info.topic,
                    "status": _status(info),
                    "model": info.options.model or "",
                    "started": info.options.created_at or "",
                }
                for info in runs
            ],
            hide_index=True,
            width="stretch",
        )
        by_id = {info.run_id: info for info in runs}
        chosen = st.selectbox("Run", list(by_id), format_func=lambda i: f"{by_id[i].topic} ({i})")
        _actions(by_id[chosen], checkpointer)
