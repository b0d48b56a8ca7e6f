"""build_llm maps settings.llm to a backend; `cpmsurvey chat --prompt` against a local server."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import load_settings
from app.workflow.llm_factory import build_llm
from engine.openai_compat import OpenAICompatible
from engine.types import SamplingParams

REPO = Path(__file__).resolve().parents[3]


def _load_fake_server():
    path = REPO / "tests" / "engine" / "fake_openai_server.py"
    spec = importlib.util.spec_from_file_location("fake_openai_server", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fake = _load_fake_server()


def settings_with(**overrides):
    return load_settings(cli_overrides=overrides, environ={}).settings


@pytest.fixture()
def server():
    with fake.FakeOpenAIServer(model="served-model", max_model_len=2048) as running:
        yield running


def test_openai_settings_map_to_the_client(server):
    llm = build_llm(
        settings_with(
            **{
                "llm.backend": "openai",
                "llm.base_url": server.base_url,
                "llm.model": "served-model",
                "llm.api_key": "sk-secret",
                "llm.timeout_s": 12,
                "llm.max_retries": 1,
                "llm.max_concurrency": 3,
                "llm.grammar_field": "ebnf",
            }
        )
    )
    assert isinstance(llm, OpenAICompatible)
    assert (llm.model, llm.timeout_s, llm.max_retries, llm.max_concurrency) == ("served-model", 12, 1, 3)
    assert llm.context_window == 2048  # from the server
    llm.chat([{"role": "user", "content": "hi"}], SamplingParams(), grammar='root ::= "a"')
    assert server.authorization[-1] == "Bearer sk-secret"
    assert server.chat_requests()[-1]["ebnf"] == 'root ::= "a"'


def test_openai_without_a_model_name_uses_the_served_one(server):
    llm = build_llm(
        settings_with(**{"llm.backend": "openai", "llm.base_url": server.base_url, "llm.context_window": 99})
    )
    assert llm.name == "served-model" and llm.context_window == 99


def test_local_settings_map_to_local_engine_load(monkeypatch):
    from engine.local import LocalEngine

    calls = []
    monkeypatch.setattr(LocalEngine, "load", classmethod(lambda cls, *args, **kwargs: calls.append((args, kwargs))))
    build_llm(
        settings_with(
            **{"llm.model": "/models/x.gguf", "llm.device": "cpu", "llm.dtype": "bfloat16", "llm.native_cpu": "false"}
        ).model_copy(deep=True)
    )
    expected = {"device": "cpu", "dtype": "bfloat16", "context_window": None, "native": False}
    assert calls == [(("/models/x.gguf",), expected)]


def run_chat(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPMSURVEY_")}
    env["XDG_CONFIG_HOME"] = str(cwd / "xdg")
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(REPO)},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow  # a subprocess: the CLI's imports take seconds on a busy 2-core machine
def test_chat_one_shot_cli(server, tmp_path):
    common = ["--set", "llm.backend=openai", "--set", f"llm.base_url={server.base_url}"]
    result = run_chat(
        *common, "chat", "--prompt", "hello world", "--system", "be kind", "--temperature", "0", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: hello world\n"
    body = server.chat_requests()[-1]
    assert body["model"] == "served-model" and body["stream"] is True and body["temperature"] == 0
    assert body["messages"] == [{"role": "system", "content": "be kind"}, {"role": "user", "content": "hello world"}]
    # the prompt from stdin
    result = run_chat(*common, "chat", "--prompt", "-", cwd=tmp_path, stdin="from a pipe")
    assert result.returncode == 0 and result.stdout == "echo: from a pipe\n", result.stderr


@pytest.mark.slow  # a subprocess: the CLI's imports take seconds on a busy 2-core machine
def test_chat_cli_reports_a_down_server_in_one_line(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    result = run_chat(
        "--set", "llm.backend=openai", "--set", f"llm.base_url={url}", "--set", "llm.max_retries=0",
        "chat", "--model", "m", "--prompt", "hi", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot get an answer") and url in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # a subprocess: the CLI's imports take seconds on a busy 2-core machine
def test_chat_conversation_keeps_history_and_survives_errors(server, tmp_path):
    lines = "first [x]\nsecond\n/reset\nthird\nstatus:500 boom\nfourth\n/exit\n"
    result = run_chat(
        "--set", "llm.backend=openai", "--set", f"llm.base_url={server.base_url}", "--set", "llm.max_retries=0",
        "chat", "--system", "sys", cwd=tmp_path, stdin=lines,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "echo: first [x]" in result.stdout and "(conversation cleared)" in result.stdout
    assert "HTTP 500" in result.stdout and "echo: fourth" in result.stdout
    contents = [[m["content"] for m in body["messages"]] for body in server.chat_requests()]
    assert contents == [
        ["sys", "first [x]"],
        ["sys", "first [x]", "echo: first [x]", "second"],
        ["sys", "third"],
        ["sys", "third", "echo: third", "status:500 boom"],
        ["sys", "third", "echo: third", "fourth"],  # the failed turn is not kept
    ]
