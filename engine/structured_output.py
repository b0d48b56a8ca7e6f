"""JSON answers from OpenAI-compatible servers that constrain output in different ways.

vLLM, SGLang and OpenAI take ``response_format`` of type ``json_schema``; llama.cpp's
server (llama-cpp-python) rejects that type and takes ``json_object`` with a ``schema``;
an xgrammar-backed server may take only a grammar field; a hosted model may take none.
engine.openai_compat tries these forms in order and steps down when the server rejects
one (a 4xx answer, or a 5xx whose message is a request-validation error, as
llama-cpp-python sends them), then keeps the form that worked for the rest of the run:

1. ``json_schema``: ``response_format = {"type": "json_schema", "json_schema": {name, schema}}``
2. ``json_object``: ``response_format = {"type": "json_object", "schema": schema}``
3. ``grammar``: the schema compiled to EBNF by xgrammar, in the client's grammar field
4. ``prompt``: the schema in the prompt; the answer is validated and, when it does not
   validate, repaired: its JSON object is cut out of the text around it, else the model
   is shown the error and asked again (``PROMPT_REPAIRS`` times at most).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from engine.types import Message, Schema

StructuredMode = Literal["json_schema", "json_object", "grammar", "prompt"]
STRUCTURED_MODES: tuple[StructuredMode, ...] = ("json_schema", "json_object", "grammar", "prompt")
PROMPT_REPAIRS = 2

# How servers word a rejected request body: pydantic/FastAPI (llama-cpp-python answers
# them with status 500) and OpenAI ("Unrecognized request argument").
_VALIDATION_MESSAGE = re.compile(
    r"validation error|Input should be|Field required|Extra inputs are not permitted|literal_error|"
    r"'loc': \('body'|Unrecognized request argument",
    re.IGNORECASE,
)

SCHEMA_INSTRUCTION = (
    "Answer with one JSON object and nothing else: no explanation, no code fence. "
    "It must validate against this JSON schema:\n{schema}"
)
REPAIR_INSTRUCTION = (
    "That answer is not valid: {error}. Answer again with only the corrected JSON object, "
    "valid against the schema given before."
)


def looks_like_request_validation(message: str) -> bool:
    """Whether a server's error text says the request body was invalid (not a passing fault)."""
    return bool(_VALIDATION_MESSAGE.search(message))


def schema_name_and_dict(schema: Schema) -> tuple[str, dict[str, Any]]:
    """A name OpenAI accepts ([a-zA-Z0-9_-], at most 64) and the JSON schema as a dict."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        name, schema_dict = schema.__name__, schema.model_json_schema()
    elif isinstance(schema, dict):
        name, schema_dict = str(schema.get("title") or "response"), schema
    else:
        raise ValueError(f"a schema is a pydantic model class or a JSON-schema dict, got {type(schema).__name__}")
    return re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:64] or "response", schema_dict


def schema_grammar(schema: Schema) -> str:
    """The schema as EBNF in xgrammar's dialect (what vLLM's and SGLang's grammar fields read)."""
    import xgrammar

    _, schema_dict = schema_name_and_dict(schema)
    return str(xgrammar.Grammar.from_json_schema(json.dumps(schema_dict), any_whitespace=False))


def request_fields(mode: StructuredMode, schema: Schema, grammar_field: str) -> dict[str, Any]:
    """The body fields that ask the server for JSON valid against `schema`, in form `mode`."""
    name, schema_dict = schema_name_and_dict(schema)
    if mode == "json_schema":
        return {"response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": schema_dict}}}
    if mode == "json_object":
        return {"response_format": {"type": "json_object", "schema": schema_dict}}
    if mode == "grammar":
        grammar = schema_grammar(schema)
        if grammar_field == "structured_outputs":
            return {"structured_outputs": {"grammar": grammar}}
        return {grammar_field: grammar}
    return {}


def with_schema_instruction(messages: list[dict[str, Any]], schema: Schema) -> list[dict[str, Any]]:
    """`messages` with the schema instruction added to the last user message (prompt mode)."""
    _, schema_dict = schema_name_and_dict(schema)
    instruction = SCHEMA_INSTRUCTION.format(schema=json.dumps(schema_dict, ensure_ascii=False))
    changed = [dict(message) for message in messages]
    users = [i for i, message in enumerate(changed) if message["role"] == "user"]
    if users:
        changed[users[-1]]["content"] = f"{changed[users[-1]]['content']}\n\n{instruction}"
    else:
        changed.append({"role": "user", "content": instruction})
    return changed


def repair_messages(messages: list[dict[str, Any]], answer: str, error: str) -> list[Message]:
    """The conversation that shows the model its invalid `answer` and the `error`."""
    return [
        *messages,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": REPAIR_INSTRUCTION.format(error=error)},
    ]


def _json_values(text: str) -> list[Any]:
    """The JSON objects in `text`: the whole text, else each one starting at a "{"."""
    stripped = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", stripped, re.DOTALL)
    stripped = fenced.group(1) if fenced else stripped
    try:
        return [json.loads(stripped)]
    except ValueError:
        pass
    decoder, found = json.JSONDecoder(), []
    for start in (m.start() for m in re.finditer(r"\{", text)):
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        found.append(value)
    return found


def _schema_error(value: Any, schema: Schema) -> str | None:
    """Why `value` does not validate against `schema` (None when it does)."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        try:
            schema.model_validate(value)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            return f"{'.'.join(map(str, first['loc'])) or 'the object'}: {first['msg']}"
        return None
    import jsonschema

    problem = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    if problem is None:
        return None
    where = ".".join(map(str, problem.absolute_path)) or "the object"
    return f"{where}: {problem.message[:200]}"


def validated_json(text: str, schema: Schema) -> tuple[str | None, str]:
    """(the answer's JSON text valid against `schema`, "") or (None, why not).

    A valid object inside other text (a preamble, a code fence) is cut out of it."""
    values = _json_values(text)
    if not values:
        return None, "it is not JSON (no JSON object found)"
    error = ""
    for value in values:
        error = _schema_error(value, schema) or ""
        if not error:
            return json.dumps(value, ensure_ascii=False), ""
    return None, error
