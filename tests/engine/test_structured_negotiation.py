"""Structured output negotiated per server: json_schema, then json_object with the schema,
then a grammar field, then the schema in the prompt with validation and repair; the form
kept for the run and logged once; a validation error never retried as a passing fault."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from engine.errors import BackendResponseError
from engine.openai_compat import OpenAICompatible, RequestRejectedError
from engine.structured_output import looks_like_request_validation, validated_json
from engine.types import SamplingParams


def _load_fake_server():
    path = Path(__file__).with_name("fake_openai_server.py")
    spec = importlib.util.spec_from_file_location("fake_openai_server_negotiation", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fake = _load_fake_server()
PARAMS = SamplingParams(max_new_tokens=32)
OPENAI_FIELDS = frozenset(
    {"model", "messages", "temperature", "top_p", "max_tokens", "stream", "stream_options", "stop", "seed",
     "response_format"}
)
QUERIES_SCHEMA = {
    "title": "QueryPlan",
    "type": "object",
    "properties": {"queries": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
    "required": ["queries"],
}


class Verdict(BaseModel):
    supported: bool
    reason: str


def ask(text: str = "plan") -> list[dict]:
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]


def backend(server, **options) -> OpenAICompatible:
    return OpenAICompatible(server.base_url, server.model, backoff_s=0.01, **options)


def kinds(server) -> list[str | None]:
    return [(body.get("response_format") or {}).get("type") for body in server.chat_requests()]


def test_a_llama_cpp_like_server_gets_json_object_once_negotiated(caplog):
    with fake.FakeOpenAIServer(response_formats=("text", "json_object")) as server:
        server.script(*[fake.json_answer(_chat_answer('{"queries": ["a"]}')) for _ in range(3)])
        llm = backend(server)
        with caplog.at_level(logging.INFO, logger="engine.openai_compat"):
            answers = [llm.chat(ask(), PARAMS, schema=QUERIES_SCHEMA).text for _ in range(3)]
        assert answers == ['{"queries": ["a"]}'] * 3
        # one rejected json_schema request (not retried), then json_object with the schema for the run
        assert kinds(server) == ["json_schema", "json_object", "json_object", "json_object"]
        assert server.chat_requests()[1]["response_format"]["schema"] == QUERIES_SCHEMA
        assert llm.structured_output_mode == "json_object"
        chosen = [r for r in caplog.records if "structured output from" in r.getMessage()]
        assert len(chosen) == 1 and "json_object with the schema" in chosen[0].getMessage()


def test_a_server_taking_only_a_grammar_gets_the_schema_as_ebnf():
    with fake.FakeOpenAIServer(response_formats=("text",)) as server:
        server.script(fake.json_answer(_chat_answer('{"supported": true, "reason": "r"}')))
        llm = backend(server, grammar_field="ebnf")
        assert json.loads(llm.chat(ask(), PARAMS, schema=Verdict).text)["supported"] is True
        last = server.chat_requests()[-1]
        assert kinds(server) == ["json_schema", "json_object", None]
        assert "\nroot ::= " in last["ebnf"] and '\\"supported\\"' in last["ebnf"]


def test_a_server_constraining_nothing_gets_the_schema_in_the_prompt_and_repairs(caplog):
    with fake.FakeOpenAIServer(known_fields=OPENAI_FIELDS - {"response_format"}) as server:
        server.script(
            fake.json_answer(_chat_answer('Sure! Here it is: {"queries": ["x", "y"]} Hope it helps.')),
            fake.json_answer(_chat_answer('{"queries": []}')),  # breaks minItems: repaired by asking again
            fake.json_answer(_chat_answer('```json\n{"queries": ["z"]}\n```')),
        )
        llm = backend(server)
        with caplog.at_level(logging.WARNING, logger="engine.openai_compat"):
            first = llm.chat(ask(), PARAMS, schema=QUERIES_SCHEMA)
            second = llm.chat(ask(), PARAMS, schema=QUERIES_SCHEMA)
        assert json.loads(first.text) == {"queries": ["x", "y"]}
        assert json.loads(second.text) == {"queries": ["z"]}
        requests = server.chat_requests()
        # json_schema, json_object (no response_format allowed), guided_grammar (unknown field), then prompts
        assert len(requests) == 3 + 1 + 2
        assert "JSON schema" in requests[3]["messages"][-1]["content"]
        repair = requests[5]["messages"]
        assert repair[-2] == {"role": "assistant", "content": '{"queries": []}'}
        assert "queries" in repair[-1]["content"] and "not valid" in repair[-1]["content"]
        assert second.prompt_tokens == 14  # both requests of the repaired answer counted
        assert sum("structured output from" in r.getMessage() for r in caplog.records) == 1


def test_a_validation_error_sent_as_500_is_not_retried():
    with fake.FakeOpenAIServer(response_formats=("text", "json_object")) as server:
        llm = backend(server, structured_output="json_schema", max_retries=3)
        with pytest.raises(RequestRejectedError, match="Input should be"):
            llm.chat(ask(), PARAMS, schema=QUERIES_SCHEMA)
        assert len(server.chat_requests()) == 1


def test_a_real_500_is_still_retried(monkeypatch):
    with fake.FakeOpenAIServer() as server:
        server.script(fake.json_answer({"error": {"message": "CUDA out of memory"}}, status=500))
        assert backend(server).chat(ask("hello"), PARAMS).text == "echo: hello"
        assert len(server.chat_requests()) == 2


def test_json_schema_stays_first_where_it_works():
    with fake.FakeOpenAIServer() as server:
        server.script(fake.json_answer(_chat_answer('{"queries": ["a"]}')))
        backend(server).chat(ask(), PARAMS, schema=QUERIES_SCHEMA)
        assert kinds(server) == ["json_schema"]


def test_an_unrelated_rejection_is_not_remembered_as_a_form():
    with fake.FakeOpenAIServer() as server:
        server.script(*[fake.json_answer({"error": {"message": "bad temperature"}}, status=400)] * 4)
        llm = backend(server)
        with pytest.raises(BackendResponseError, match="bad temperature"):
            llm.chat(ask(), PARAMS, schema=QUERIES_SCHEMA)
        server.script(fake.json_answer(_chat_answer('{"queries": ["a"]}')))
        llm.chat(ask(), PARAMS, schema=QUERIES_SCHEMA)
        assert kinds(server)[-1] == "json_schema"


def test_streaming_with_a_schema_negotiates_too():
    with fake.FakeOpenAIServer(response_formats=("text", "json_object")) as server:
        pieces = list(backend(server).stream(ask("hi there"), PARAMS, schema=QUERIES_SCHEMA))
        assert "".join(pieces) == "echo: hi there"
        assert kinds(server) == ["json_schema", "json_object"]


def test_validated_json_and_validation_messages():
    answer = '{"supported": false, "reason": "no"}'
    assert validated_json(answer, Verdict) == (answer, "")
    valid, error = validated_json('{"supported": "maybe"}', Verdict)
    assert valid is None and "supported" in error
    assert validated_json("no json here", Verdict)[1].startswith("it is not JSON")
    assert looks_like_request_validation("[{'type': 'literal_error', 'msg': \"Input should be 'text'\"}]")
    assert not looks_like_request_validation("CUDA out of memory")


def _chat_answer(text: str) -> dict:
    return {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3},
    }
