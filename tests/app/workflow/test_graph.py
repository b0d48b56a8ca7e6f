"""The workflow graph end to end with the scripted LLM over a slice of the real corpus."""

from __future__ import annotations

import json

import pytest

from app.workflow import RunFailedError, SurveyWorkflow, list_runs, new_run
from planner import TopicError
from writer import Survey

TOPIC = "reasoning in large language models"


def start(settings, llm, retriever, events=None, grammar_for=None, **kwargs):
    sink = events.append if events is not None else None
    with SurveyWorkflow(settings, llm, retriever, on_event=sink, grammar_for=grammar_for) as flow:
        return flow.start(TOPIC, **kwargs)


def test_end_to_end_writes_every_format_with_resolving_citations(settings, retriever, make_llm, invalid_id):
    llm, events = make_llm(), []
    grammars_built = []

    def grammar_for(ids):
        grammars_built.append(ids)
        return "grammar:" + ",".join(ids)

    outcome = start(settings, llm, retriever, events, grammar_for=grammar_for)

    assert outcome.status == "finished"
    folder = outcome.output_dir
    assert folder == settings.outputs_dir / outcome.run_id
    assert {p.name for p in folder.iterdir()} == {"survey.md", "survey.bib", "survey.tex", "survey.json"}
    survey = Survey.from_json((folder / "survey.json").read_text())
    assert [s.title for s in survey.sections] == [
        f"Section {n}" for n in ("reasoning", "reinforcement learning", "evaluation benchmarks", "agents")
    ]
    # Every citation resolves to a paper given to that section's writer; the invented ones are gone.
    for section in survey.sections:
        assert section.citations and set(section.citations) <= set(section.papers)
        assert f"[arXiv:{invalid_id}]" in section.removed_citations and "[3]" in section.removed_citations
        assert invalid_id not in section.text
    assert survey.unresolved_citations == []
    assert any("removed 2 citation" in w for w in survey.metadata["warnings"])
    # The writer got a grammar built from exactly its papers. Sections are written
    # concurrently, so the order in which grammars are built and used may differ.
    assert len(grammars_built) == 4
    assert sorted(llm.grammars) == sorted("grammar:" + ",".join(ids) for ids in grammars_built)
    # The JSON holds what evaluation needs.
    record = json.loads((folder / "survey.json").read_text())
    assert record["outline"]["title"] == survey.title
    assert set(record["metadata"]["timings_s"]) == {"plan", "retrieve", "write", "check", "assemble"}
    assert record["metadata"]["tokens"]["completion_tokens"] > 0
    assert len(record["metadata"]["section_retrieval"]) == 4
    # Markdown numbers references in order of first citation and links them.
    markdown = (folder / "survey.md").read_text()
    first = survey.references[0]
    assert f"[[1]](https://arxiv.org/abs/{first.arxiv_id})" in markdown
    assert "1. " in markdown.split("## References")[1]
    assert markdown.count("](https://arxiv.org/abs/") >= len(survey.citations)
    bib = (folder / "survey.bib").read_text()
    assert bib.count("@misc{") == len(survey.references)
    assert "\\cite{" in (folder / "survey.tex").read_text()
    # Progress events: every node started and finished, tokens streamed, warnings reported.
    kinds = [(e.kind, e.node) for e in events]
    for node in ("plan_queries", "retrieve_broad", "plan_outline", "write_section", "check_citations", "assemble"):
        assert ("node_started", node) in kinds and ("node_finished", node) in kinds
    assert any(e.kind == "token" for e in events) and any(e.kind == "warning" for e in events)
    assert any(e.kind == "papers_found" and e.data["count"] > 0 for e in events)
    assert events[-1].kind == "run_finished"


def test_survey_json_round_trips(settings, retriever, make_llm):
    outcome = start(settings, make_llm(), retriever)
    text = (outcome.output_dir / "survey.json").read_text()
    again = Survey.from_json(text)
    assert again.to_json() == text
    assert again.to_markdown() == (outcome.output_dir / "survey.md").read_text()


def test_garbage_outline_is_repaired_by_retry(settings, retriever, make_llm, good_outline):
    llm = make_llm(outlines=["Sure! Here is an outline: sections about reasoning", json.dumps(good_outline)])
    outcome = start(settings, llm, retriever)
    assert outcome.survey.metadata["outline_source"] == "repaired"
    assert [kind for kind, _ in llm.calls].count("outline") == 2


