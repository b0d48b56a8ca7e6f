"""Evaluate: start an evaluation of chosen surveys (our runs, SurveyBench's baselines) as
`cpmsurvey eval` does, watch it, and read the evaluators' scores as a table and charts side
by side, from the report it writes (or one `cpmsurvey eval` wrote). The scoring is the
evaluation pipeline's, run as a background job of the server process; nothing is made up:
without a report the page shows only counts read from our finished surveys."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app.interfaces.evaluation import BASELINES, EvalOptions, survey_paths, surveybench_topics
from app.interfaces.ui.evaluations import evaluation_job, start_evaluation
from app.interfaces.ui.guard import shown_errors
from app.interfaces.ui.jobs import Job
from app.interfaces.ui.runs import InputError
from app.interfaces.ui.services import checkpoint_store, current_settings, job_registry, language_model_for
from app.settings import Settings
from app.workflow import list_runs, load_survey

PER_SURVEY = "per_survey.csv"
CHART_DEFAULTS = ("ref_recall", "ref_precision", "outline_similarity", "cited_sentence_share", "fact_score",
                  "content_quality")  # fmt: skip
NOT_METRICS = {"system", "topic", "judge"}
REFRESH_SECONDS = 1.0
SHOWN_STEPS = 12

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
    chosen_topics = right.multiselect("Topics shown", topics, default=topics)
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


def _finished_runs(settings: Settings) -> dict[str, str]:
    """Finished runs, "topic (run id)" -> run id, newest first."""
    runs = list_runs(checkpoint_store(str(settings.runs_db_path)))
    return {f"{info.topic} ({info.run_id})": info.run_id for info in runs if info.status == "finished"}


def _optional_path(text: str) -> Path | None:
    return Path(text.strip()).expanduser() if text.strip() else None


def _evaluation_form(settings: Settings, folder: Path, expanded: bool) -> None:
    """The choices `cpmsurvey eval` takes, and the button that starts the evaluation."""
    with st.expander("New evaluation", expanded=expanded, icon=":material/play_arrow:"):
        bench_text = st.text_input("SurveyBench folder (HumanSurvey/ and the systems' folders)")
        bench = _optional_path(bench_text)
        topics = surveybench_topics(bench) if bench else []
        chosen_topics = st.multiselect("Topics to evaluate (none: every topic)", topics)
        runs = _finished_runs(settings)
        chosen_runs = st.multiselect("Our surveys (finished runs)", list(runs))
        more = st.text_area("More of our surveys: survey.json files or run folders, one a line")
        systems = st.multiselect("Baseline systems", BASELINES, default=list(BASELINES))
        judge = st.toggle(f"Judge metrics, judged by the configured model ({settings.llm.model})")
        deepscholar = st.text_input("DeepScholar folder (optional: calibrates the support proxy)")
        library = st.text_input("Library corpus, JSONL(.gz) (optional: resolves references by title)")
        if not st.button("Evaluate", type="primary", disabled=bench is None):
            return
        given = [runs[label] for label in chosen_runs] + [line.strip() for line in more.splitlines() if line.strip()]
        options = EvalOptions(
            surveybench=bench,
            output=folder,
            ours=survey_paths(settings, given),
            topics=chosen_topics,
            systems=systems,
            deepscholar=_optional_path(deepscholar),
            library=_optional_path(library),
        )
        start_evaluation(job_registry(), settings, options, language_model_for(settings) if judge else None)
        st.rerun()


def _job_panel(job: Job) -> None:
    state = "running" if job.running else ("error" if job.state == "failed" else "complete")
    steps = job.items()
    label = (steps[-1] if steps else "starting ...") if job.running else f"{job.title}: {state}"
    with st.status(label, state=state, expanded=job.running):
        for step in steps[-SHOWN_STEPS:]:
            st.write(step)
    if job.state == "failed":
        st.error(f"the evaluation stopped: {job.error}", icon=":material/error:")
    elif job.state == "done":
        summary = job.result
        st.success(
            f"{summary['surveys']} surveys evaluated in {summary['seconds']} s; judge calls "
            f"{summary['judge_calls']}, cached {summary['judge_cache_hits']}."
        )


def _live() -> None:
    job = evaluation_job(job_registry())
    if job is None:
        return
    _job_panel(job)
    if not job.running:
        st.rerun(scope="app")


settings, folder, table = None, None, None
with shown_errors("reading the settings"):
    settings = current_settings()
    default = settings.outputs_dir / "eval"
    label = "Report folder (written here, or by `cpmsurvey eval --output DIR`)"
    folder = Path(st.text_input(label, str(default))).expanduser()
if settings is None:
    st.stop()

job = evaluation_job(job_registry())
if job is not None and job.running:
    st.fragment(_live, run_every=REFRESH_SECONDS)()
    st.stop()
if job is not None:
    _job_panel(job)

with shown_errors("reading the evaluation"):
    table = _report(folder)
    if table is not None:
        _scores(table, folder)

with shown_errors("starting the evaluation"):
    _evaluation_form(settings, folder, expanded=table is None)

if table is None:
    with shown_errors("reading our surveys"):
        st.info(
            f"No evaluation report in {folder} yet. Start one above, or run `cpmsurvey eval --output {folder}` "
            "(judge-free metrics, and judge metrics with --judge); it writes per_survey.csv there. "
            "Meanwhile, counts read from our surveys:",
            icon=":material/info:",
        )
        _counts_of_our_surveys()
