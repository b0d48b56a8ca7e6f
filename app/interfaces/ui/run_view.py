"""One run on the New survey page: its live progress while the job runs, then the outline
review, the way to its result, or what stopped it and a way to go on."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.interfaces.ui.guard import shown_errors
from app.interfaces.ui.jobs import Job
from app.interfaces.ui.outline_form import outline_rows, rows_to_outline
from app.interfaces.ui.progress import RunProgress, fold_events
from app.interfaces.ui.runs import resume_survey, run_job
from app.interfaces.ui.services import checkpoint_store, current_settings, job_registry, language_model_for
from app.workflow import RunInfo, RunNotFoundError, inspect_run, resume_overrides, validate_outline

REFRESH_SECONDS = 1.0


def show_run(run_id: str) -> None:
    """Everything about run `run_id` that the page can show now."""
    job = run_job(job_registry(), run_id)
    if job is not None and job.running:
        st.fragment(_live, run_every=REFRESH_SECONDS)(run_id)
        return
    if job is not None:
        _progress_panel(fold_events(job.items()), job)
        if job.state == "failed":
            st.error(job.error or "the run stopped", icon=":material/error:")
    info = _stored_run(run_id, started_here=job is not None)
    if info is None:
        return
    st.subheader(info.topic)
    if info.status == "finished":
        st.success("The survey is written.")
        st.page_link(
            "views/result.py", label="Open the result", icon=":material/article:", query_params={"run": run_id}
        )
    elif info.status == "awaiting_review":
        outline_editor(info)
    else:
        st.info("This run stopped before it finished. Finished sections are kept; resuming writes the rest.")
        if st.button("Resume the run", type="primary"):
            _resume(info)


def _stored_run(run_id: str, started_here: bool) -> RunInfo | None:
    """The run as the checkpoint store knows it; None (with the reason shown) when it cannot
    be read. A job that stopped before its run was recorded (a missing corpus, say) has
    shown its own error: its run being unknown is then no news."""
    with shown_errors("reading the run"):
        try:
            return inspect_run(checkpoint_store(str(current_settings().runs_db_path)), run_id)
        except RunNotFoundError:
            if not started_here:
                st.error(f"no run with id {run_id!r}; it may have been deleted (see History)", icon=":material/error:")
    return None


def _live(run_id: str) -> None:
    job = run_job(job_registry(), run_id)
    if job is None:
        return
    _progress_panel(fold_events(job.items()), job)
    if not job.running:
        st.rerun(scope="app")


def _progress_panel(progress: RunProgress, job: Job) -> None:
    state = "running" if job.running else ("error" if job.state == "failed" else "complete")
    with st.status(progress.headline if job.running else f"{job.title}: {state}", state=state, expanded=job.running):
        for notice in progress.notices:
            st.write(notice)
        for label, seconds in progress.done:
            st.write(f"✓ {label} ({seconds:.1f} s)")
        if progress.current and job.running:
            st.write(f"… {progress.current}")
    if progress.papers:
        with st.expander(f"Papers found ({len(progress.papers)} searches)", expanded=job.running):
            for where, count in progress.papers:
                st.write(f"{count} papers for {where}")
                for paper in progress.paper_titles.get(where, []):
                    st.caption(f"[{paper['id']}](https://arxiv.org/abs/{paper['id']}) {paper['title']}")
    for index in sorted(progress.sections):
        with st.expander(f"Section {index + 1} as written ({len(progress.sections[index].split())} words)"):
            st.markdown(progress.sections[index])
    if progress.warnings:
        with st.expander(f"Warnings ({len(progress.warnings)})"):
            for warning in progress.warnings:
                st.warning(warning)


def _resume(info: RunInfo, outline: dict[str, Any] | None = None) -> None:
    with shown_errors("resuming the run"):
        settings = current_settings(resume_overrides(info.options, {}))
        llm = language_model_for(settings)
        resume_survey(job_registry(), settings, llm, info.run_id, info.topic, outline)
        st.rerun()


def outline_editor(info: RunInfo) -> None:
    """The planned outline as a form: rename, reorder (by position), add and remove sections
    and their queries; submitting resumes the run with the edited outline."""
    outline = info.outline or {"title": info.topic, "sections": []}
    key = f"outline-{info.run_id}"
    rows = st.session_state.setdefault(f"{key}-rows", outline_rows(outline))
    st.markdown("**Review the outline.** Edit it, then continue; the sections are written from what you submit.")
    with st.form(key):
        title = st.text_input("Survey title", outline.get("title", ""), key=f"{key}-title")
        edited = []
        for number, row in enumerate(rows):
            with st.container(border=True):
                first, second, third = st.columns([1, 5, 1])
                position = first.number_input(
                    "Position", 1, 99, int(row.get("position") or number + 1), key=f"{key}-{number}-pos"
                )
                section_title = second.text_input("Section title", row["title"], key=f"{key}-{number}-title")
                removed = third.checkbox("Remove", key=f"{key}-{number}-remove")
                description = st.text_input("Description", row["description"], key=f"{key}-{number}-description")
                queries = st.text_input(
                    "Search queries (separate with ;)", row["queries"], key=f"{key}-{number}-queries"
                )
                subsections = st.text_input(
                    "Subsections (separate with ;)", row["subsections"], key=f"{key}-{number}-subs"
                )
            edited.append(
                {
                    "position": position,
                    "title": section_title,
                    "description": description,
                    "queries": queries,
                    "subsections": subsections,
                    "removed": removed,
                }
            )
        left, right = st.columns(2)
        add = left.form_submit_button("Add a section")
        go = right.form_submit_button("Continue writing with this outline", type="primary")
    if add:
        kept = rows_to_outline(title, edited, outline)
        blank = {"title": "", "description": "", "queries": [], "subsections": []}
        st.session_state[f"{key}-rows"] = outline_rows({"sections": [*kept["sections"], blank]})
        for name in [
            name
            for name in st.session_state
            if str(name).startswith(f"{key}-") and name not in (f"{key}-rows", f"{key}-title")
        ]:
            del st.session_state[name]
        st.rerun()
    if go:
        with shown_errors("checking the outline"):
            new_outline = validate_outline(rows_to_outline(title, edited, outline))
            del st.session_state[f"{key}-rows"]
            _resume(info, new_outline)