def test_outline_with_defects_is_fixed_without_the_model(settings, retriever, make_llm, good_outline):
    good_outline["sections"][1]["queries"] = []
    good_outline["sections"].append(dict(good_outline["sections"][0], title="Extra section"))
    llm = make_llm(outlines=[json.dumps(good_outline)])
    outcome = start(settings, llm, retriever)
    assert outcome.survey.metadata["outline_source"] == "repaired"
    assert len(outcome.survey.sections) == 4
    assert [kind for kind, _ in llm.calls].count("outline") == 1


def test_unusable_outline_falls_back_and_says_so(settings, retriever, make_llm):
    events = []
    llm = make_llm(outlines=['{"title": "x", "sections": []}'])
    outcome = start(settings, llm, retriever, events)
    metadata = outcome.survey.metadata
    assert metadata["outline_source"] == "fallback"
    assert any("generic outline" in w for w in metadata["warnings"])
    assert any(e.kind == "warning" and "generic outline" in e.message for e in events)
    assert len(outcome.survey.sections) == 4 and all(s.citations for s in outcome.survey.sections)


def test_support_check_drops_unsupported_sentences(settings, retriever, make_llm):
    settings = settings.model_copy(update={"generate": settings.generate.model_copy(update={"check_support": True})})
    outcome = start(settings, make_llm(), retriever)
    agents = outcome.survey.sections[3]
    # The scripted judge rejects exactly the sentences that name "section agents".
    for check in agents.support_checks:
        assert check["action"] == ("dropped" if "section agents" in check["sentence"] else "kept")
    assert any(c["action"] == "dropped" for c in agents.support_checks)
    assert "Work on section agents" not in agents.text and "Later studies" in agents.text
    assert all(c["action"] == "kept" for s in outcome.survey.sections[:3] for c in s.support_checks)


def test_empty_retrieval_is_a_clear_error(settings, make_llm, make_retriever):
    with pytest.raises(RunFailedError, match="no paper in the library matches") as caught:
        start(settings, make_llm(), make_retriever([]))
    assert "--corpus" in str(caught.value) and "--resume" in str(caught.value)


def test_bad_topics_are_refused_before_any_work(settings, retriever, make_llm):
    llm = make_llm()
    with SurveyWorkflow(settings, llm, retriever) as flow:
        with pytest.raises(TopicError, match="empty"):
            flow.start("   ")
        with pytest.raises(TopicError, match="title-length"):
            flow.start("word " * 500)
    assert llm.calls == []


def test_a_topic_is_checked_once_per_run(settings, retriever, make_llm, monkeypatch):
    """The interfaces check a topic with new_run before any work (the CLI before the library
    and the model); create then takes the NewRun and checks nothing again."""
    import app.workflow.runs as runs

    checked = []
    check = runs.validate_topic
    monkeypatch.setattr(runs, "validate_topic", lambda topic: checked.append(topic) or check(topic))
    run = new_run("  reasoning in\n large language models ")
    assert run.topic == "reasoning in large language models" and len(checked) == 1
    assert "reasoning-in-large-language-models" in run.run_id
    with SurveyWorkflow(settings, make_llm(), retriever) as flow:
        assert flow.create(run) == run.run_id
        assert len(checked) == 1
        assert flow.inspect(run.run_id).topic == run.topic
        flow.create("graph neural networks")  # a plain topic is checked by create itself, once
        assert len(checked) == 2
        with pytest.raises(ValueError, match="pass no other run_id"):
            flow.create(new_run("graph neural networks"), run_id="another")
    with pytest.raises(TopicError, match="empty"):
        new_run("   ")


def test_no_interface_checks_a_topic_itself():
    """The topic check lives in the run API (new_run) only: an interface that called
    planner.validate_topic again would be a second check to keep in step."""
    from pathlib import Path

    interfaces = Path(__file__).resolve().parents[3] / "app" / "interfaces"
    callers = [p.name for p in interfaces.rglob("*.py") if "validate_topic" in p.read_text(encoding="utf-8")]
    assert callers == []


def test_resume_after_backend_failure_does_not_redo_finished_sections(settings, retriever, make_llm):
    failing = make_llm(fail_on_section_call=3)
    with SurveyWorkflow(settings, failing, retriever, grammar_for=None) as flow:
        with pytest.raises(RunFailedError, match="--resume") as caught:
            flow.start(TOPIC, run_id="run-1")
        assert "stopped answering" in str(caught.value)
        assert flow.inspect("run-1").status == "interrupted"
        assert [(run.run_id, run.topic) for run in list_runs(flow.checkpointer)] == [("run-1", TOPIC)]
    requested = [title for kind, title in failing.calls if kind == "section"]
    failed = requested[2]
    finished_before = [title for title in requested if title != failed]

    healthy = make_llm()
    with SurveyWorkflow(settings, healthy, retriever, grammar_for=None) as flow:
        outcome = flow.resume("run-1")
    assert outcome.status == "finished"
    redone = [title for kind, title in healthy.calls if kind == "section"]
    all_titles = {section.title for section in outcome.survey.sections}
    assert failed in redone and len(finished_before) >= 2
    assert sorted(redone) == sorted(all_titles - set(finished_before))
    assert ("queries", "") not in healthy.calls and ("outline", "") not in healthy.calls
    assert all(s.citations for s in outcome.survey.sections)


