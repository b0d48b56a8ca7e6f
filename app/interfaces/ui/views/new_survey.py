"""New survey: the form, the live progress of the run, the outline review."""

from __future__ import annotations

import streamlit as st

from app.interfaces.ui import run_view
from app.interfaces.ui.guard import shown_errors
from app.interfaces.ui.runs import RUN_PREFIX, InputError, start_survey
from app.interfaces.ui.services import current_settings, job_registry, language_model_for

SOURCES = {
    "library": "The library in the data folder",
    "corpus": "A JSONL corpus file on this machine (ingested first)",
    "arxiv": "Fetch the topic's papers from arXiv first",
}

st.title("New survey")
registry = job_registry()

current = st.query_params.get("run")
running = [job for job in registry.running(RUN_PREFIX) if job.key != RUN_PREFIX + (current or "")]
if running:
    st.caption("Also running now:" if current else "Running now:")
    for job in running:
        run_id = job.key.removeprefix(RUN_PREFIX)
        if st.button(f"{job.title} ({run_id})", key=f"show-{run_id}", icon=":material/hourglass_top:"):
            st.query_params["run"] = run_id
            st.rerun()

if current:
    with shown_errors("showing the run"):
        run_view.show_run(current)
    if st.button("Write another survey"):
        del st.query_params["run"]
        st.rerun()
    st.stop()

with shown_errors("reading the settings"):
    base = current_settings()
    with st.form("new_survey"):
        topic = st.text_area("Topic", placeholder="e.g. retrieval-augmented generation for question answering")
        left, right = st.columns(2)
        backend = left.selectbox(
            "Backend",
            ["local", "openai"],
            index=["local", "openai"].index(base.llm.backend),
            help="'local': our engine in this process; 'openai': an OpenAI-compatible server",
        )
        model = right.text_input(
            "Model", base.llm.model, help="'embedded', an HF folder, a .gguf file, or a served name"
        )
        base_url = st.text_input("Server URL (openai backend)", base.llm.base_url)
        source = st.radio("Papers from", list(SOURCES), format_func=SOURCES.get, horizontal=True)
        corpus = st.text_input("Corpus file (JSONL or JSONL.gz)", base.corpus or "")
        left, right = st.columns(2)
        sections = left.number_input("Sections", 1, 20, base.generate.sections)
        words = right.number_input("Words per section", 50, 5000, base.generate.words_per_section, step=50)
        left, right = st.columns(2)
        date_from = left.date_input("Papers from (optional)", base.generate.date_from, format="YYYY-MM-DD")
        date_to = right.date_input("Papers up to (optional)", base.generate.date_to, format="YYYY-MM-DD")
        categories = st.text_input(
            "arXiv categories (optional, comma-separated)",
            ", ".join(base.generate.categories),
            placeholder="cs.CL, cs.LG",
        )
        modes = ["auto", "grounded", "abstractive"]
        mode = st.selectbox(
            "Writing mode",
            modes,
            index=modes.index(base.writer.mode),
            help="grounded: every fact sentence restates a cited abstract; abstractive: the model writes freely "
            "from its papers; auto: grounded for small local models",
        )
        review = st.toggle("Review the outline before writing", base.generate.review_outline)
        submitted = st.form_submit_button("Write survey", type="primary")

if submitted:
    with shown_errors("starting the survey"):
        if source == "corpus" and not corpus.strip():
            raise InputError("choose a corpus file, or take the papers from the library or arXiv")
        overrides = {
            "llm.backend": backend,
            "llm.model": model.strip() or "embedded",
            "llm.base_url": base_url.strip(),
            "corpus": corpus.strip() if source == "corpus" else None,
            "generate.sections": int(sections),
            "generate.words_per_section": int(words),
            "generate.date_from": date_from.isoformat() if date_from else None,
            "generate.date_to": date_to.isoformat() if date_to else None,
            "generate.categories": [part.strip() for part in categories.split(",") if part.strip()],
            "generate.review_outline": bool(review),
            "writer.mode": mode,
        }
        settings = current_settings(overrides)
        llm = language_model_for(settings)
        run_id = start_survey(registry, settings, llm, topic, fetch=source == "arxiv")
        st.query_params["run"] = run_id
        st.rerun()
