"""A run stopped by an exception that unwinds the graph (Ctrl-C inside the process, as
before the CLI stopped at once) is interrupted, never finished without output, and resumes;
so does a finished run whose output files are gone."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from app.workflow import SurveyWorkflow

REPO = Path(__file__).resolve().parents[3]

# The child's first section writer raises Ctrl-C in the main thread; the workflow library
# then waits for both writers (one at a time on a local model) and saves their writes, with
# no step after them: what an older CLI left after Ctrl-C.
CHILD = textwrap.dedent(
    """
    import importlib.util, os, signal, sys, time
    from pathlib import Path
    from app.settings import Settings
    from app.workflow import SurveyWorkflow

    spec = importlib.util.spec_from_file_location("doubles", sys.argv[1])
    doubles = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(doubles)
    settings = Settings.model_validate_json(sys.argv[2])
    finished_log = Path(sys.argv[3])

    def slow_section(title, ids):
        if not finished_log.exists():
            os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.0)
        with open(finished_log, "a", encoding="utf-8") as log:
            log.write(title + "\\n")
        return doubles.ScriptedLLM.default_section_text(title, ids)

    outline = dict(doubles.GOOD_OUTLINE, sections=doubles.GOOD_OUTLINE["sections"][:2])
    llm = doubles.ScriptedLLM(outlines=[doubles.json.dumps(outline)], section_text=slow_section)
    retriever = doubles.MemoryRetriever(doubles.load_slice(400))
    flow = SurveyWorkflow(settings, llm, retriever, grammar_for=None)
    flow.start("reasoning in large language models", run_id="int-1")
    """
)


def _interrupted_child(settings, tmp_path) -> Path:
    finished_log = tmp_path / "finished.txt"
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(Path(__file__).parents[1] / "conftest.py"), settings.model_dump_json(),
         str(finished_log)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert child.returncode != 0 and "KeyboardInterrupt" in child.stderr, child.stderr[-2000:]
    return finished_log


def test_a_run_unwound_by_ctrl_c_is_interrupted_and_resumes(settings, retriever, make_llm, tmp_path):
    settings = settings.model_copy(update={"generate": settings.generate.model_copy(update={"sections": 2})})
    finished_log = _interrupted_child(settings, tmp_path)
    assert sorted(finished_log.read_text().split("\n")[:-1]) == ["Section reasoning", "Section reinforcement learning"]
    healthy = make_llm()
    with SurveyWorkflow(settings, healthy, retriever, grammar_for=None) as flow:
        assert flow.inspect("int-1").status == "interrupted"
        outcome = flow.resume("int-1")
    assert outcome.status == "finished"
    assert not [title for kind, title in healthy.calls if kind == "section"]  # both drafts were kept
    record = json.loads((outcome.output_dir / "survey.json").read_text())
    assert len(record["sections"]) == 2 and record["abstract"] and record["conclusion"]


def test_a_finished_run_whose_files_are_gone_is_written_again_on_resume(settings, retriever, make_llm):
    llm = make_llm()
    with SurveyWorkflow(settings, llm, retriever, grammar_for=None) as flow:
        first = flow.start("reasoning in large language models", run_id="gone-1")
        calls = len(llm.calls)
        for name in ("survey.json", "survey.md"):
            (first.output_dir / name).unlink()
        assert flow.inspect("gone-1").status != "finished"
        again = flow.resume("gone-1")
    assert again.status == "finished" and len(llm.calls) == calls
    rewritten = json.loads((again.output_dir / "survey.json").read_text())
    assert rewritten["sections"] == json.loads(first.survey.to_json())["sections"]
    assert (again.output_dir / "survey.md").is_file()
