"""The whole workflow with the real parts: the embedded default model (SmolLM2-135M) on our
engine, the real Library over a slice of the real corpus. Weak text, valid structure."""

from __future__ import annotations

import gzip
import itertools
import json

import pytest

from app.settings import Settings
from app.workflow import SurveyWorkflow
from app.workflow.llm_factory import build_llm
from writer import Survey

pytestmark = pytest.mark.slow


def test_embedded_model_writes_a_survey_whose_citations_all_resolve(tmp_path, sample_corpus):
    corpus = tmp_path / "slice.jsonl"
    with gzip.open(sample_corpus, "rt", encoding="utf-8") as lines:
        corpus.write_text("".join(itertools.islice(lines, 300)), encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path / "data",
        corpus=str(corpus),
        retrieval={"embedding_backend": "torch"},
        generate={"sections": 2, "words_per_section": 50, "papers_per_section": 3, "candidates": 20, "queries": 2},
    )
    from app.workflow.library import open_library

    library = open_library(settings)
    library.ingest_jsonl(corpus)
    library.update_index()
    events = []
    with SurveyWorkflow(settings, build_llm(settings), library, on_event=events.append) as flow:
        outcome = flow.start("large language model reasoning")

    assert outcome.status == "finished"
    survey = Survey.from_json((outcome.output_dir / "survey.json").read_text())
    assert len(survey.sections) == 2 and survey.title
    assert all(section.papers for section in survey.sections)
    # Every citation resolves to a paper given to that section's writer.
    for section in survey.sections:
        assert set(section.citations) <= set(section.papers)
    assert survey.unresolved_citations == []
    # With the citation grammar a marker cannot be malformed, so nothing had to be removed.
    assert all(not section.removed_citations for section in survey.sections)
    record = json.loads((outcome.output_dir / "survey.json").read_text())
    assert record["metadata"]["tokens"]["completion_tokens"] > 0
    assert any(event.kind == "token" for event in events)
    markdown = (outcome.output_dir / "survey.md").read_text()
    assert markdown.startswith("# ") and "## References" in markdown
