"""Library: add papers (arXiv query, JSONL upload, OAI snapshot) with progress; the corpus
by month and by category; hybrid search with filters, showing each retriever's rank."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.interfaces.ui import MAX_UPLOAD_MB
from app.interfaces.ui.guard import shown_errors
from app.interfaces.ui.ingest import INGEST_KEY, save_upload, start_ingest
from app.interfaces.ui.runs import InputError
from app.interfaces.ui.services import current_settings, job_registry, library_changed, library_for
from retriever.types import SearchFilters

REFRESH_SECONDS = 1.0

st.title("Library")
settings = current_settings()
registry = job_registry()


def _ingest_progress(was_running: bool) -> None:
    job = registry.get(INGEST_KEY)
    if job is None:
        return
    messages = job.items()
    state = "running" if job.running else ("error" if job.state == "failed" else "complete")
    with st.status(
        f"{job.title}: {messages[-1] if messages and job.running else state}", state=state, expanded=job.running
    ):
        for message in messages[-12:]:
            st.write(message)
        if job.error:
            st.error(job.error)
    if was_running and not job.running:
        st.rerun(scope="app")


def _ingest_forms() -> None:
    arxiv, upload, snapshot = st.tabs(["arXiv query", "Upload JSONL", "OAI snapshot"])
    with arxiv, st.form("ingest-arxiv"):
        query = st.text_input("arXiv query", placeholder="cat:cs.CL AND abs:retrieval augmented")
        most = st.number_input("At most this many papers", 1, 2000, 200)
        if st.form_submit_button("Fetch and index"):
            with shown_errors("fetching from arXiv"):
                start_ingest(registry, settings, arxiv_query=query, max_results=int(most))
                st.rerun()
    with upload, st.form("ingest-upload"):
        file = st.file_uploader(
            f"JSONL or JSONL.gz corpus (up to {MAX_UPLOAD_MB} MB)", type=["jsonl", "gz"], max_upload_size=MAX_UPLOAD_MB
        )
        if st.form_submit_button("Upload and index"):
            with shown_errors("ingesting the upload"):
                if file is None:
                    raise InputError("choose a file first")
                path = save_upload(settings, file.name, file.getvalue())
                start_ingest(registry, settings, jsonl=path)
                st.rerun()
    with snapshot, st.form("ingest-oai"):
        path = st.text_input("Path of the snapshot on this machine (arxiv-metadata-oai-snapshot.json)")
        categories = st.text_input("Categories (comma-separated; an archive like cs keeps all of it)", "cs.CL")
        left, right = st.columns(2)
        start = left.date_input("First submitted on or after", None, format="YYYY-MM-DD")
        end = right.date_input("First submitted on or before", None, format="YYYY-MM-DD")
        if st.form_submit_button("Stream and index"):
            with shown_errors("ingesting the snapshot"):
                if not path.strip():
                    raise InputError("give the snapshot's path")
                keep = [part.strip() for part in categories.split(",") if part.strip()]
                start_ingest(
                    registry,
                    settings,
                    oai_snapshot=Path(path.strip()).expanduser(),
                    categories=keep,
                    date_from=start,
                    date_to=end,
                )
                st.rerun()


def _statistics(library) -> int:
    stats = library.stats()
    index = stats.get("index")
    columns = st.columns(5)
    columns[0].metric("Papers", f"{stats['papers']:,}")
    columns[1].metric("First published", stats["first_date"] or "–")
    columns[2].metric("Last published", stats["last_date"] or "–")
    columns[3].metric("Not yet embedded", f"{stats['unembedded']:,}")
    columns[4].metric("Indexed vectors", f"{index['vectors']:,}" if index else "none yet")
    if index:
        st.caption(f"Index: {index['type']} over {stats['embedding_model']} embeddings.")
    if stats["papers"]:
        counts = library.distribution()
        by_month, by_category = st.columns(2)
        by_month.markdown("**Papers by month**")
        by_month.bar_chart({"papers": counts["by_month"]}, x_label="month", y_label="papers")
        by_category.markdown("**Papers by category** (the largest 20)")
        by_category.bar_chart({"papers": counts["by_category"]}, horizontal=True, x_label="papers", y_label="category")
    return stats["papers"]


def _search(library) -> None:
    with st.form("search"):
        query = st.text_input("Search", placeholder="retrieval-augmented generation")
        left, middle, right, last = st.columns(4)
        k = left.number_input("Results", 1, 200, 20)
        start = middle.date_input("Published on or after", None, format="YYYY-MM-DD")
        end = right.date_input("Published on or before", None, format="YYYY-MM-DD")
        categories = last.text_input("Categories (comma-separated)")
        submitted = st.form_submit_button("Search")
    if not submitted:
        return
    with shown_errors("searching"):
        if not query.strip():
            raise InputError("type something to search for")
        if start and end and start > end:
            raise InputError(f"the start date {start} is after the end date {end}")
        filters = SearchFilters(
            date_from=start, date_to=end, categories=tuple(p.strip() for p in categories.split(",") if p.strip())
        )
        hits = library.search_many([query.strip()], int(k), filters)
        st.caption(
            f"{len(hits)} papers. Score: reciprocal-rank fusion of the dense and BM25 rankings; "
            "each rank is where that retriever placed the paper."
        )
        st.dataframe(
            [
                {
                    "score": round(hit.score, 5),
                    "dense rank": hit.ranks.get("dense"),
                    "bm25 rank": hit.ranks.get("bm25"),
                    "title": hit.paper.title,
                    "published": hit.paper.published.isoformat() if hit.paper.published else "",
                    "categories": ", ".join(hit.paper.categories),
                    "arXiv": hit.paper.url,
                }
                for hit in hits
            ],
            column_config={"arXiv": st.column_config.LinkColumn("arXiv")},
            hide_index=True,
            width="stretch",
        )


with shown_errors("showing the library"):
    job = registry.get(INGEST_KEY)
    running = job is not None and job.running
    st.fragment(_ingest_progress, run_every=REFRESH_SECONDS if running else None)(running)
    with st.expander("Add papers", expanded=False):
        if running:
            st.info("An ingest is running; its progress is shown above.")
        else:
            _ingest_forms()
    library = library_for(settings)
    if job is not None and job.finished_at is not None and job.finished_at > library.opened_at:
        library_changed()  # the ingest added papers and vectors the open library does not see
        library = library_for(settings)
    if _statistics(library):
        _search(library)
    else:
        st.info(f"The library at {settings.store_path} is empty. Add papers above.")
