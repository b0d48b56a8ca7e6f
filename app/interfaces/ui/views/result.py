"""Result: a finished survey with its contents, linked citations (abstract on hover), the
references beside the text, downloads, a copy button and how it was made."""

from __future__ import annotations

import json

import streamlit as st

from app.interfaces.ui import survey_view
from app.interfaces.ui.guard import shown_errors
from app.interfaces.ui.services import checkpoint_store, current_settings
from app.workflow import list_runs, load_survey

st.title("Result")


def _choose_run() -> str | None:
    settings = current_settings()
    finished = [info for info in list_runs(checkpoint_store(str(settings.runs_db_path))) if info.status == "finished"]
    wanted = st.query_params.get("run")
    if not finished and not wanted:
        st.info("No finished survey yet. Write one on the New survey page.")
        return None
    ids = [info.run_id for info in finished]
    if wanted and wanted not in ids:
        ids.insert(0, wanted)
    labels = {info.run_id: f"{info.topic} ({info.run_id})" for info in finished}
    chosen = st.selectbox(
        "Survey", ids, index=ids.index(wanted) if wanted else 0, format_func=lambda i: labels.get(i, i)
    )
    if chosen != wanted:
        st.query_params["run"] = chosen
    return chosen


def _downloads(survey, run_id: str) -> None:
    markdown = survey.to_markdown()
    files = [
        ("Markdown", markdown, "survey.md", "text/markdown"),
        ("BibTeX", survey.to_bibtex(), "survey.bib", "application/x-bibtex"),
        ("LaTeX", survey.to_latex(), "survey.tex", "application/x-tex"),
        ("JSON", survey.to_json(), "survey.json", "application/json"),
    ]
    for column, (label, data, name, mime) in zip(st.columns(len(files)), files, strict=True):
        column.download_button(
            label, data, file_name=f"{run_id}-{name}", mime=mime, key=f"download-{name}", icon=":material/download:"
        )
    with st.expander("Copy as Markdown (copy button at the top right of the box)"):
        st.code(markdown, language="markdown")


def _how_made(survey) -> None:
    metadata = survey.metadata
    with st.expander("How it was made: settings, model, timings"):
        first, second, third = st.columns(3)
        first.metric("Model", str(metadata.get("model", "unknown")))
        # runs recorded before the writing modes existed were written abstractively
        second.metric("Writing mode", str(metadata.get("settings", {}).get("writer_mode", "abstractive")))
        timings = metadata.get("timings_s", {})
        third.metric("Total time", f"{sum(v for v in timings.values() if isinstance(v, int | float)):.1f} s")
        if timings:
            st.bar_chart({"seconds": timings}, horizontal=True, x_label="seconds")
        st.json(json.loads(json.dumps(metadata, default=str)), expanded=False)


def _show(run_id: str) -> None:
    survey = load_survey(checkpoint_store(str(current_settings().runs_db_path)), run_id)
    numbers = survey_view.reference_numbers(survey)
    st.header(survey.title)
    st.caption(
        f"{len(survey.sections)} sections · {survey.word_count():,} words · {len(survey.citations)} citations "
        f"of {len(survey.references)} papers · run {run_id}"
    )
    _downloads(survey, run_id)
    _how_made(survey)
    st.sidebar.markdown("**Contents**")
    for target, label in survey_view.contents(survey):
        st.sidebar.markdown(f"[{label}](#{target})")
    st.markdown(survey_view.CITATION_CSS, unsafe_allow_html=True)
    text, references = st.columns([3, 2], gap="large")
    with text:
        st.subheader("Abstract", anchor="abstract")
        st.markdown(survey_view.render_text(survey.abstract, survey, numbers), unsafe_allow_html=True)
        parts = [("Introduction", survey.introduction)]
        parts += [(section.title, section.text) for section in survey.sections]
        parts.append(("Conclusion", survey.conclusion))
        for number, (title, body) in enumerate(parts, start=1):
            st.subheader(f"{number}. {title}", anchor=survey_view.anchor(number))
            st.markdown(survey_view.render_text(body, survey, numbers), unsafe_allow_html=True)
    with references:
        st.subheader("References", anchor="references")
        for number, paper in enumerate(survey.references, start=1):
            st.markdown(survey_view.reference_markdown(paper, number))
            with st.expander(f"[{number}] abstract and link"):
                published = paper.published.isoformat() if paper.published else "undated"
                st.caption(f"{survey_view.authors_line(paper)} · {published} · arXiv:{paper.arxiv_id}")
                st.write(paper.abstract or "(no abstract)")
                st.markdown(f"[{paper.url}]({paper.url})")


with shown_errors("opening the survey"):
    chosen = _choose_run()
    if chosen:
        _show(chosen)