def test_outline_review_interrupts_and_continues_with_the_edit(settings, retriever, make_llm, good_outline):
    settings = settings.model_copy(update={"generate": settings.generate.model_copy(update={"review_outline": True})})
    llm = make_llm()
    with SurveyWorkflow(settings, llm, retriever, grammar_for=None) as flow:
        outcome = flow.start(TOPIC, run_id="review-1")
        assert outcome.status == "awaiting_review" and outcome.outline["title"] == good_outline["title"]
        assert not [call for call in llm.calls if call[0] == "section"]
        assert flow.inspect("review-1").status == "awaiting_review"
        edited = dict(outcome.outline, sections=outcome.outline["sections"][:2])
        edited["sections"][0] = dict(edited["sections"][0], title="Chain of thought")
        outcome = flow.resume("review-1", outline=edited)
    assert outcome.status == "finished"
    assert [s.title for s in outcome.survey.sections] == ["Chain of thought", "Section reinforcement learning"]
    assert outcome.survey.metadata["outline_source"] == "model+reviewed"


def test_batched_section_writing_uses_one_call_and_still_checks_citations(settings, retriever, make_llm):
    settings = settings.model_copy(update={"generate": settings.generate.model_copy(update={"batch_sections": True})})
    llm = make_llm()
    batches = []
    original = llm.batch_chat

    def counting_batch_chat(conversations, params, schema=None, grammar=None):
        batches.append((len(conversations), grammar))
        return original(conversations, params, schema, grammar)

    llm.batch_chat = counting_batch_chat
    outcome = start(settings, llm, retriever, grammar_for=lambda ids: "grammar:" + ",".join(ids))
    survey = outcome.survey
    assert batches[0][0] == 4 and batches[0][1].startswith("grammar:")
    for section in survey.sections:
        assert section.citations and set(section.citations) <= set(section.papers)
    assert survey.unresolved_citations == []


def test_stage_seconds_counts_overlapping_workers_once_and_skips_gaps():
    from app.workflow.state import stage_seconds

    spans = [["write", 0, 10], ["write", 2, 12], ["write", 100, 105], ["plan", 0, 1], ["plan", 1, 3]]
    assert stage_seconds(spans) == {"write": 17, "plan": 3}


def test_date_and_category_filters_hold_for_every_paper_a_run_sees(tmp_path, corpus_slice, make_llm, make_retriever):
    """A survey "as of" a day, in some categories: retrieval for planning and for every
    section is restricted, so no paper outside the filters can be cited or listed."""
    from app.settings import Settings

    dates = sorted(p.published for p in corpus_slice if p.published)
    cutoff = dates[len(dates) // 2]
    settings = Settings(
        data_dir=tmp_path / "data",
        generate={"sections": 4, "words_per_section": 120, "date_to": cutoff.isoformat(), "categories": ["cs.CL"]},
    )
    retriever = make_retriever(corpus_slice)
    outcome = start(settings, make_llm(), retriever)
    seen = {paper_id for section in outcome.survey.sections for paper_id in section.papers}
    seen |= set(outcome.survey.papers) | {paper.arxiv_id for paper in outcome.survey.references}
    assert seen and outcome.survey.references
    for paper in retriever.get(sorted(seen)):
        assert paper.published <= cutoff and "cs.CL" in paper.categories, paper
    unfiltered = start(
        Settings(data_dir=tmp_path / "all", generate={"sections": 4, "words_per_section": 120}),
        make_llm(),
        make_retriever(corpus_slice),
    )
    assert any(p.published > cutoff for p in unfiltered.survey.references), "the filter must have removed papers"


def test_filters_that_leave_nothing_say_which_filters(tmp_path, corpus_slice, make_llm, make_retriever):
    from app.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", generate={"date_to": "1990-01-01", "categories": ["cs.CL"]})
    with pytest.raises(
        RunFailedError, match=r"within the run's filters .*1990-01-01.*cs\.CL.*--from, --to, --category"
    ):
        start(settings, make_llm(), make_retriever(corpus_slice))
