"""The whole evaluation on a tiny SurveyBench-shaped folder: report, tables, plots, the
details of the judges, and the plan of --generate."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from eval.judge import Judge
from eval.pipeline import EvalRequest, generation_plan, run_evaluation
from eval.runner import JudgeLimits
from eval.surveybench import SurveyBenchError

HUMAN = """# Human survey on widgets

## 1 Introduction

Widgets matter [1]. Gadgets matter too [2].

## 2 Methods

Widget training uses alpha [1].

## References

[1] A. B. Widget learning with deep networks. arXiv:2403.00001, 2024.
[2] C. D. Gadget learning at scale. arXiv:2405.00002, 2024.
"""

SYSTEM = """# Widgets

## Introduction

Widgets matter a lot [1]. Nothing else is cited here.

## References

[1] Widget learning with deep networks
"""


def _bench(root: Path) -> Path:
    for system, text in (("HumanSurvey", HUMAN), ("AutoSurvey", SYSTEM)):
        (root / system).mkdir(parents=True)
        (root / system / "Widgets.md").write_text(text)
    outline = [{"topic": "Widgets", "outline": "1 Introduction\n2 Methods"}]
    (root / "HumanSurvey" / "outlines.json").write_text(json.dumps(outline))
    return root


def test_run_evaluation_writes_report_tables_plots_and_details(kit, tmp_path):
    root = _bench(tmp_path / "bench")

    def answer(prompt: str) -> str:
        if prompt.startswith("Split"):
            return kit.reply(facts=["widgets matter"])
        if prompt.startswith("Rate"):
            return kit.reply(score=3, reason="average")
        return kit.reply(supported=True, reason="ok")

    judge = Judge(kit.ScriptedLLM(answer), tmp_path / "cache")
    request = EvalRequest(surveybench=root, out=tmp_path / "out", systems=["AutoSurvey"], limits=JudgeLimits(2, 2, 50))
    summary = run_evaluation(request, kit.WordEmbedder(), judge)
    out = tmp_path / "out"
    assert summary["surveys"] == 2 and summary["judge"] == "scripted-judge"
    with open(out / "per_survey.csv") as handle:
        rows = {row["system"]: row for row in csv.DictReader(handle)}
    assert float(rows["AutoSurvey"]["ref_recall"]) == 0.5  # its one title is in entry 1 of 2
    assert float(rows["AutoSurvey"]["ref_precision"]) == 1.0
    assert float(rows["AutoSurvey"]["content_quality"]) == 3.0
    assert rows["HumanSurvey"]["ref_recall"] == ""  # no human survey to compare a human survey with
    with open(out / "reference_resolution.csv") as handle:
        resolution = {row["system"]: row for row in csv.DictReader(handle)}
    assert (resolution["AutoSurvey"]["refs_entries"], resolution["AutoSurvey"]["refs_unresolved"]) == ("1", "1")
    assert resolution["HumanSurvey"]["refs_by_id"] == "2"
    report = (out / "report.md").read_text()
    assert "judge: scripted-judge" in report and "published_content_quality" in report
    for name in ("judge_free_bars.png", "judge_bars.png", "per_topic_spread.png", "judged.csv", "judge_free.csv"):
        assert (out / name).stat().st_size > 0
    details = json.loads((out / "details" / "AutoSurvey__Widgets.json").read_text())
    assert details["fact_score"]["facts"][0]["verdict"] == "supported"
    assert details["content_quality"]["reasons"]["depth"] == "average"


def test_unknown_topic_is_a_clear_error(kit, tmp_path):
    root = _bench(tmp_path / "bench")
    with pytest.raises(SurveyBenchError, match="unknown topics"):
        run_evaluation(EvalRequest(surveybench=root, out=tmp_path / "o", topics=["Nope"]), kit.WordEmbedder())


def test_generation_plan_dates_by_newest_cited_paper(tmp_path):
    root = _bench(tmp_path / "bench")
    assert generation_plan(root, ["Widgets"]) == [{"topic": "Widgets", "date_to": "2024-05-31"}]
    with pytest.raises(SurveyBenchError):
        generation_plan(root, ["Gizmos"])
