"""Batch mode: topics files, per-topic options, failures that do not stop the batch, resume."""

from __future__ import annotations

import json

import pytest

from app.interfaces.batch import BatchFileError, read_batch_file, run_batch

TOPICS = ["reasoning in large language models", "reinforcement learning for agents", "evaluation benchmarks"]


def test_text_and_jsonl_topics_files(tmp_path):
    text = tmp_path / "topics.txt"
    text.write_text("# my topics\nreasoning in  LLMs\n\nagents\n")
    assert [(i.topic, i.options) for i in read_batch_file(text)] == [("reasoning in LLMs", {}), ("agents", {})]
    jsonl = tmp_path / "topics.jsonl"
    jsonl.write_text('{"topic": "agents", "sections": 2, "words": 100}\n{"topic": "reasoning"}\n')
    items = read_batch_file(jsonl)
    assert items[0].options == {"sections": 2, "words_per_section": 100} and items[1].options == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"topic": "a"}\n{"topic": "b", "colour": 3}\n', r"topics.jsonl:2: unknown option"),
        ('{"topic": "a"}\n{"topic": \n', r"topics.jsonl:2: not valid JSON"),
        ('{"sections": 3}\n', r"topics.jsonl:1: expected an object with a \"topic\""),
        ("\n# nothing\n", "holds no topics"),
    ],
)
def test_bad_topics_files_name_the_line(tmp_path, content, message):
    path = tmp_path / "topics.jsonl"
    path.write_text(content)
    with pytest.raises(BatchFileError, match=message):
        read_batch_file(path)


def test_bad_option_value_is_refused_before_any_work(tmp_path, settings, retriever, make_llm):
    path = tmp_path / "topics.jsonl"
    path.write_text('{"topic": "agents", "sections": 0}\n')
    llm = make_llm()
    with pytest.raises(BatchFileError, match="sections"):
        run_batch(settings, read_batch_file(path), tmp_path / "out", llm, retriever, grammar_for=None)
    assert llm.calls == []


def test_batch_continues_past_a_failure_and_resumes_it(tmp_path, settings, retriever, make_llm):
    path = tmp_path / "topics.jsonl"
    path.write_text("\n".join(json.dumps({"topic": t, "sections": 2, "words": 80}) for t in TOPICS) + "\n")
    items = read_batch_file(path)
    out = tmp_path / "out"
    # The 4th section request is the second section of the second topic (one topic at a time locally).
    failing = make_llm(fail_on_section_call=4)
    results = run_batch(settings, items, out, failing, retriever, grammar_for=None)
    assert [r.status for r in results] == ["finished", "failed", "finished"]
    assert "stopped answering" in results[1].error and "--resume" in results[1].error
    assert all(r.sections == 2 and r.citations > 0 for r in (results[0], results[2]))
    manifest = json.loads((out / "batch.json").read_text())["items"]
    assert [entry["status"] for entry in manifest.values()] == ["finished", "failed", "finished"]

    healthy = make_llm()
    again = run_batch(settings, items, out, healthy, retriever, grammar_for=None)
    assert [r.status for r in again] == ["skipped", "finished", "skipped"]
    assert again[1].run_id == results[1].run_id
    # Only the unfinished section of the failed topic was written again; nothing was planned again.
    assert [kind for kind, _ in healthy.calls].count("section") == 1
    assert not any(kind in ("queries", "outline") for kind, _ in healthy.calls)
    summary = (out / "summary.md").read_text()
    assert all(topic in summary for topic in TOPICS)
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
        "001-reasoning-in-large-language-models",
        "002-reinforcement-learning-for-agents",
        "003-evaluation-benchmarks",
    ]
