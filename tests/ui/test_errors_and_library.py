"""Bad input gives a clear message on the page, never a traceback; the Library page ingests
an upload with progress, charts the corpus and searches it."""

from __future__ import annotations

import gzip
import itertools
import json
import socket

import pytest
from apptest_helpers import button, open_page, texts, wait_until

pytestmark = pytest.mark.slow


def test_an_empty_topic_is_refused_on_the_page(ui_data, scripted_server):
    app = open_page("views/new_survey.py")
    app = button(app, "Write survey").click().run()
    assert any("topic is empty" in e.value for e in app.error), texts(app)
    assert "run" not in app.query_params and not scripted_server.requests[len(scripted_server.requests) :]


@pytest.mark.parametrize("page", ["views/new_survey.py", "views/result.py"])
def test_a_run_id_that_does_not_exist_is_named(ui_data, page):
    app = open_page(page, run="20260101-000000-gone-000000")
    assert any("no run with id '20260101-000000-gone-000000'" in e.value for e in app.error), texts(app)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_backend_that_is_down_stops_the_run_with_a_message(ui_data, monkeypatch):
    monkeypatch.setenv("CPMSURVEY_LLM__BASE_URL", f"http://127.0.0.1:{_closed_port()}/v1")
    app = open_page("views/new_survey.py")
    app.text_area[0].input("reasoning in large language models")
    app = button(app, "Write survey").click().run()
    app = wait_until(app, lambda a: bool(a.error), "the run to fail")
    message = " ".join(e.value for e in app.error)
    assert "127.0.0.1" in message and "resume" in message.lower(), message
    assert any(b.label == "Resume the run" for b in app.button)


def test_a_backend_that_is_down_is_named_before_the_run_when_asked_for_its_model(ui_data, monkeypatch):
    monkeypatch.setenv("CPMSURVEY_LLM__BASE_URL", f"http://127.0.0.1:{_closed_port()}/v1")
    monkeypatch.setenv("CPMSURVEY_LLM__MODEL", "embedded")  # the server is asked which model it serves
    app = open_page("views/new_survey.py")
    app.text_area[0].input("reasoning in large language models")
    app = button(app, "Write survey").click().run()
    assert any("127.0.0.1" in e.value for e in app.error), texts(app)
    assert "run" not in app.query_params


def test_an_upload_that_is_not_jsonl_is_refused_and_not_kept(ui_data):
    app = open_page("views/library.py")
    app.file_uploader[0].set_value(("papers.jsonl", b"id,title\n1,two\n", "application/octet-stream"))
    app = button(app, "Upload and index").click().run()
    assert any("not JSONL" in e.value for e in app.error), texts(app)
    assert not (ui_data / "uploads").exists()


def test_library_ingests_an_upload_charts_and_searches(ui_data, sample_corpus):
    app = open_page("views/library.py")
    assert next(m.value for m in app.metric) == "300"
    charts = app.get("vega_lite_chart")
    assert len(charts) == 2, "papers by month and by category"
    with gzip.open(sample_corpus, "rt", encoding="utf-8") as lines:
        new = "".join(itertools.islice(lines, 300, 305)).encode()
    app.file_uploader[0].set_value(("more.jsonl", new, "application/octet-stream"))
    app = button(app, "Upload and index").click().run()
    app = wait_until(app, lambda a: not any("An ingest is running" in i.value for i in a.info), "the ingest to end")
    assert next(m.value for m in app.metric) == "305"
    assert not app.error, texts(app)
    assert len(list((ui_data / "uploads").iterdir())) == 1
    first_new = json.loads(new.splitlines()[0])
    app.text_input[-2].input(first_new["title"])  # the search box (the last text input is categories)
    app = button(app, "Search").click().run()
    hits = app.dataframe[0].value
    assert first_new["title"] in list(hits["title"])[:3]
    assert {"score", "dense rank", "bm25 rank"} <= set(hits.columns)
    app.text_input[-1].input("no.such.category")
    app = button(app, "Search").click().run()
    assert len(app.dataframe[0].value) == 0


def test_a_corpus_file_that_does_not_exist_is_named(ui_data):
    app = open_page("views/new_survey.py")
    app.text_area[0].input("reasoning in large language models")
    app.radio[0].set_value("corpus")
    next(t for t in app.text_input if t.label.startswith("Corpus file")).input(str(ui_data / "missing.jsonl"))
    app = button(app, "Write survey").click().run()
    app = wait_until(app, lambda a: bool(a.error), "the run to stop")
    messages = [e.value for e in app.error]
    assert any("missing.jsonl does not exist" in m for m in messages), messages
    assert not any("no run with id" in m for m in messages), messages
