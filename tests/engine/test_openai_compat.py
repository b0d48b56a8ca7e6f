"""OpenAICompatible against a scripted local HTTP server (no network)."""

from __future__ import annotations

import importlib.util
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from pydantic import BaseModel

from engine.errors import BackendResponseError, BackendUnavailableError, ContextWindowExceededError
from engine.openai_compat import (
    DEFAULT_CONTEXT_WINDOW,
    OpenAICompatible,
    _retry_after_seconds,
    _server_sent_events,
    estimate_tokens,
)
from engine.types import LLM, SamplingParams


def _load_fake_server():
    path = Path(__file__).with_name("fake_openai_server.py")
    spec = importlib.util.spec_from_file_location("fake_openai_server", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fake = _load_fake_server()
PARAMS = SamplingParams(max_new_tokens=32)


def user(text: str) -> list[dict]:
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]


@pytest.fixture()
def server():
    with fake.FakeOpenAIServer() as running:
        yield running


def backend(server, **options) -> OpenAICompatible:
    options.setdefault("backoff_s", 0.01)
    return OpenAICompatible(server.base_url, server.model, **options)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_plain_answer_and_request_shape(server):
    llm = backend(server, api_key="sk-test")
    assert isinstance(llm, LLM)
    params = SamplingParams(temperature=0.3, top_p=0.9, max_new_tokens=20, stop=["\n\n"], seed=5)
    completion = llm.chat(user("hello there"), params)
    assert completion.text == "echo: hello there"
    assert (completion.prompt_tokens, completion.completion_tokens, completion.finish_reason) == (7, 3, "stop")
    body = server.chat_requests()[0]
    assert body["model"] == "fake-model" and body["messages"][1] == {"role": "user", "content": "hello there"}
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["stop"], body["seed"]) == (
        0.3,
        0.9,
        20,
        ["\n\n"],
        5,
    )
    # neutral non-OpenAI parameters stay out of the request; set ones go in
    assert not {"top_k", "min_p", "repetition_penalty", "response_format", "guided_grammar"} & set(body)
    llm.chat(user("x"), SamplingParams(top_k=40, min_p=0.05, repetition_penalty=1.1))
    assert {"top_k": 40, "min_p": 0.05, "repetition_penalty": 1.1}.items() <= server.chat_requests()[1].items()
    assert server.authorization[0] == "Bearer sk-test"
    assert "sk-test" not in repr(llm)


def test_streaming(server):
    llm = backend(server)
    pieces = list(llm.stream(user("a b c d"), PARAMS))
    assert pieces == ["echo:", " a", " b", " c", " d"]
    assert server.chat_requests()[0]["stream"] is True


def test_stream_from_a_server_that_ignores_stream(server):
    server.script(fake.json_answer({"choices": [{"message": {"content": "whole answer"}, "finish_reason": "stop"}]}))
    assert list(backend(server).stream(user("x"), PARAMS)) == ["whole answer"]


class Verdict(BaseModel):
    supported: bool
    rewrite: str = ""


def test_schema_and_grammar_pass_through(server):
    llm = backend(server)
    llm.chat(user("judge"), PARAMS, schema=Verdict)
    llm.chat(user("judge"), PARAMS, schema={"title": "my schema!", "type": "object"})
    llm.chat(user("cite"), PARAMS, grammar='root ::= "x"')
    backend(server, grammar_field="ebnf").chat(user("cite"), PARAMS, grammar='root ::= "y"')
    list(backend(server, grammar_field="structured_outputs").stream(user("cite"), PARAMS, grammar='root ::= "z"'))
    first, second, third, fourth, fifth = server.chat_requests()
    assert first["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Verdict", "schema": Verdict.model_json_schema()},
    }
    assert second["response_format"]["json_schema"]["name"] == "my_schema_"
    assert third["guided_grammar"] == 'root ::= "x"' and "response_format" not in third
    assert fourth["ebnf"] == 'root ::= "y"' and "guided_grammar" not in fourth
    assert fifth["structured_outputs"] == {"grammar": 'root ::= "z"'}
    with pytest.raises(ValueError, match="not both"):
        llm.chat(user("x"), PARAMS, schema=Verdict, grammar='root ::= "x"')


def test_retries_after_503_then_succeeds(server):
    server.script(
        fake.json_answer({"error": {"message": "loading"}}, status=503),
        fake.Scripted(502, b"bad gateway"),
    )
    completion = backend(server, max_retries=3).chat(user("again"), PARAMS)
    assert completion.text == "echo: again"
    assert len(server.chat_requests()) == 3


def test_retry_after_is_honoured(server):
    server.script(fake.Scripted(429, b"slow down", {"retry-after": "0.4"}))
    llm = backend(server, max_retries=1, backoff_s=20.0)  # the backoff alone would wait 10-20 s
    started = time.perf_counter()
    assert llm.chat(user("patience"), PARAMS).text == "echo: patience"
    assert 0.35 <= time.perf_counter() - started < 5


