"""The run API around stored runs: review, inspect, list, load, export, delete; run options."""

from __future__ import annotations

import json

import pytest

from app.workflow import (
    OutlineEditError,
    RunNotFoundError,
    RunOptions,
    SurveyWorkflow,
    WorkflowError,
    delete_run,
    export_run,
    inspect_run,
    list_runs,
    load_survey,
    resume_overrides,
)
from app.workflow.writing_mode import MODEL_WRITES

TOPIC = "reasoning in large language models"


def with_review(settings):
    return settings.model_copy(update={"generate": settings.generate.model_copy(update={"review_outline": True})})


def test_review_refuses_a_bad_edit_and_keeps_the_run_waiting(settings, retriever, make_llm, good_outline):
    with SurveyWorkflow(with_review(settings), make_llm(), retriever, grammar_for=None) as flow:
        flow.start(TOPIC, run_id="review-2")
        with pytest.raises(OutlineEditError, match="no sections"):
            flow.review("review-2", {**good_outline, "sections": []})
        assert flow.pending("review-2").outline["title"] == good_outline["title"]
        outcome = flow.review("review-2", {**good_outline, "sections": good_outline["sections"][:1]})
        assert outcome.status == "finished" and len(outcome.survey.sections) == 1
        assert flow.pending("review-2") is None
        with pytest.raises(WorkflowError, match="not waiting for an outline review"):
            flow.review("review-2", good_outline)


def test_stored_runs_can_be_listed_loaded_exported_and_deleted(settings, retriever, make_llm, tmp_path):
    with SurveyWorkflow(settings, make_llm(), retriever, grammar_for=None) as flow:
        outcome = flow.start(TOPIC, run_id="stored-1")
        checkpointer = flow.checkpointer
        info = inspect_run(checkpointer, "stored-1")
        assert info.status == "finished" and info.options.generate.words_per_section == 120
        assert [run.run_id for run in list_runs(checkpointer)] == ["stored-1"]
        assert load_survey(checkpointer, "stored-1").to_json() == (outcome.output_dir / "survey.json").read_text()
        copy = export_run(checkpointer, "stored-1", tmp_path / "copy")
        assert (copy / "survey.md").read_text() == (outcome.output_dir / "survey.md").read_text()
        delete_run(checkpointer, "stored-1")
        assert not outcome.output_dir.exists() and list_runs(checkpointer) == []
        with pytest.raises(RunNotFoundError):
            inspect_run(checkpointer, "stored-1")


def test_an_unfinished_run_is_not_exported(settings, retriever, make_llm):
    with SurveyWorkflow(with_review(settings), make_llm(), retriever, grammar_for=None) as flow:
        flow.start(TOPIC, run_id="waiting-1")
        with pytest.raises(WorkflowError, match="not finished"):
            export_run(flow.checkpointer, "waiting-1")


def test_run_options_round_trip_and_resume_keeps_them_unless_a_flag_says_otherwise(settings, tmp_path):
    options = RunOptions.from_settings(settings, tmp_path / "out", MODEL_WRITES)
    record = json.loads(json.dumps(options.to_json()))
    assert RunOptions.from_json(record) == options
    # a run recorded before an option existed reads today's default
    older = {key: value for key, value in record.items() if key != "batch_sections"}
    assert RunOptions.from_json(older).generate.batch_sections is False
    overrides = resume_overrides(options, {"generate.words_per_section": 300, "llm.model": None})
    assert overrides["generate.words_per_section"] == 300 and overrides["generate.sections"] == 4
    assert overrides["llm.model"] == settings.llm.model and overrides["corpus"] is None
