"""`cpmsurvey eval --generate TOPIC`: our survey written through the batch runner (with a
scripted model), as of the human survey's date, then evaluated beside the baselines."""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.types import Completion, SamplingParams

TOPIC = "Reasoning in Language Models"
IDS = re.compile(r"^\[arXiv:([^\]]+)\]", re.MULTILINE)


class WorkflowLLM:
    """Answers the workflow's prompts: queries, a two-section outline, sections citing the
    papers they are given, and plain frame text."""

    name = "scripted-writer"
    context_window = 32768

    def _answer(self, prompt: str, schema) -> str:
        keys = schema.get("properties", {}) if isinstance(schema, dict) else getattr(schema, "model_fields", {})
        if "queries" in keys and "sections" not in keys:
            return json.dumps({"queries": ["language model reasoning", "chain of thought"]})
        if "sections" in keys:
            sections = [{"title": f"Section {n}", "description": f"About {n}.", "queries": [f"language model {n}"],
                         "subsections": [{"title": f"{n} methods", "description": "methods"}]} for n in ("a", "b")]
            return json.dumps({"title": "A Survey of Reasoning", "sections": sections})
        ids = IDS.findall(prompt)
        if 'Write the section "' in prompt:
            return " ".join(f"Work on reasoning is reported here [arXiv:{i}]." for i in ids[:3]) or "No papers."
        return "This part summarises the survey on reasoning."

    def chat(self, messages, params: SamplingParams, schema=None, grammar=None) -> Completion:
        text = self._answer(messages[-1]["content"], schema)
        return Completion(text, 10, 10)

    def stream(self, messages, params, schema=None, grammar=None):
        yield self.chat(messages, params, schema).text

    def batch_chat(self, conversations, params, schema=None, grammar=None) -> list[Completion]:
        return [self.chat(messages, params, schema) for messages in conversations]

    def count_tokens(self, text: str) -> int:
        return len(text.split())


@pytest.mark.slow
def test_generate_then_evaluate(tmp_path, monkeypatch, sample_corpus: Path):
    from app.interfaces.cli.main import cli

    with gzip.open(sample_corpus, "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in itertools.islice(lines, 150)]
    corpus = tmp_path / "slice.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    cited = sorted(records, key=lambda r: r["date"])[100]  # the human survey's newest reference
    bench = tmp_path / "sb"
    (bench / "HumanSurvey").mkdir(parents=True)
    (bench / "HumanSurvey" / f"{TOPIC}.md").write_text(
        f"# Human\n\n## 1 Intro\n\nReasoning matters [1].\n\n## References\n\n[1] {cited['title']}. "
        f"arXiv:{cited['id']}\n")
    (bench / "HumanSurvey" / "outlines.json").write_text(json.dumps([{"topic": TOPIC, "outline": "1 Intro"}]))
    # The command reaches build_llm through app.workflow (or its llm_factory module).
    monkeypatch.setattr("app.workflow.llm_factory.build_llm", lambda settings: WorkflowLLM())
    monkeypatch.setattr("app.workflow.build_llm", lambda settings: WorkflowLLM(), raising=False)
    monkeypatch.setenv("CPMSURVEY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, [
        "--set", f"corpus={corpus}", "--set", "retrieval.embedding_backend=torch", "--set", "generate.sections=2",
        "eval", "--surveybench", str(bench), "--system", "AutoSurvey", "--generate", TOPIC, "--output", str(out),
    ])
    assert result.exit_code == 0, result.output
    plan = json.loads((out / "generated" / "topics.jsonl").read_text())
    assert plan == {"topic": TOPIC, "date_to": f"{cited['date'][:7]}-{_month_end(cited['date'])}"}
    survey = json.loads(next((out / "generated").glob("*/survey.json")).read_text())
    assert all(p["date"] <= plan["date_to"] for p in survey["papers"])  # written as of the human survey
    with open(out / "per_survey.csv") as handle:
        rows = {row["system"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"HumanSurvey", "cpmsurvey"}  # no AutoSurvey file for this topic: only ours is compared
    assert rows["cpmsurvey"]["ref_recall"] != "" and rows["cpmsurvey"]["input_coverage"] != ""
    # The same survey again, named by its run id.
    again = CliRunner().invoke(cli, ["--set", "retrieval.embedding_backend=torch", "eval", survey["metadata"]["run_id"],
                                     "--surveybench", str(bench), "--topic", TOPIC, "--output", str(tmp_path / "r2")])
    assert again.exit_code == 0, again.output
    with open(tmp_path / "r2" / "per_survey.csv") as handle:
        assert [row["system"] for row in csv.DictReader(handle)] == ["HumanSurvey", "cpmsurvey"]


def _month_end(day: str) -> str:
    import calendar

    year, month = int(day[:4]), int(day[5:7])
    return f"{calendar.monthrange(year, month)[1]:02d}"