def test_retry_after_formats():
    assert _retry_after_seconds("3") == 3.0
    assert _retry_after_seconds(None) is None and _retry_after_seconds("soon") is None
    in_ten = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    assert 8 <= _retry_after_seconds(in_ten) <= 10


def test_persistent_5xx_gives_up_with_the_status(server):
    server.script(*[fake.json_answer({"error": {"message": "overloaded"}}, status=503)] * 3)
    with pytest.raises(BackendUnavailableError, match=r"after 3 attempt\(s\): HTTP 503: overloaded"):
        backend(server, max_retries=2).chat(user("x"), PARAMS)


def test_server_down_fails_quickly_with_the_url():
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = OpenAICompatible(url, "m", max_retries=2, backoff_s=0.01)
    started = time.perf_counter()
    with pytest.raises(BackendUnavailableError) as caught:
        llm.chat(user("anyone?"), PARAMS)
    assert time.perf_counter() - started < 3
    message = str(caught.value)
    assert url in message and "server is running" in message and "llm.base_url" in message
    with pytest.raises(BackendUnavailableError):
        list(llm.stream(user("anyone?"), PARAMS))


def test_garbage_answers(server):
    llm = backend(server)
    server.script(fake.Scripted(200, b"<html>hello</html>", {"content-type": "text/html"}))
    with pytest.raises(BackendResponseError, match=r"not JSON.*html"):
        llm.chat(user("x"), PARAMS)
    server.script(fake.json_answer({"result": "no choices here"}))
    with pytest.raises(BackendResponseError, match="choices"):
        llm.chat(user("x"), PARAMS)
    server.script(fake.sse_answer(['{"choices": [{"delta": {"content": "ok"}}]}', "{not json"]))
    stream = llm.stream(user("x"), PARAMS)
    assert next(stream) == "ok"
    with pytest.raises(BackendResponseError, match="stream event that is not JSON"):
        next(stream)


def test_client_errors_name_what_to_fix(server):
    llm = backend(server)
    with pytest.raises(BackendResponseError, match=r"llm\.api_key"):
        llm.chat(user("status:401 who"), PARAMS)
    with pytest.raises(BackendResponseError, match=r"llm\.base_url"):
        OpenAICompatible(server.base_url.removesuffix("/v1") + "/nope", "m").chat(user("x"), PARAMS)
    server.script(fake.json_answer({"error": {"message": "This model's maximum context length is 4096"}}, 400))
    with pytest.raises(ContextWindowExceededError):
        llm.chat(user("long"), PARAMS)
    assert len(server.chat_requests()) == 2  # 4xx is not retried


def test_batch_keeps_input_order_and_runs_concurrently(server):
    llm = backend(server, max_concurrency=4)
    delays = [0.4, 0.3, 0.2, 0.1, 0.0]
    conversations = [user(f"sleep:{d} number {i}") for i, d in enumerate(delays)]
    started = time.perf_counter()
    completions = llm.batch_chat(conversations, PARAMS)
    elapsed = time.perf_counter() - started
    assert [c.text for c in completions] == [f"echo: sleep:{d} number {i}" for i, d in enumerate(delays)]
    assert elapsed < sum(delays)  # one at a time would take 1.0 s
    assert llm.batch_chat([], PARAMS) == []


def test_batch_keeps_the_others_when_one_fails(server):
    llm = backend(server)
    completions = llm.batch_chat([user("fine"), user("status:400 bad"), user("also fine")], PARAMS)
    assert [c.finish_reason for c in completions] == ["stop", "error", "stop"]
    assert completions[2].text == "echo: also fine" and completions[1].text == ""
    with pytest.raises(BackendResponseError):
        llm.batch_chat([user("status:400 a"), user("status:400 b")], PARAMS)


def test_context_window_sources(server):
    assert backend(server).context_window == 4096
    assert backend(server, context_window=1000).context_window == 1000
    with fake.FakeOpenAIServer(max_model_len=None) as silent:
        assert backend(silent).context_window == DEFAULT_CONTEXT_WINDOW


def test_count_tokens_uses_tokenize_else_estimates(server):
    llm = backend(server)
    assert llm.count_tokens("four words right here") == 4
    assert llm.count_tokens("") == 0
    with fake.FakeOpenAIServer(tokenize=False) as plain:
        estimating = backend(plain)
        assert estimating.count_tokens("four words right here") == estimate_tokens("four words right here") == 6
        estimating.count_tokens("again")
        assert sum(path == "/tokenize" for _, path, _ in plain.requests) == 1  # asked once


def test_server_sent_events_parser():
    lines = ["data: one", "", ": comment", "event: message", "data: two", "data: lines", "", "data:three"]
    assert list(_server_sent_events(lines)) == ["one", "two\nlines", "three"]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="http"):
        OpenAICompatible("localhost:8000/v1", "m")
    with pytest.raises(ValueError, match="grammar_field"):
        OpenAICompatible("http://x/v1", "m", grammar_field="regex")  # type: ignore[arg-type]
