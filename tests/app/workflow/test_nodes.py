"""Each graph node alone: a state (or task) in, its update out, no graph and no checkpointer."""

from __future__ import annotations

import pytest

from app.settings import Settings
from app.workflow import EmptyRetrievalError, RunOptions
from app.workflow.events import EventEmitter
from app.workflow.nodes import (
    NodeDeps,
    check_citations,
    dispatch_retrieval,
    plan_outline,
    plan_queries,
    rerank,
    retrieve_broad,
    retrieve_section,
    send_writers,
    survey_from_state,
    write_frame,
    write_section,
)
from app.workflow.state import paper_records
from app.workflow.writing_mode import MODEL_WRITES

TOPIC = "reasoning in large language models"


@pytest.fixture()
def options(tmp_path) -> dict:
    settings = Settings(data_dir=tmp_path / "data", generate={"sections": 4, "words_per_section": 120})
    return RunOptions.from_settings(settings, tmp_path / "out", MODEL_WRITES).to_json()


@pytest.fixture()
def events() -> list:
    return []


@pytest.fixture()
def deps(make_llm, retriever, events) -> NodeDeps:
    return NodeDeps(make_llm(), retriever, EventEmitter("run-1", events.append))


def test_plan_queries_keeps_the_topic_first_and_counts_tokens(deps, options):
    update = plan_queries({"topic": TOPIC, "options": options}, deps)
    assert update["queries"][0] == TOPIC and len(update["queries"]) > 1
    assert update["tokens"]["completion_tokens"] > 0


def test_retrieve_broad_returns_paper_records_and_reports_them(deps, options, events):
    update = retrieve_broad({"topic": TOPIC, "queries": [TOPIC], "options": options}, deps)
    assert update["candidates"] and set(update["candidates"][0]) == {
        "id", "title", "abstract", "authors", "categories", "date"
    }  # fmt: skip
    assert events[-1].kind == "papers_found" and events[-1].data["count"] == len(update["candidates"])


def test_retrieve_broad_reports_what_a_plain_retriever_could_not_offer(deps, options, events):
    update = retrieve_broad({"topic": TOPIC, "queries": [TOPIC], "options": options}, deps)
    assert any("VectorSource" in note for note in update["warnings"])
    assert [e.message for e in events if e.kind == "warning"] == update["warnings"]


def test_retrieve_broad_names_the_filters_that_left_nothing(deps, options):
    options = {**options, "date_from": "2099-01-01"}
    with pytest.raises(EmptyRetrievalError, match="published 2099-01-01 to"):
        retrieve_broad({"topic": TOPIC, "queries": [TOPIC], "options": options}, deps)


def test_plan_outline_announces_the_outline(deps, options, retriever, events, good_outline):
    candidates = paper_records(retriever.papers[:20])
    update = plan_outline({"topic": TOPIC, "candidates": candidates, "options": options}, deps)
    assert update["outline"]["title"] == good_outline["title"] and update["outline_source"] == "model"
    assert events[-1].kind == "outline_ready"


def test_a_section_without_hits_falls_back_to_the_topics_best_papers(deps, options, retriever, good_outline):
    candidates = paper_records(retriever.papers[:30])
    state = {"topic": TOPIC, "candidates": candidates, "options": options, "outline": good_outline}
    task = dispatch_retrieval(state)[0].arg
    deps.retriever.search_many = lambda queries, k, filters: []
    update = retrieve_section(task, deps)
    record = update["sections"]["000"]
    assert [paper["id"] for paper in record["papers"]] == [paper["id"] for paper in candidates[:12]]
    assert "found nothing" in update["warnings"][0]


