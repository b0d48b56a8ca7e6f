"""Ctrl-C and SIGTERM stop `cpmsurvey generate` within 2 seconds, even while a section is
being written, and the run resumes from the command line."""

from __future__ import annotations

import gzip
import importlib.util
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
STOP_LIMIT_S = 2.0


def _scripted_server_class():
    path = Path(__file__).with_name("test_generate_cli.py")
    spec = importlib.util.spec_from_file_location("generate_cli_doubles", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ScriptedServer


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_generate_at_once_and_the_run_resumes(tmp_path, sample_corpus, make_llm, sig):
    corpus = tmp_path / "slice.jsonl"
    with gzip.open(sample_corpus, "rt", encoding="utf-8") as lines:
        corpus.write_text("".join(itertools.islice(lines, 200)), encoding="utf-8")
    server = _scripted_server_class()(make_llm(), stall_on_section=2)
    root = ["--set", f"llm.base_url={server.base_url}", "--set", "llm.model=scripted"]
    root += ["--set", "retrieval.embedding_backend=torch", "--set", "llm.max_concurrency=1"]
    root += ["--set", "writer.mode=abstractive"]
    options = ["--backend", "openai", "--corpus", str(corpus), "--sections", "3", "--words", "60"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPMSURVEY_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "xdg"), CPMSURVEY_DATA_DIR=str(tmp_path / "data"))
    try:
        with open(tmp_path / "first.err", "w") as first_err:
            first = subprocess.Popen(
                [sys.executable, "-m", "app", *root, "generate", "reasoning in language models", *options],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=first_err,
            )
            assert server.stalled.wait(240), (tmp_path / "first.err").read_text()
            sent = time.monotonic()
            first.send_signal(sig)
            first.wait(30)
            stopped_after = time.monotonic() - sent
        stderr = (tmp_path / "first.err").read_text()
        assert first.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143}[sig], stderr
        assert stopped_after < STOP_LIMIT_S, f"stopped {stopped_after:.1f} s after {sig.name}"
        run_id = re.search(r"run id: (\S+)", stderr).group(1)
        assert f"cpmsurvey generate --resume {run_id}" in stderr.splitlines()[-1]
        server.stall_on_section = None
        second = subprocess.run(
            [sys.executable, "-m", "app", *root, "generate", "--resume", run_id],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        server.close()
    assert second.returncode == 0, second.stderr
    folder = Path(second.stdout.strip().splitlines()[-1])
    record = json.loads((folder / "survey.json").read_text())
    assert len(record["sections"]) == 3 and all(section["citations"] for section in record["sections"])
