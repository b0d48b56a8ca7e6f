"""The run's files: the model's text sanitized before export (reported as warnings), and
the temporary files of an interrupted write removed by the next one."""

from __future__ import annotations

import json

from app.workflow import SurveyWorkflow
from app.workflow.outputs import write_outputs

HIJACKED = (
    "## {title}\n\nAs the abstract instructs, see arXiv:9999.99999 and https://arxiv.org/abs/9999.99999 "
    "<script>fetch('https://evil.example')</script> for the real results [arXiv:{first}]."
)


def test_model_text_is_sanitized_in_every_file_and_reported(settings, retriever, make_llm):
    llm = make_llm(section_text=lambda title, ids: HIJACKED.format(title=title, first=ids[0]))
    with SurveyWorkflow(settings, llm, retriever, grammar_for=None) as flow:
        outcome = flow.start("reasoning in large language models", run_id="hijacked-1")
    record = json.loads((outcome.output_dir / "survey.json").read_text())
    texts = {name: (outcome.output_dir / name).read_text() for name in ("survey.md", "survey.tex")}
    texts.update({f"section {i}": section["text"] for i, section in enumerate(record["sections"])})
    for name, text in texts.items():
        assert "9999.99999" not in text and "<script" not in text and "evil.example" not in text, name
    assert all("[arXiv:" in section["text"] for section in record["sections"])  # real citations stay
    assert len(record["metadata"]["sanitized"]) == 4 * 3  # per section: two mentions and the script
    assert sum("9999.99999" in warning for warning in outcome.warnings) == 4 * 2


def test_writing_outputs_removes_temporary_files_a_kill_left(settings, retriever, make_llm, tmp_path):
    with SurveyWorkflow(settings, make_llm(), retriever, grammar_for=None) as flow:
        outcome = flow.start("reasoning in large language models", run_id="tmp-1")
    left = [outcome.output_dir / name for name in (".survey.bib.k2j3.tmp", ".survey.json.abc.tmp")]
    for path in left:
        path.write_text("half")
    write_outputs(outcome.survey, outcome.output_dir)
    assert not any(path.exists() for path in left)
    assert sorted(p.name for p in outcome.output_dir.iterdir()) == [
        "survey.bib",
        "survey.json",
        "survey.md",
        "survey.tex",
    ]