def test_rerank_fuses_with_the_topic_ranking_under_the_given_constant(retriever):
    papers = retriever.papers[:3]
    # the section ranks a, b, c; the topic ranks only c, tenth: a small constant keeps the
    # section's first paper first, a large one lets the agreement of both lists win
    topic_ids = [f"x{n}" for n in range(9)] + [papers[2].arxiv_id]
    assert rerank(papers, topic_ids, keep=3, rrf_k=1)[0] == papers[0]
    assert rerank(papers, topic_ids, keep=3, rrf_k=1000)[0] == papers[2]
    assert "x0" not in {paper.arxiv_id for paper in rerank(papers, topic_ids, keep=5, rrf_k=60)}
    assert rerank(papers, topic_ids, keep=2, rrf_k=60) == rerank(papers, topic_ids, keep=3, rrf_k=60)[:2]


def _section(retriever, title="Section reasoning"):
    return {
        "title": title,
        "description": "How it is studied.",
        "subsections": [],
        "queries": [title],
        "papers": paper_records(retriever.papers[:5]),
    }


def test_send_writers_skips_drafted_sections_and_batches_on_request(retriever, options, good_outline):
    state = {
        "topic": TOPIC,
        "outline": good_outline,
        "options": options,
        "sections": {"000": _section(retriever), "001": {**_section(retriever), "draft": "done"}},
    }
    assert [send.arg["key"] for send in send_writers(state)] == ["000"]
    state["sections"]["001"].pop("draft")
    assert send_writers({**state, "options": {**options, "batch_sections": True}}) == "write_sections"


def test_write_then_check_removes_citations_to_papers_not_given(deps, retriever, options, invalid_id, events):
    record = _section(retriever)
    task = {"key": "000", "topic": TOPIC, "survey_title": "A survey", "section": record, "options": options}
    drafted = write_section(task, deps)["sections"]["000"]
    assert invalid_id in drafted["draft"] and set(drafted["given"]) == {p["id"] for p in record["papers"]}
    assert any(event.kind == "token" for event in events)
    checked = check_citations({"sections": {"000": {**record, **drafted}}, "options": options}, deps)
    final = checked["sections"]["000"]
    assert invalid_id not in final["text"] and f"[arXiv:{invalid_id}]" in final["removed_citations"]
    assert "removed 2 citation(s)" in checked["warnings"][0]


def test_frame_and_survey_from_a_checked_state(deps, retriever, options, good_outline):
    record = {
        **_section(retriever),
        "given": [retriever.papers[0].arxiv_id],
        "text": f"Text [arXiv:{retriever.papers[0].arxiv_id}].",
        "removed_citations": [],
        "support_checks": [],
    }
    state = {"run_id": "run-1", "topic": TOPIC, "options": options, "outline": good_outline}
    state["sections"] = {"000": record}
    state.update(write_frame(state, deps))
    survey = survey_from_state(state)
    assert survey.abstract.startswith("This abstract") and [s.title for s in survey.sections] == [record["title"]]
    assert list(survey.papers) == [retriever.papers[0].arxiv_id]
    assert survey.metadata["settings"]["words_per_section"] == 120


def test_retrieve_broad_searches_as_the_expansion_settings_say(deps, options, monkeypatch, make_llm, retriever):
    from app.workflow.api import SurveyWorkflow
    from app.workflow.nodes import retrieval
    from retriever.expansion import ExpansionSettings

    seen = []
    real = retrieval.expanded_search

    def recording(*args, settings, **kwargs):
        seen.append(settings)
        return real(*args, settings=settings, **kwargs)

    monkeypatch.setattr(retrieval, "expanded_search", recording)
    deps.expansion = ExpansionSettings(groups=3, paper_queries=5, paper_query_weight=1.5)
    retrieve_broad({"topic": TOPIC, "queries": [TOPIC], "options": options}, deps)
    assert seen == [ExpansionSettings(groups=3, paper_queries=5, paper_query_weight=1.5)]
    # a workflow hands every node the settings' retrieval.expansion
    settings = Settings(retrieval={"expansion": {"groups": 5, "paper_queries": 0}})
    with SurveyWorkflow(settings, make_llm(), retriever, grammar_for=None) as flow:
        built = flow._deps(EventEmitter("run-2", lambda event: None)).expansion
    assert built == ExpansionSettings(groups=5, paper_queries=0)
