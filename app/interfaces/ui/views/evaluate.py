"""Evaluate: the evaluators' scores of chosen surveys (ours and imported baselines) as a
table and charts side by side, read from a report `cpmsurvey eval` wrote. Nothing is
scored here and nothing is made up: without a report the page says how to make one, and
shows only counts read from our finished surveys."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app.interfaces.ui.guard import shown_errors
from app.interfaces.ui.runs import InputError
from app.interfaces.ui.services import checkpoint_store, current_settings
from app.workflow import list_runs, load_survey

PER_SURVEY = "per_survey.csv"
CHART_DEFAULTS = ("ref_recall", "ref_precision", "outline_similarity", "cited_sentence_share", "fact_score",
                  "content_quality")  # fmt: skip
NOT_METRICS = {"system", "topic", "judge"}

st.title("Evaluate")


def _report(folder: Path) -> pd.DataFrame | None:
    path = folder / PER_SURVEY
    if not path.is_file():
        return None
    table = pd.read_csv(path)
    if not {"system", "topic"} <= set(table.columns):
        raise InputError(f"{path} is not an evaluation report (no system and topic columns)")
    return table


def _scores(table: pd.DataFrame, folder: Path) -> None:
    systems = list(dict.fromkeys(table["system"]))
    topics = list(dict.fromkeys(table["topic"]))
    left, right = st.columns(2)
    chosen_systems = left.multiselect("Systems (ours and baselines)", systems, default=systems)
    chosen_topics = right.multiselect("Topics", topics, default=topics)
    rows = table[table["system"].isin(chosen_systems) & table["topic"].isin(chosen_topics)]
    metrics = [c for c in table.columns if c not in NOT_METRICS and rows[c].notna().any()]
    if rows.empty or not metrics:
        st.info("No scores for this choice.")
        return
    judges = sorted({str(j) for j in rows.get("judge", pd.Series(dtype=str)).dropna() if str(j)})
    st.caption(
        f"{len(rows)} surveys; mean over the chosen topics per system. Judge: "
        + (", ".join(judges) if judges else "none (judge-free metrics only)")
    )
    means = rows.groupby("system", sort=False)[metrics].mean(numeric_only=True).round(4)
    means.insert(0, "topics", rows.groupby("system", sort=False)["topic"].nunique())
    st.dataframe(means, width="stretch")
    shown = st.multiselect("Charts", metrics, default=[m for m in CHART_DEFAULTS if m in metrics][:4])
    for start in range(0, len(shown), 2):
        for column, metric in zip(st.columns(2), shown[start : start + 2], strict=False):
            column.markdown(f"**{metric}**")
            column.bar_chart(means[metric].dropna(), horizontal=True, x_label=metric, y_label="system")
    with st.expander("Per survey"):
        st.dataframe(rows, hide_index=True, width="stretch")
    plots = sorted(folder.glob("*.png"))
    if plots:
        with st.expander(f"The report's plots ({len(plots)})"):
            for plot in plots:
                st.image(str(plot), caption=plot.name)


def _counts_of_our_surveys() -> None:
    checkpointer = checkpoint_store(str(current_settings().runs_db_path))
    finished = [info for info in list_runs(checkpointer) if info.status == "finished"]
    if not finished:
        st.write("No finished survey yet.")
        return
    rows = []
    for info in finished[:20]:
        survey = load_survey(checkpointer, info.run_id)
        words = survey.word_count()
        rows.append(
            {
                "survey": f"{info.topic} ({info.run_id})",
                "model": survey.metadata.get("model", ""),
                "sections": len(survey.sections),
                "words": words,
                "citations": len(survey.citations),
                "unique references": len(survey.references),
            }
        )
    st.dataframe(rows, hide_index=True, width="stretch")


with shown_errors("reading the evaluation"):
    settings = current_settings()
    default = settings.outputs_dir / "eval"
    folder = Path(st.text_input("Report folder (written by `cpmsurvey eval --output DIR`)", str(default))).expanduser()
    table = _report(folder)
    if table is not None:
        _scores(table, folder)
    else:
        st.info(
            f"No evaluation report in {folder}. Make one with `cpmsurvey eval` (judge-free metrics, and judge "
            "metrics with --judge); it writes per_survey.csv there. Meanwhile, counts read from our surveys:",
            icon=":material/info:",
        )
        _counts_of_our_surveys()
