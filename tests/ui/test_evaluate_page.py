"""The Evaluate page reads the report `cpmsurvey eval` writes (made here by eval's own report
writer from known rows) and shows per-system means and charts; without one it says so. It
also starts an evaluation (a survey written on the New survey page, a SurveyBench-shaped
folder, the scripted server as the judge) and shows its progress, then its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apptest_helpers import button, open_page, page_links, texts, wait_until
from ui_scripted_server import JUDGE_SCORE

pytestmark = pytest.mark.slow

ROWS = [
    {"system": "ours", "topic": "t1", "ref_recall": 0.25, "ref_precision": 0.5, "outline_similarity": 0.6},
    {"system": "ours", "topic": "t2", "ref_recall": 0.75, "ref_precision": 0.5, "outline_similarity": 0.8},
    {"system": "AutoSurvey", "topic": "t1", "ref_recall": 0.1, "ref_precision": 0.2, "outline_similarity": 0.5},
]


def test_scores_of_a_report_as_a_table_and_charts(ui_data):
    from eval.report import write_report

    write_report(ROWS, ui_data / "outputs" / "eval", judge_name=None)
    app = open_page("views/evaluate.py")
    assert not app.error, texts(app)
    means = app.dataframe[0].value
    assert list(means.index) == ["ours", "AutoSurvey"]
    assert means.loc["ours", "ref_recall"] == 0.5 and means.loc["ours", "topics"] == 2
    assert means.loc["AutoSurvey", "ref_precision"] == 0.2
    assert len(app.get("vega_lite_chart")) == 3  # ref_recall, ref_precision, outline_similarity
    _labelled(app.multiselect, "Topics shown").set_value(["t1"]).run()  # one topic
    assert app.dataframe[0].value.loc["ours", "ref_recall"] == 0.25


def test_without_a_report_the_page_says_how_to_make_one(ui_data):
    app = open_page("views/evaluate.py")
    assert any("No evaluation report" in i.value and "cpmsurvey eval" in i.value for i in app.info)
    assert not app.get("vega_lite_chart")


TOPIC = "reasoning in large language models"
HUMAN = (
    "# Reasoning in large language models\n\n## 1 Introduction\n\nModels reason step by step [1].\n\n"
    "## 2 Reinforcement learning\n\nRewards shape reasoning [2].\n\n## References\n\n"
    "[1] Chain of thought prompting. arXiv:2201.11903\n[2] Reasoning with rewards. arXiv:2501.12948\n"
)
BASELINE = "# A baseline\n\n## Introduction\n\nModels reason [1].\n\n## References\n\n[1] Chain of thought prompting\n"


def _labelled(widgets, label: str):
    found = [w for w in widgets if w.label.startswith(label)]
    assert found, f"no widget {label!r} among {[w.label for w in widgets]}"
    return found[0]


def _surveybench(root: Path) -> Path:
    """A SurveyBench-shaped folder with one topic: the human survey, AutoSurvey's, the outline."""
    for system, text in (("HumanSurvey", HUMAN), ("AutoSurvey", BASELINE)):
        (root / system).mkdir(parents=True)
        (root / system / f"{TOPIC}.md").write_text(text, encoding="utf-8")
    outline = [{"topic": TOPIC, "outline": "1 Introduction\n2 Reinforcement learning"}]
    (root / "HumanSurvey" / "outlines.json").write_text(json.dumps(outline), encoding="utf-8")
    return root


def _written_run(ui_data: Path) -> str:
    """A survey on TOPIC written through the New survey page; its run id."""
    app = open_page("views/new_survey.py")
    app.text_area[0].input(TOPIC)
    app = button(app, "Write survey").click().run()
    run_id = app.query_params["run"]

    def finished(page) -> bool:
        return bool(page.error) or any(link.proto.label == "Open the result" for link in page_links(page))

    app = wait_until(app, finished, "the survey to be written")
    assert not app.error, [e.value for e in app.error]
    return run_id


def test_an_evaluation_started_on_the_page_runs_and_shows_its_report(ui_data, scripted_server, tmp_path):
    run_id = _written_run(ui_data)
    bench = _surveybench(tmp_path / "surveybench")
    app = open_page("views/evaluate.py")
    assert "No evaluation report" in texts(app)
    _labelled(app.text_input, "SurveyBench folder").input(str(bench)).run()
    assert _labelled(app.multiselect, "Topics to evaluate").options == [TOPIC]
    ours = _labelled(app.multiselect, "Our surveys")
    label = next(option for option in ours.options if run_id in option)
    ours.set_value([label]).run()
    _labelled(app.multiselect, "Baseline systems").set_value(["AutoSurvey"]).run()
    _labelled(app.toggle, "Judge metrics").set_value(True).run()
    judged_before = len(scripted_server.requests)
    scripted_server.delay = 0.3  # the judge answers slowly enough to watch the evaluation run
    try:
        app = button(app, "Evaluate").click().run()
        assert not app.error, [e.value for e in app.error]
        running = open_page("views/evaluate.py")  # another tab finds the job of the server process
        assert "scoring the surveys (judge: scripted)" in texts(running), texts(running)
        assert not any(b.label == "Evaluate" for b in running.button)  # one evaluation at a time
    finally:
        scripted_server.delay = 0.0
    app = wait_until(app, lambda page: bool(page.success) or bool(page.error), "the evaluation to finish")
    assert not app.error, [e.value for e in app.error]
    assert any("3 surveys evaluated" in s.value for s in app.success), texts(app)  # human, AutoSurvey, ours
    report = ui_data / "outputs" / "eval"
    assert (report / "report.md").is_file() and (report / "per_survey.csv").is_file()
    means = app.dataframe[0].value
    assert {"cpmsurvey", "AutoSurvey", "HumanSurvey"} <= set(means.index)
    assert means.loc["cpmsurvey", "relevance"] == JUDGE_SCORE  # the scripted judge's score reached the table
    assert len(scripted_server.requests) > judged_before
    steps = texts(app)
    assert "scoring cpmsurvey on" in steps and "(3 of 3)" in steps  # the progress, kept after the end


def test_a_folder_that_is_not_surveybench_is_refused_on_the_page(ui_data, tmp_path):
    app = open_page("views/evaluate.py")
    _labelled(app.text_input, "SurveyBench folder").input(str(tmp_path / "nowhere")).run()
    assert any("starting the evaluation failed" in e.value for e in app.error), texts(app)
    assert not app.exception
