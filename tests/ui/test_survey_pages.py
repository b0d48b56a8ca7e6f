"""The New survey, Result and History pages driven with AppTest against a scripted LLM
server: write a survey, review and edit its outline, read it, re-export and delete it."""

from __future__ import annotations

import json

import pytest
from apptest_helpers import button, open_page, page_links, texts, wait_until
from ui_scripted_server import OUTLINE

pytestmark = pytest.mark.slow

TOPIC = "reasoning in large language models"


def _finished(app) -> bool:
    return any(link.proto.label == "Open the result" for link in page_links(app)) or bool(app.error)


def _write(app, topic: str = TOPIC, review: bool = False):
    app.text_area[0].input(topic)
    if review:
        app.toggle[0].set_value(True)
    return button(app, "Write survey").click().run()


def test_write_read_reexport_and_delete_a_survey(ui_data, scripted_server):
    app = open_page("views/new_survey.py")
    next(box for box in app.selectbox if box.label == "Writing mode").set_value("grounded")
    app = _write(app)
    run_id = app.query_params["run"]
    app = wait_until(app, _finished, "the run to finish")
    assert not app.error, [e.value for e in app.error]
    assert "The survey is written." in texts(app)
    listed = [c.value for c in app.caption if "https://arxiv.org/abs/" in c.value]
    assert listed, "the papers found are listed with their arXiv links and titles"
    survey = json.loads((ui_data / "outputs" / run_id / "survey.json").read_text(encoding="utf-8"))
    assert survey["metadata"]["settings"]["writer_mode"] == "grounded" and survey["sections"]

    result = open_page("views/result.py", run=run_id)
    page = texts(result)
    assert survey["title"] in page
    cited = survey["references"]
    assert cited, "the scripted sections cite their papers"
    for arxiv_id in cited:
        assert f'href="https://arxiv.org/abs/{arxiv_id}"' in page
    first = next(p for p in survey["papers"] if p["id"] == cited[0])
    assert first["abstract"][:60].replace("&", "&amp;") in page or first["abstract"][:40] in page
    labels = sorted(b.proto.label for b in result.get("download_button"))
    assert labels == ["BibTeX", "JSON", "LaTeX", "Markdown"]
    assert result.code and result.code[0].language == "markdown"
    made = {m.label: m.value for m in result.metric}
    assert made["Model"] == "scripted" and made["Writing mode"] == "grounded"  # the form's choice reached the run

    history = open_page("views/history.py")
    assert list(history.dataframe[0].value["run id"]) == [run_id]
    history.selectbox[0].set_value(run_id).run()
    (ui_data / "outputs" / run_id / "survey.md").unlink()
    button(history, "Re-export").click().run()
    assert (ui_data / "outputs" / run_id / "survey.md").is_file()
    assert any("Wrote survey.md" in s.value for s in history.success)

    button(history, "Delete…").click().run()
    assert any("cannot be undone" in w.value for w in history.warning)
    button(history, "Cancel").click().run()
    assert (ui_data / "outputs" / run_id / "survey.json").is_file()
    button(history, "Delete…").click().run()
    button(history, "Yes, delete it").click().run()
    assert not (ui_data / "outputs" / run_id).exists()
    assert "No runs yet" in texts(open_page("views/history.py"))


def test_review_edits_the_outline_before_writing(ui_data, scripted_server):
    app = _write(open_page("views/new_survey.py"), review=True)
    run_id = app.query_params["run"]
    key = f"outline-{run_id}"
    app = wait_until(app, lambda a: any(b.label == "Add a section" for b in a.button), "the outline review form")
    # rename the first section, remove the second, add one with its own query placed first
    app.text_input(key=f"{key}-0-title").input("Chains of thought")
    app.checkbox(key=f"{key}-1-remove").check()
    app = button(app, "Add a section").click().run()
    app.text_input(key=f"{key}-2-title").input("Tool use by agents")
    app.text_input(key=f"{key}-2-queries").input("language model agents; tool use")
    app.number_input(key=f"{key}-2-pos").set_value(1)
    app = button(app, "Continue writing with this outline").click().run()
    app = wait_until(app, _finished, "the run to finish after the review")
    assert not app.error, [e.value for e in app.error]
    survey = json.loads((ui_data / "outputs" / run_id / "survey.json").read_text(encoding="utf-8"))
    titles = [section["title"] for section in survey["sections"]]
    assert titles == ["Tool use by agents", "Chains of thought", OUTLINE["sections"][2]["title"]]
    assert survey["outline"]["sections"][0]["queries"] == ["language model agents", "tool use"]
    assert "language model agents" in survey["sections"][0]["queries"]


def test_an_outline_left_without_sections_is_refused_on_the_page(ui_data):
    app = _write(open_page("views/new_survey.py"), review=True)
    run_id = app.query_params["run"]
    key = f"outline-{run_id}"
    app = wait_until(app, lambda a: any(b.label == "Add a section" for b in a.button), "the outline review form")
    for number in range(len(OUTLINE["sections"])):
        app.checkbox(key=f"{key}-{number}-remove").check()
    app = button(app, "Continue writing with this outline").click().run()
    assert any("no sections" in e.value for e in app.error), texts(app)
    assert any(b.label == "Continue writing with this outline" for b in app.button)


def test_a_run_keeps_going_when_its_tab_is_closed_and_shows_when_reopened(ui_data, scripted_server):
    scripted_server.delay = 0.4  # long enough for a second session to find the run going
    try:
        first = _write(open_page("views/new_survey.py"))
        run_id = first.query_params["run"]
        del first  # the tab is closed: its session is never used again
        second = open_page("views/new_survey.py")  # a new tab, without the run in its address
        listed = [b for b in second.button if run_id in b.label]
        assert listed, f"the running run is not offered: {[b.label for b in second.button]}"
        second = listed[0].click().run()
        assert second.query_params["run"] == run_id
        second = wait_until(second, _finished, "the run to finish")
        assert not second.error and "The survey is written." in texts(second)
    finally:
        scripted_server.delay = 0.0
