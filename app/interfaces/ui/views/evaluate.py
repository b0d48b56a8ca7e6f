"""Evaluate: our finished surveys side by side. The evaluators' scores (fact score,
citation quality, content quality, reference recall) are shown once the evaluation
package provides them; until then the page says so and shows only counts read from the
surveys themselves, never a made-up score."""

from __future__ import annotations

import streamlit as st

from app.interfaces.ui.guard import shown_errors
from app.interfaces.ui.services import checkpoint_store, current_settings
from app.workflow import list_runs, load_survey

st.title("Evaluate")
st.info(
    "The evaluators (fact score, citation recall and precision, content quality, reference recall "
    "against human surveys, imported baselines) are not part of this version yet. Below: what can be "
    "read from the surveys themselves.",
    icon=":material/info:",
)

with shown_errors("reading the surveys"):
    checkpointer = checkpoint_store(str(current_settings().runs_db_path))
    finished = [info for info in list_runs(checkpointer) if info.status == "finished"]
    if not finished:
        st.write("No finished survey yet.")
    else:
        labels = {info.run_id: f"{info.topic} ({info.run_id})" for info in finished}
        chosen = st.multiselect("Surveys", list(labels), default=list(labels)[:5], format_func=labels.get)
        rows = []
        for run_id in chosen:
            survey = load_survey(checkpointer, run_id)
            words = survey.word_count()
            rows.append(
                {
                    "survey": labels[run_id],
                    "model": survey.metadata.get("model", ""),
                    "sections": len(survey.sections),
                    "words": words,
                    "citations": len(survey.citations),
                    "unique references": len(survey.references),
                    "citations per 100 words": round(100 * len(survey.citations) / words, 2) if words else 0.0,
                }
            )
        if rows:
            st.dataframe(rows, hide_index=True, width="stretch")
            left, right = st.columns(2)
            left.bar_chart({row["survey"]: row["unique references"] for row in rows}, y_label="unique references")
            right.bar_chart(
                {row["survey"]: row["citations per 100 words"] for row in rows}, y_label="citations per 100 words"
            )
