"""The last node: the survey built from the state and written to the run's folder."""

from __future__ import annotations

import time

from app.workflow.nodes.deps import NodeDeps
from app.workflow.options import RunOptions
from app.workflow.outputs import write_outputs
from app.workflow.state import SurveyState, papers_of, stage_seconds
from retriever.types import Paper
from writer.survey import Survey, SurveySection


def assemble(state: SurveyState, deps: NodeDeps) -> dict:
    """Write survey.md, .bib, .tex and .json into the run's folder (survey.json last); what
    sanitizing removed from the model's text is reported as warnings."""
    started = time.perf_counter()
    survey = survey_from_state(state)
    folder = write_outputs(survey, state["output_dir"], stage_started=started)
    notes = survey.metadata.get("sanitized", [])
    for note in notes:
        deps.emitter.warning(note, node="assemble")
    deps.emitter.emit("node_finished", node="assemble", message=f"wrote {folder}", output_dir=str(folder))
    return {"warnings": notes}


def survey_from_state(state: SurveyState) -> Survey:
    """The Survey a checked state describes (every section has its final text), with the
    run's record as metadata."""
    records = [record for _, record in sorted(state["sections"].items())]
    papers: dict[str, Paper] = {}
    for record in records:
        given = set(record["given"])
        for paper in papers_of(record["papers"]):
            if paper.arxiv_id in given:
                papers.setdefault(paper.arxiv_id, paper)
    sections = [
        SurveySection(
            title=record["title"],
            text=record["text"],
            description=record["description"],
            subsections=record["subsections"],
            queries=record["queries"],
            papers=record["given"],
            removed_citations=record["removed_citations"],
            support_checks=record["support_checks"],
        )
        for record in records
    ]
    frame = state["frame"]
    return Survey(
        title=state["outline"]["title"],
        abstract=frame["abstract"],
        introduction=frame["introduction"],
        sections=sections,
        conclusion=frame["conclusion"],
        papers=papers,
        outline=state["outline"],
        metadata=run_metadata(state),
    )


def run_metadata(state: SurveyState) -> dict:
    """What survey.json records about the run: options, queries, retrieval, timings, tokens."""
    options = state["options"]
    run = RunOptions.from_json(options)
    return {
        "run_id": state["run_id"],
        "topic": state["topic"],
        "model": run.model,
        "backend": run.backend,
        "corpus": run.corpus,
        "settings": {key: value for key, value in options.items() if key not in ("model", "backend", "corpus")},
        "queries": state.get("queries", []),
        "candidates": [record["id"] for record in state.get("candidates", [])],
        "section_retrieval": {
            record["title"]: [paper["id"] for paper in record["papers"]]
            for _, record in sorted(state["sections"].items())
        },
        "outline_source": state.get("outline_source"),
        "warnings": state.get("warnings", []),
        "timings_s": {stage: round(seconds, 3) for stage, seconds in stage_seconds(state.get("spans", [])).items()},
        "tokens": {kind: int(count) for kind, count in state.get("tokens", {}).items()},
        "created_at": run.created_at,
    }
