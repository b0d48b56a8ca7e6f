"""The Evaluate page reads the report `cpmsurvey eval` writes (made here by eval's own report
writer from known rows) and shows per-system means and charts; without one it says so."""

from __future__ import annotations

import pytest
from apptest_helpers import open_page, texts

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
    app.multiselect[1].set_value(["t1"]).run()  # one topic
    assert app.dataframe[0].value.loc["ours", "ref_recall"] == 0.25


def test_without_a_report_the_page_says_how_to_make_one(ui_data):
    app = open_page("views/evaluate.py")
    assert any("No evaluation report" in i.value and "cpmsurvey eval" in i.value for i in app.info)
    assert not app.get("vega_lite_chart")
