"""Resume after the process is killed outright (SIGKILL) in the middle of writing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from app.workflow import SurveyWorkflow

REPO = Path(__file__).resolve().parents[3]

# The child loads tests/app/conftest.py by path (conftest modules are not importable by
# name) and is killed by its LLM while writing the third section.
CHILD = textwrap.dedent(
    """
    import importlib.util, sys
    from pathlib import Path
    from app.settings import Settings
    from app.workflow import SurveyWorkflow

    spec = importlib.util.spec_from_file_location("doubles", sys.argv[1])
    doubles = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(doubles)
    settings = Settings.model_validate_json(sys.argv[2])
    llm = doubles.ScriptedLLM(kill_on_section_call=3, finished_log=Path(sys.argv[3]))
    retriever = doubles.MemoryRetriever(doubles.load_slice(400))
    flow = SurveyWorkflow(settings, llm, retriever, grammar_for=None)
    flow.start("reasoning in large language models", run_id="kill-1")
    """
)


def test_killed_run_resumes_without_redoing_finished_sections(settings, retriever, make_llm, tmp_path):
    finished_log = tmp_path / "finished.txt"
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(Path(__file__).parents[1] / "conftest.py"),
            settings.model_dump_json(),
            str(finished_log),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr

    healthy = make_llm()
    with SurveyWorkflow(settings, healthy, retriever, grammar_for=None) as flow:
        assert flow.inspect("kill-1").status == "interrupted"
        outcome = flow.resume("kill-1")
    finished_before = finished_log.read_text().splitlines()
    assert len(finished_before) == 2
    written = [title for kind, title in healthy.calls if kind == "section"]
    assert len(written) == 2 and not set(written) & set(finished_before)
    assert not any(kind in ("queries", "outline") for kind, _ in healthy.calls)
    record = json.loads((outcome.output_dir / "survey.json").read_text())
    assert len(record["sections"]) == 4 and all(section["citations"] for section in record["sections"])
