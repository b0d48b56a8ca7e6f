"""Topics files: repeated topics run once (with a warning), a huge failed topic keeps the
summary short, and fuzzed files give topics or a BatchFileError, never a traceback."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.interfaces.batch import SHOWN_CHARS, BatchFileError, read_batch_file, run_batch


def test_a_repeated_topic_is_warned_about_and_runs_once(tmp_path, caplog):
    text = tmp_path / "topics.txt"
    text.write_text("agents\nreasoning\n  Agents \n# agents\nagents\n")
    with caplog.at_level(logging.WARNING, logger="app.interfaces.batch"):
        items = read_batch_file(text)
    assert [(item.index, item.topic) for item in items] == [(0, "agents"), (1, "reasoning")]
    assert caplog.text.count("repeats topic 1") == 2 and "it runs once" in caplog.text
    jsonl = tmp_path / "topics.jsonl"
    jsonl.write_text('{"topic": "agents", "sections": 2}\n{"topic": "agents", "sections": 3}\n{"topic": "agents", '
                     '"sections": 2}\n')  # fmt: skip
    assert [item.options for item in read_batch_file(jsonl)] == [{"sections": 2}, {"sections": 3}]


def test_a_huge_failed_topic_keeps_the_summary_short(tmp_path, settings, retriever, make_llm):
    path = tmp_path / "topics.txt"
    path.write_text("reasoning in large language models\n" + " ".join(["word"] * 2000) + "\n")
    results = run_batch(settings, read_batch_file(path), tmp_path / "out", make_llm(), retriever, grammar_for=None)
    assert [r.status for r in results] == ["finished", "failed"]
    summary = (tmp_path / "out" / "summary.md").read_text().splitlines()
    assert len(summary) == 4 and max(len(line) for line in summary) < 5 * SHOWN_CHARS
    assert len(json.loads((tmp_path / "out" / "summary.json").read_text())[1]["topic"]) == 9999  # kept whole


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"topic": 5}\n', "expected an object with a \"topic\""),
        (b'{"topic": ["a"]}\n', "expected an object with a \"topic\""),
        (b"caf\xe9 topics\n", "not UTF-8 text"),
        (b"[" * 100000 + b"\n", "not valid JSON"),
    ],
)
def test_more_bad_topics_files(tmp_path, content, message):
    path = tmp_path / "topics.jsonl"
    path.write_bytes(content)
    with pytest.raises(BatchFileError, match=message):
        read_batch_file(path)


def test_a_bom_does_not_end_up_in_the_first_topic(tmp_path):
    path = tmp_path / "topics.txt"
    path.write_bytes("\ufeffagents\n".encode())
    assert read_batch_file(path)[0].topic == "agents"


_lines = st.one_of(
    st.text(max_size=40),
    st.builds(lambda topic, sections: json.dumps({"topic": topic, "sections": sections}), st.text(max_size=20),
              st.one_of(st.integers(), st.text(max_size=3), st.none())),
    st.sampled_from(['{"topic": "a"}', "{", "# comment", "", '{"topic": null}', '{"topic": "a", "x": 1}', "[]"]),
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(_lines, max_size=8), st.booleans(), st.binary(max_size=8))
def test_fuzzed_topics_files_give_topics_or_a_clear_error(lines, as_jsonl, noise):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("topics.jsonl" if as_jsonl else "topics.txt")
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + noise)
        try:
            items = read_batch_file(path)
        except BatchFileError as error:
            assert str(path) in str(error)
        else:
            assert items and all(item.topic and item.topic == " ".join(item.topic.split()) for item in items)
            assert [item.index for item in items] == list(range(len(items)))
