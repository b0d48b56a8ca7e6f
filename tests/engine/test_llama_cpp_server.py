"""A whole survey against a real third-party OpenAI-compatible server: llama-cpp-python's
`llama_cpp.server` on the embedded SmolLM2 GGUF, started here on 127.0.0.1 and stopped after.

The server rejects ``response_format: json_schema`` (it takes ``json_object`` with a
schema), so the run only finishes if the backend negotiates the form. Skipped when
llama-cpp-python or its server's dependencies are not installed (.ci/run installs them).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")
ALIAS = "smollm2-135m"
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"llama-cpp-python's server is not installed (missing: {', '.join(missing)})")
    from engine.embedded import embedded_model_path

    try:
        gguf = embedded_model_path()
    except Exception as error:  # the embedded model package is absent: nothing to serve
        pytest.skip(f"the embedded GGUF is not installed: {error}")
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", ALIAS,
        "--host", "127.0.0.1", "--port", str(port), "--n_threads", "2", "--n_ctx", "8192",
    ]  # fmt: skip
    with log.open("w") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {server.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer within 120 s: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield base_url, log
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_llama_cpp_server_rejects_json_schema_and_the_backend_negotiates(llama_server):
    from engine.openai_compat import OpenAICompatible
    from engine.types import SamplingParams

    base_url, _ = llama_server
    schema = {
        "type": "object",
        "properties": {"queries": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3}},
        "required": ["queries"],
    }
    rejected = httpx.post(
        f"{base_url}/chat/completions",
        json={
            "model": ALIAS,
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 4,
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        },
        timeout=60,
    )
    assert rejected.status_code >= 400 and "json_object" in rejected.text  # the server's own words
    with OpenAICompatible(base_url, ALIAS, backoff_s=0.01) as llm:
        messages = [{"role": "user", "content": "Give search queries about retrieval-augmented generation."}]
        answer = llm.chat(messages, SamplingParams(temperature=0.0, max_new_tokens=96), schema=schema)
        assert llm.structured_output_mode == "json_object"
    assert isinstance(json.loads(answer.text)["queries"], list)


def test_a_whole_survey_with_the_openai_backend(llama_server, sample_corpus, tmp_path):
    base_url, server_log = llama_server
    corpus = tmp_path / "corpus.jsonl"
    with gzip.open(sample_corpus, "rt", encoding="utf-8") as handle:
        corpus.write_text("".join(line for _, line in zip(range(300), handle, strict=False)), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPMSURVEY_")}
    env.update(
        CPMSURVEY_DATA_DIR=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
        CPMSURVEY_LLM__BASE_URL=base_url,
        CPMSURVEY_LLM__MODEL=ALIAS,
        CPMSURVEY_LLM__MAX_CONCURRENCY="1",
        # one answer of 1,024 tokens takes 15-25 s on 2 idle cores; far longer on a shared one
        CPMSURVEY_LLM__TIMEOUT_S="900",
        # the served model plans (search queries and titles as JSON: the negotiated form) and
        # the sections are written from the papers' abstracts, so the run stays short
        CPMSURVEY_WRITER__MODE="grounded",
    )
    command = [
        sys.executable, "-m", "app", "-v", "generate", "retrieval-augmented generation for language models",
        "--backend", "openai", "--corpus", str(corpus), "--sections", "2", "--words", "80",
    ]  # fmt: skip
    result = subprocess.run(
        command,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, f"{result.stderr[-3000:]}\nserver log:\n{server_log.read_text()[-2000:]}"
    assert "structured output from" in result.stderr and "json_object with the schema" in result.stderr
    output_dir = Path(result.stdout.strip().splitlines()[-1])
    survey = json.loads((output_dir / "survey.json").read_text(encoding="utf-8"))
    assert len(survey["sections"]) == 2 and survey["metadata"]["backend"] == "openai"
    corpus_ids = {json.loads(line)["id"] for line in corpus.read_text(encoding="utf-8").splitlines()}
    assert set(survey["references"]) <= corpus_ids
    for name in ("survey.md", "survey.bib", "survey.tex"):
        assert (output_dir / name).stat().st_size > 0
