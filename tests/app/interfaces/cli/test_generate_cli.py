"""`cpmsurvey generate` and `batch` as a user runs them: one-line errors, outline editing."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from app.interfaces.cli.commands.generate_cmd import edit_outline
from app.workflow import OutlineEditError


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPMSURVEY_")}
    env.update(XDG_CONFIG_HOME=str(cwd / "xdg"), CPMSURVEY_DATA_DIR=str(cwd / "data"))
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("generate", "   "), "the topic is empty"),
        (("generate", "--resume", "no-such-run"), "no run with id 'no-such-run'"),
    ],
)
def test_bad_input_is_a_one_line_error(tmp_path, args, expected):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], result.stderr


def test_generate_needs_a_topic_or_resume(tmp_path):
    result = run_cli("generate", cwd=tmp_path)
    assert result.returncode == 2 and "--resume" in result.stderr


EDITOR = """
import json, sys
path = sys.argv[1]
outline = json.load(open(path))
outline["sections"] = outline["sections"][:1]
outline["sections"][0]["title"] = "Edited"
json.dump(outline, open(path, "w"))
"""


def test_outline_review_round_trips_through_the_editor(tmp_path, monkeypatch, good_outline):
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    edited = edit_outline(good_outline, tmp_path / "run", Console(file=io.StringIO()))
    assert [s["title"] for s in edited["sections"]] == ["Edited"]
    assert json.loads((tmp_path / "run" / "outline.review.json").read_text())["sections"][0]["title"] == "Edited"


def test_an_invalid_edit_is_refused_with_the_reason(tmp_path, monkeypatch, good_outline):
    script = tmp_path / "editor.py"
    script.write_text('import sys\nopen(sys.argv[1], \'w\').write(\'{"title": "x", "sections": []}\')\n')
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.setattr("typer.confirm", lambda *args, **kwargs: False)
    with pytest.raises(OutlineEditError, match="no sections"):
        edit_outline(good_outline, tmp_path / "run", Console(file=io.StringIO()))


class ScriptedServer:
    """An OpenAI-compatible server answering with the scripted LLM; it stalls on the
    `stall_on_section`-th request to write a section (the client is killed meanwhile)."""

    def __init__(self, llm, stall_on_section: int | None = None) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.llm, self.stall_on_section = llm, stall_on_section
        self.stalled, self.release = threading.Event(), threading.Event()
        self.section_requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(200, {"data": [{"id": "scripted", "max_model_len": 8192}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": "not found"})
                    return
                schema = body.get("response_format", {}).get("json_schema", {}).get("schema")
                if 'Write the section "' in body["messages"][-1]["content"]:
                    server.section_requests += 1
                    if server.section_requests == server.stall_on_section:
                        server.stalled.set()
                        server.release.wait(120)
                        return
                text = server.llm._answer(body["messages"], schema, body.get("guided_grammar"))
                if not body.get("stream"):
                    message = {"role": "assistant", "content": text}
                    self._send(200, {"choices": [{"message": message, "finish_reason": "stop"}]})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for start in range(0, len(text), 20):
                    chunk = {"choices": [{"delta": {"content": text[start : start + 20]}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.slow
def test_generate_killed_mid_run_resumes_from_the_command_line(tmp_path, sample_corpus, make_llm):
    """The real CLI, library and OpenAI client against a scripted server: killed while
    writing the second section, `generate --resume ID` finishes without redoing the first."""
    import gzip
    import itertools
    import re
    import signal
    import time

    corpus = tmp_path / "slice.jsonl"
    with gzip.open(sample_corpus, "rt", encoding="utf-8") as lines:
        corpus.write_text("".join(itertools.islice(lines, 200)), encoding="utf-8")
    server = ScriptedServer(make_llm(), stall_on_section=2)
    root = ["--set", f"llm.base_url={server.base_url}", "--set", "llm.model=scripted"]
    root += ["--set", "retrieval.embedding_backend=torch", "--set", "llm.max_concurrency=1"]
    first_options = ["--backend", "openai", "--corpus", str(corpus), "--sections", "3", "--words", "60"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPMSURVEY_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "xdg"), CPMSURVEY_DATA_DIR=str(tmp_path / "data"), EDITOR="true")
    try:
        with open(tmp_path / "first.err", "w") as first_err:
            first = subprocess.Popen(
                [sys.executable, "-m", "app", *root, "generate", "reasoning in language models", *first_options],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=first_err,
            )
            assert server.stalled.wait(240), (tmp_path / "first.err").read_text()
            time.sleep(0.5)
            first.send_signal(signal.SIGKILL)
            first.wait(30)
        run_id = re.search(r"run id: (\S+)", (tmp_path / "first.err").read_text()).group(1)
        requests_before = server.section_requests
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
    # The section finished before the kill was not requested again; the stalled one and the rest were.
    assert server.section_requests - requests_before == 3 - 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--from", "2025-13-01"), "'2025-13-01' is not a date; write YYYY-MM-DD"),
        (("--from", "2026-01-02", "--to", "2026-01-01"), "--from 2026-01-02 is after --to 2026-01-01"),
    ],
)
def test_bad_filter_flags_are_usage_errors_before_any_work(tmp_path, args, expected):
    result = run_cli("generate", "reasoning", "--no-fetch", *args, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert expected in result.stderr and not (tmp_path / "data").exists()
