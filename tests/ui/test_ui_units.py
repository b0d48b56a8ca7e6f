"""The UI's plain parts without Streamlit: the job registry, progress folding, the outline
rows, the survey rendering and the upload checks."""

from __future__ import annotations

import gzip
import html
import json
import threading
from datetime import date

import pytest

from app.interfaces.ui.ingest import check_jsonl, save_upload, upload_path
from app.interfaces.ui.jobs import JobBusyError, JobRegistry
from app.interfaces.ui.outline_form import outline_rows, rows_to_outline
from app.interfaces.ui.progress import fold_events
from app.interfaces.ui.runs import InputError
from app.interfaces.ui.survey_view import contents, render_text
from app.settings import Settings
from app.workflow import Event
from retriever.types import Paper
from writer.survey import Survey, SurveySection


def test_a_job_keeps_what_it_reported_and_its_result():
    registry = JobRegistry()
    release = threading.Event()

    def work(report):
        report("first")
        release.wait(5)
        report("second")
        return 42

    job = registry.start("run:a", "topic a", work)
    assert job.running and registry.running("run:") == [job]
    with pytest.raises(JobBusyError):
        registry.start("run:a", "topic a", work)
    release.set()
    assert job.wait(5)
    assert (job.state, job.result, job.items()) == ("done", 42, ["first", "second"])
    assert registry.running() == [] and registry.get("run:a") is job
    registry.forget("run:a")
    assert registry.get("run:a") is None


def test_a_failing_job_keeps_a_message_not_a_traceback():
    registry = JobRegistry()

    def ours(report):
        raise InputError("the topic is empty")

    def bug(report):
        raise KeyError("boom")

    first, second = registry.start("a", "a", ours), registry.start("b", "b", bug)
    assert first.wait(5) and second.wait(5)
    assert (first.state, first.error) == ("failed", "the topic is empty")
    assert second.state == "failed" and second.error.startswith("unexpected error (KeyError")


def test_progress_folds_stages_papers_sections_and_warnings():
    events = [
        Event("run_started", "r"),
        Event("node_started", "r", node="plan_queries"),
        Event("node_finished", "r", node="plan_queries", data={"seconds": 1.25}),
        Event("papers_found", "r", node="retrieve_broad", data={"count": 40}),
        Event("papers_found", "r", node="retrieve_section", section=1, message="Agents", data={"count": 5}),
        Event("node_started", "r", node="write_section", section=1),
        Event("token", "r", node="write_section", section=1, data={"text": "Agents act "}),
        Event("token", "r", node="write_section", section=1, data={"text": "[arXiv:2501.00001]."}),
        Event("warning", "r", message="one citation removed"),
    ]
    progress = fold_events(events)
    assert progress.done == [("planning search queries", 1.25)]
    assert progress.papers == [("the topic", 40), ("Agents", 5)]
    assert progress.current == "writing section 2"
    assert progress.sections == {1: "Agents act [arXiv:2501.00001]."}
    assert progress.warnings == ["one citation removed"]
    assert progress.headline == "writing section 2 ..."
    assert fold_events([*events, Event("run_finished", "r")]).headline == "finished"


def test_outline_rows_round_trip_and_edits():
    outline = {
        "title": "T",
        "sections": [
            {
                "title": "A",
                "description": "a",
                "queries": ["q1", "q2"],
                "subsections": [{"title": "s", "description": "d"}],
            },
            {"title": "B", "description": "b", "queries": [], "subsections": []},
        ],
    }
    rows = outline_rows(outline)
    assert rows[0] == {"position": 1, "title": "A", "description": "a", "queries": "q1; q2", "subsections": "s"}
    assert rows_to_outline("T", rows, outline) == outline
    rows[1]["position"] = 0  # B moves first
    rows[0]["queries"] = " x ;; y "
    rows.append({"position": None, "title": "", "description": "", "queries": "", "subsections": ""})  # blank: dropped
    rows.append({"position": None, "title": "C", "description": "", "queries": "z", "subsections": "s; t"})
    edited = rows_to_outline(" New ", rows, outline)
    assert edited["title"] == "New"
    assert [s["title"] for s in edited["sections"]] == ["B", "A", "C"]
    assert edited["sections"][1]["queries"] == ["x", "y"]
    assert edited["sections"][2]["subsections"] == [
        {"title": "s", "description": "d"},
        {"title": "t", "description": ""},
    ]
    # a row given another's position is placed before it; a removed row is left out
    rows = outline_rows(outline)
    rows.append({"position": 1, "title": "C", "description": "", "queries": "", "subsections": ""})
    assert [s["title"] for s in rows_to_outline("T", rows, outline)["sections"]] == ["C", "A", "B"]
    rows[0]["removed"] = True
    assert [s["title"] for s in rows_to_outline("T", rows, outline)["sections"]] == ["C", "B"]


def _survey() -> Survey:
    paper = Paper(
        "2501.00001",
        "Deep <b>Nets</b> & Co",
        "We study <script>x</script> nets.",
        ("Ann Lee", "Bo Wu"),
        ("cs.LG",),
        date(2025, 1, 2),
    )
    other = Paper("2501.00002", "Other", "Abstract two.", (), (), None)
    section = SurveySection(
        "Methods", "Nets work [arXiv:2501.00001]; see also [arXiv:2501.00002; arXiv:2501.00001] and [arXiv:2599.99999]."
    )
    papers = {p.arxiv_id: p for p in (paper, other)}
    return Survey("S", "abs", "Intro <i>x</i> [arXiv:2501.00002].", [section], "End.", papers)


def test_citations_become_numbered_arxiv_links_with_an_escaped_card():
    survey = _survey()
    rendered = render_text(survey.sections[0].text, survey)
    assert rendered.count('href="https://arxiv.org/abs/2501.00001"') == 2
    assert rendered.count('href="https://arxiv.org/abs/2501.00002"') == 1
    assert ">[1]</a>" in rendered and ">[2]</a>" in rendered  # numbered by first citation
    assert "2599.99999" not in rendered  # not a reference: dropped as in the exports
    assert "<script>" not in rendered and html.escape("<script>x</script>") in rendered
    assert html.escape("Deep <b>Nets</b> & Co") in rendered and "Ann Lee, Bo Wu · 2025-01-02" in rendered
    intro = render_text(survey.introduction, survey)
    assert "<i>" not in intro and "&lt;i&gt;" in intro
    assert contents(survey) == [("part-1", "1. Introduction"), ("part-2", "2. Methods"), ("part-3", "3. Conclusion")]


def test_uploads_must_be_jsonl_and_land_under_the_data_folder(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    record = json.dumps({"id": "2501.00001", "title": "A", "abstract": "x"}).encode() + b"\n"
    check_jsonl(record, "a.jsonl")
    check_jsonl(gzip.compress(record), "a.jsonl.gz")
    for bad, why in [
        (b"id,title\n1,2\n", "not JSONL"),
        (b'{"title": "no id"}\n', "no id"),
        (b"\x1f\x8bnot gzip", "cannot be unpacked"),
    ]:
        with pytest.raises(InputError, match=why):
            check_jsonl(bad, "x.jsonl")
    path = save_upload(settings, "../../etc/../.evil name?.jsonl", record)
    assert path.parent == settings.data_dir / "uploads" and path.read_bytes() == record
    assert path.name.endswith("-evil_name_.jsonl")
    assert upload_path(settings, "/abs/dir/x.gz").parent == settings.data_dir / "uploads"
