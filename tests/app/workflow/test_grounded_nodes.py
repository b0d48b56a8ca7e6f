"""The grounded mode's node logic: a section planned from the papers keeps every sub-theme's
share of its papers, and a model too small to plan is not asked for queries."""

from __future__ import annotations

from app.settings import Settings
from app.workflow.nodes import plan_queries
from app.workflow.nodes.retrieval import planned_section, take_in_turn
from app.workflow.options import RunOptions
from app.workflow.writing_mode import WritingPlan


def candidate(arxiv_id: str) -> dict:
    return {"id": arxiv_id, "title": arxiv_id, "abstract": "", "authors": [], "categories": [], "date": None}


def test_take_in_turn_alternates_between_groups_in_their_order():
    assert take_in_turn([["a1", "a2", "a3"], ["b1"], ["c1", "c2"]], 5) == ["a1", "b1", "c1", "a2", "c2"]
    assert take_in_turn([["a1", "a2"], ["a1", "b2"]], 3) == ["a1", "b2", "a2"]
    assert take_in_turn([["a1"], []], 4) == ["a1"]


def test_a_planned_section_keeps_each_subsection_s_best_papers_in_topic_order():
    candidates = [candidate(f"p{rank}") for rank in range(10)]
    section = {
        "title": "Reward Models",
        "description": "d",
        "queries": ["q"],
        "papers": ["p0", "p1", "p2", "p3", "p7", "p8", "p9"],
        "subsections": [
            {"title": "Preference Data", "papers": ["p0", "p1", "p2", "p3"]},
            {"title": "Reward Hacking", "papers": ["p7", "p8", "p9"]},
        ],
    }
    record = planned_section(section, candidates, keep=4)
    assert [paper["id"] for paper in record["papers"]] == ["p0", "p1", "p7", "p8"]
    assert record["subthemes"] == [
        {"title": "Preference Data", "papers": ["p0", "p1"]},
        {"title": "Reward Hacking", "papers": ["p7", "p8"]},
    ]
    assert record["subsections"] == ["Preference Data", "Reward Hacking"]


def test_a_planned_section_ignores_ids_that_are_not_candidates():
    section = {"title": "T", "description": "", "queries": [], "papers": ["x", "p1"], "subsections": []}
    record = planned_section(section, [candidate("p0"), candidate("p1")], keep=5)
    assert [paper["id"] for paper in record["papers"]] == ["p1"] and record["subthemes"] == []


def test_a_model_too_small_to_plan_is_not_asked_for_queries(tmp_path):
    plan = WritingPlan("grounded", False, 134_515_008, "small")
    options = RunOptions.from_settings(Settings(data_dir=tmp_path), tmp_path / "out", plan).to_json()

    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"the model was used: {name}")

    deps = type("Deps", (), {"llm": Untouchable(), "emitter": None})()
    assert plan_queries({"topic": "t", "options": options}, deps) == {"queries": []}
    assert RunOptions.from_json(options).writer_mode == "grounded"
