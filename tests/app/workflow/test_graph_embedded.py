"""The whole workflow with the real parts: the embedded default model (SmolLM2-135M) on our
engine, the real Library over a slice of the real corpus. Abstractive: weak text, valid
structure. Grounded (the embedded model's default): every fact sentence cited and resolved."""

from __future__ import annotations

import gzip
import itertools
import json

import pytest

from app.settings import Settings
from app.workflow import SurveyWorkflow
from app.workflow.llm_factory import build_llm
from writer import Survey
from writer.citations import find_citations
from writer.grounded import SUPPORT_THRESHOLD, content_word_coverage
from writer.grounded.abstracts import split_sentences

pytestmark = pytest.mark.slow


def library_of_slice(tmp_path, sample_corpus, settings: Settings, papers: int = 300):
    """The real Library over the first `papers` papers of the sample corpus."""
    corpus = tmp_path / "slice.jsonl"
    with gzip.open(sample_corpus, "rt", encoding="utf-8") as lines:
        corpus.write_text("".join(itertools.islice(lines, papers)), encoding="utf-8")
    from app.workflow.library import open_library

    library = open_library(settings)
    library.ingest_jsonl(corpus)
    library.update_index()
    return library


def test_embedded_model_writes_a_survey_whose_citations_all_resolve(tmp_path, sample_corpus):
    settings = Settings(
        data_dir=tmp_path / "data",
        retrieval={"embedding_backend": "torch"},
        generate={"sections": 2, "words_per_section": 50, "papers_per_section": 3, "candidates": 20, "queries": 2},
        writer={"mode": "abstractive"},
    )
    library = library_of_slice(tmp_path, sample_corpus, settings)
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


def test_embedded_model_writes_grounded_by_default_with_every_fact_cited(tmp_path, sample_corpus):
    settings = Settings(
        data_dir=tmp_path / "data",
        retrieval={"embedding_backend": "torch"},
        generate={"sections": 2, "papers_per_section": 6, "candidates": 60},
    )
    library = library_of_slice(tmp_path, sample_corpus, settings, papers=600)
    with SurveyWorkflow(settings, build_llm(settings), library) as flow:
        outcome = flow.start("large language model reasoning")

    survey = Survey.from_json((outcome.output_dir / "survey.json").read_text())
    assert survey.metadata["settings"]["writer_mode"] == "grounded"
    assert survey.metadata["settings"]["model_plans"] is False
    assert outcome.survey.metadata["outline_source"] == "papers"
    assert len(survey.sections) == 2
    for section in survey.sections:
        lines = [line for line in section.text.splitlines() if line.strip() and not line.startswith("#")]
        opening, *body = [sentence for line in lines for sentence in split_sentences(line)]
        assert not find_citations(opening) and "papers" in opening
        assert len(set(section.citations)) >= 5
        for sentence in body:
            cited = find_citations(sentence)
            assert cited, f"uncited body sentence: {sentence!r}"
            assert set(cited) <= set(section.papers)
            abstracts = [survey.papers[i].abstract for i in cited]
            assert content_word_coverage(sentence, abstracts) >= SUPPORT_THRESHOLD, sentence
    assert survey.unresolved_citations == []
    assert survey.metadata["tokens"].get("completion_tokens", 0) == 0  # the model wrote nothing
    assert "[arXiv:" not in (outcome.output_dir / "survey.md").read_text().split("## References")[0]
