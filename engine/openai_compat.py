"""The LLM interface over any server that speaks the OpenAI chat API (vLLM, SGLang,
llama.cpp's server, a hosted model), with httpx.

What goes over the wire, beyond the standard chat fields:
- ``schema`` is asked for in the first form the server takes (engine.structured_output):
  ``response_format`` of type ``json_schema`` (sent without ``strict``: vLLM and SGLang
  enforce the schema anyway, and OpenAI's strict mode would reject schemas with optional
  fields), then ``json_object`` with the schema (llama.cpp's server), then the schema as a
  grammar, then the schema in the prompt with validation and repair. The form that worked
  is kept for the client's life (one run) and logged once.
- ``grammar`` (EBNF in xgrammar's dialect, e.g. :func:`engine.constrained.citation_grammar`)
  goes in the field the server reads, chosen by ``grammar_field``: ``guided_grammar``
  (vLLM's classic extra parameter, the default), ``structured_outputs`` (newer vLLM:
  ``{"structured_outputs": {"grammar": ...}}``), ``ebnf`` (SGLang) or ``grammar``
  (llama.cpp's server, GBNF, which the citation grammar also is).
- ``top_k``, ``min_p`` and ``repetition_penalty`` are not OpenAI parameters; vLLM, SGLang
  and llama.cpp accept them. They are sent only when they change anything, so that hosted
  APIs that reject unknown fields keep working with the defaults.

Connect errors, 429 and 5xx answers are retried with exponential backoff and jitter,
honouring ``Retry-After``; a read timeout is not retried (it already waited timeout_s), nor
is a 5xx whose message is a request-validation error (llama-cpp-python answers a body it
rejects with 500): the same request would be rejected again.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from engine.errors import BackendResponseError, BackendUnavailableError, ContextWindowExceededError, EngineError
from engine.structured_output import (
    PROMPT_REPAIRS,
    STRUCTURED_MODES,
    StructuredMode,
    looks_like_request_validation,
    repair_messages,
    request_fields,
    validated_json,
    with_schema_instruction,
)
from engine.types import Completion, Message, SamplingParams, Schema

log = logging.getLogger(__name__)

# Used when neither the server (/v1/models max_model_len, as vLLM reports it) nor the
# settings (llm.context_window) say: small enough for any model served today.
DEFAULT_CONTEXT_WINDOW = 8192
# count_tokens' estimate when the server has no /tokenize: UTF-8 bytes / 3.5, rounded up.
# English BPE averages about 4 characters a token, so this overestimates slightly and keeps
# prompt budgets on the safe side; CJK text (3 bytes a character) lands near 1 token each.
BYTES_PER_TOKEN_ESTIMATE = 3.5
GrammarField = Literal["guided_grammar", "structured_outputs", "ebnf", "grammar"]
GRAMMAR_FIELDS: tuple[str, ...] = ("guided_grammar", "structured_outputs", "ebnf", "grammar")
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class RequestRejectedError(BackendResponseError):
    """The server rejected the request body itself (400, 422, or a validation error sent as
    a 5xx): sending it again cannot help; a request in another form may."""


def estimate_tokens(text: str) -> int:
    """Token count estimate used when the server cannot count: ceil(UTF-8 bytes / 3.5)."""
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN_ESTIMATE)


class OpenAICompatible:
    """A chat model behind an OpenAI-compatible HTTP server. Thread-safe.

    base_url: the API root, usually ending in ``/v1`` (``http://127.0.0.1:8000/v1``).
    model: the served model's name. timeout_s: how long one answer may take.
    max_retries: further attempts after a connect error, 429 or 5xx.
    context_window: overrides what the server reports. max_concurrency: parallel
    requests in :meth:`batch_chat`. grammar_field: see the module docstring.
    structured_output: "auto" negotiates the form of schema requests with the server (see
    engine.structured_output); a mode name fixes it.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        max_retries: int = 3,
        context_window: int | None = None,
        max_concurrency: int = 4,
        grammar_field: GrammarField = "guided_grammar",
        connect_timeout_s: float = 10.0,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        max_retry_after_s: float = 120.0,
        structured_output: StructuredMode | Literal["auto"] = "auto",
    ) -> None:
        if not re.match(r"^https?://", base_url):
            raise ValueError(f"llm.base_url {base_url!r} must start with http:// or https://")
        if grammar_field not in GRAMMAR_FIELDS:
            raise ValueError(f"grammar_field {grammar_field!r} is not one of {', '.join(GRAMMAR_FIELDS)}")
        if structured_output != "auto" and structured_output not in STRUCTURED_MODES:
            modes = ", ".join(STRUCTURED_MODES)
            raise ValueError(f"structured_output {structured_output!r} is not auto or one of {modes}")
        if max_concurrency < 1 or max_retries < 0:
            raise ValueError("max_concurrency must be >= 1 and max_retries >= 0")
        self.name = model
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.max_concurrency = max_concurrency
        self.grammar_field = grammar_field
        self.timeout_s = timeout_s
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._max_retry_after_s = max_retry_after_s
        self._context_window_override = context_window
        self._server_context_window: int | None = None
        self._tokenize_available: bool | None = None
        # the structured-output form that worked (None: not negotiated yet); fixed when set
        self._structured_mode: StructuredMode | None = None if structured_output == "auto" else structured_output
        self._structured_fixed = structured_output != "auto"
        self._lock = threading.Lock()
        self._jitter = random.Random()
        headers = {"User-Agent": "cpmsurvey"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s)),
            limits=httpx.Limits(max_connections=max(max_concurrency, 4)),
        )

    def __repr__(self) -> str:
        return f"OpenAICompatible(base_url={self.base_url!r}, model={self.model!r})"

    @property
    def structured_output_mode(self) -> StructuredMode | None:
        """The form of schema requests this server took (None: none made yet)."""
        with self._lock:
            return self._structured_mode

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> OpenAICompatible:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def served_models(self) -> list[str]:
        """The model names the server lists at /v1/models."""
        response = self._send("/models", None)
        data = self._json_of(response).get("data")
        if not isinstance(data, list):
            raise self._garbage(response, "no data list in the /models answer")
        return [str(entry["id"]) for entry in data if isinstance(entry, dict) and "id" in entry]

    # --- the LLM interface ---------------------------------------------------------------

    @property
    def context_window(self) -> int:
        """llm.context_window when set; else the server's ``max_model_len`` from /v1/models
        (vLLM reports it); else DEFAULT_CONTEXT_WINDOW (8192). Asked once."""
        if self._context_window_override is not None:
            return self._context_window_override
        with self._lock:
            if self._server_context_window is None:
                self._server_context_window = self._fetch_max_model_len() or DEFAULT_CONTEXT_WINDOW
            return self._server_context_window

    def chat(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        schema: Schema | None = None,
        grammar: str | None = None,
    ) -> Completion:
        """Answer one conversation. With `schema` the answer is JSON valid against it, in the
        form this server takes (negotiated on the first schema request, see
        engine.structured_output); with `grammar`, it follows the EBNF grammar."""
        if schema is not None and grammar is not None:
            raise ValueError("pass a schema or a grammar, not both")
        if schema is None:
            return self._chat_once(messages, params, grammar=grammar)
        for mode in self._structured_modes():
            try:
                completion = self._chat_once(messages, params, schema=schema, mode=mode)
            except ContextWindowExceededError:
                raise
            except RequestRejectedError as rejected:
                if mode == STRUCTURED_MODES[-1] or self._structured_fixed:
                    raise
                log.debug("%s rejected structured output as %s (%s); trying the next", self.base_url, mode, rejected)
                continue
            self._settle_structured_mode(mode)
            if mode == "prompt":
                return self._validated_or_repaired(messages, params, schema, completion)
            return completion
        raise AssertionError("the prompt form is always tried last")

    def _chat_once(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        *,
        schema: Schema | None = None,
        mode: StructuredMode | None = None,
        grammar: str | None = None,
    ) -> Completion:
        started = time.perf_counter()
        body = self._chat_body(messages, params, schema, grammar, stream=False, mode=mode)
        response = self._send("/chat/completions", body)
        data = self._json_of(response)
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"]
            finish = choice.get("finish_reason")
        except (KeyError, IndexError, TypeError):
            raise self._garbage(response, "no choices[0].message.content in the answer") from None
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise self._garbage(response, "choices[0].message.content is not text")
        prompt_tokens, completion_tokens = self._usage(data.get("usage"), body["messages"], text)
        return Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason="length" if finish == "length" else "stop",
            seconds=time.perf_counter() - started,
        )

    def _structured_modes(self) -> tuple[StructuredMode, ...]:
        """The forms to try, from the one that worked last (all of them before the first success)."""
        with self._lock:
            current = self._structured_mode
        if current is None:
            return STRUCTURED_MODES
        return STRUCTURED_MODES[STRUCTURED_MODES.index(current) :]

    def _settle_structured_mode(self, mode: StructuredMode) -> None:
        """Keep `mode` for the rest of the run; say which form the server takes, once."""
        with self._lock:
            if self._structured_mode == mode:
                return
            self._structured_mode = mode
        how = {
            "json_schema": "response_format json_schema",
            "json_object": "response_format json_object with the schema",
            "grammar": f"the schema as a grammar in {self.grammar_field}",
            "prompt": "the schema in the prompt, answers validated and repaired (the server constrains nothing)",
        }[mode]
        (log.warning if mode == "prompt" else log.info)("structured output from %s: %s", self.base_url, how)

    def _validated_or_repaired(
        self, messages: Sequence[Message], params: SamplingParams, schema: Schema, completion: Completion
    ) -> Completion:
        """Prompt mode: the answer's valid JSON, asking again with the error shown when there is
        none; after PROMPT_REPAIRS tries the last answer is returned as it is (callers validate)."""
        conversation = with_schema_instruction(list(messages), schema)
        prompt_tokens, completion_tokens = completion.prompt_tokens, completion.completion_tokens
        for attempt in range(PROMPT_REPAIRS + 1):
            valid, error = validated_json(completion.text, schema)
            if valid is not None:
                completion = dataclasses.replace(completion, text=valid)
                break
            if attempt == PROMPT_REPAIRS:
                log.warning("the answer is still not valid JSON for the schema after %d repairs: %s", attempt, error)
                break
            conversation = repair_messages(conversation, completion.text, error)
            completion = self._chat_once(conversation, params)
            prompt_tokens += completion.prompt_tokens
            completion_tokens += completion.completion_tokens
        return dataclasses.replace(completion, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    def stream(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        schema: Schema | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        """Answer one conversation, yielding text pieces as the server sends them
        (server-sent events). The request goes out when iteration starts; a connection lost
        midway raises BackendUnavailableError (it is not retried: text was already given).
        With `schema`, the form is negotiated as in :meth:`chat`, but a prompt-mode answer
        streams as the model writes it, unvalidated."""
        url = self._url("/chat/completions")
        response = self._open_stream(messages, params, schema, grammar)
        try:
            if "text/event-stream" not in response.headers.get("content-type", ""):
                # A server that ignores `stream` answers with one JSON completion.
                response.read()
                yield from self._pieces_of_whole_answer(response)
                return
            for data in _server_sent_events(response.iter_lines()):
                if data.strip() == "[DONE]":
                    return
                yield from self._pieces_of_chunk(response, data)
        except httpx.TransportError as error:
            raise BackendUnavailableError(
                f"the connection to {url} broke while streaming ({type(error).__name__}: {error}); "
                "check the server's log, then retry"
            ) from None
        finally:
            response.close()

    def _open_stream(
        self, messages: Sequence[Message], params: SamplingParams, schema: Schema | None, grammar: str | None
    ) -> httpx.Response:
        if schema is None:
            body = self._chat_body(messages, params, None, grammar, stream=True)
            return self._send("/chat/completions", body, stream=True)
        for mode in self._structured_modes():
            body = self._chat_body(messages, params, schema, grammar, stream=True, mode=mode)
            try:
                response = self._send("/chat/completions", body, stream=True)
            except ContextWindowExceededError:
                raise
            except RequestRejectedError:
                if mode == STRUCTURED_MODES[-1] or self._structured_fixed:
                    raise
                continue
            self._settle_structured_mode(mode)
            return response
        raise AssertionError("the prompt form is always tried last")

    def batch_chat(
        self,
        conversations: Sequence[Sequence[Message]],
        params: SamplingParams,
        schema: Schema | None = None,
        grammar: str | None = None,
    ) -> list[Completion]:
        """Answer several conversations concurrently (at most max_concurrency requests at a
        time); results are in input order.

        A conversation the server rejects (a bad answer, a prompt too long) comes back as an
        empty Completion with finish_reason "error", logged as a warning, so the others'
        work is kept. If the server is unreachable (BackendUnavailableError), or every
        conversation failed, the first error is raised.
        """
        if not conversations:
            return []
        workers = min(self.max_concurrency, len(conversations))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai-compat") as pool:
            futures = [pool.submit(self.chat, c, params, schema, grammar) for c in conversations]
            outcomes: list[Completion | EngineError] = []
            for index, future in enumerate(futures):
                try:
                    outcomes.append(future.result())
                except BackendUnavailableError:
                    for pending in futures[index + 1 :]:
                        pending.cancel()
                    raise
                except EngineError as error:
                    log.warning("conversation %d of %d failed: %s", index + 1, len(conversations), error)
                    outcomes.append(error)
        errors = [o for o in outcomes if isinstance(o, EngineError)]
        if len(errors) == len(outcomes):
            raise errors[0]
        return [
            o
            if isinstance(o, Completion)
            else Completion(text="", prompt_tokens=0, completion_tokens=0, finish_reason="error")
            for o in outcomes
        ]

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes: exact from the server's /tokenize endpoint when it has one
        (vLLM serves it at the server root, beside /v1), else :func:`estimate_tokens`
        (UTF-8 bytes / 3.5, rounded up). Whether /tokenize exists is asked once."""
        if not text:
            return 0
        if self._tokenize_available is not False:
            counted = self._server_token_count(text)
            if counted is not None:
                return counted
        return estimate_tokens(text)

    # --- requests ------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.base_url + path

    def _server_root(self) -> str:
        return self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url

    def _chat_body(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        schema: Schema | None,
        grammar: str | None,
        *,
        stream: bool,
        mode: StructuredMode | None = None,
    ) -> dict[str, Any]:
        if schema is not None and grammar is not None:
            raise ValueError("pass a schema or a grammar, not both")
        plain_messages = [{"role": m["role"], "content": m["content"]} for m in messages]
        if schema is not None and mode == "prompt":
            plain_messages = with_schema_instruction(plain_messages, schema)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": plain_messages,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if params.top_k:
            body["top_k"] = params.top_k
        if params.min_p:
            body["min_p"] = params.min_p
        if params.repetition_penalty != 1.0:
            body["repetition_penalty"] = params.repetition_penalty
        if schema is not None:
            body.update(request_fields(mode or STRUCTURED_MODES[0], schema, self.grammar_field))
        if grammar is not None:
            if self.grammar_field == "structured_outputs":
                body["structured_outputs"] = {"grammar": grammar}
            else:
                body[self.grammar_field] = grammar
        return body

    def _send(
        self, path: str, body: dict[str, Any] | None, *, stream: bool = False, root: bool = False
    ) -> httpx.Response:
        """One request with retries; returns a 2xx response (open when `stream`)."""
        url = (self._server_root() if root else self.base_url) + path
        method = "GET" if body is None else "POST"
        attempts = self.max_retries + 1
        last_problem = ""
        for attempt in range(attempts):
            retry_after: float | None = None
            try:
                request = self._client.build_request(method, url, json=body)
                response = self._client.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError) as error:
                last_problem = f"{type(error).__name__}: {error}"
            except httpx.TimeoutException:
                raise BackendUnavailableError(
                    f"{url} did not answer within {self.timeout_s:g} s; the server may be overloaded or the "
                    "answer long: raise llm.timeout_s or lower max_new_tokens"
                ) from None
            else:
                if response.status_code < 400:
                    return response
                response.read()
                response.close()
                if response.status_code not in _RETRYABLE_STATUS or looks_like_request_validation(
                    _server_message(response)
                ):
                    raise self._http_error(url, response)
                last_problem = f"HTTP {response.status_code}: {_server_message(response)}"
                retry_after = _retry_after_seconds(response.headers.get("retry-after"))
            if attempt + 1 < attempts:
                delay = self._delay(attempt, retry_after)
                log.warning(
                    "%s failed (%s); retry %d of %d in %.1f s", url, last_problem, attempt + 1, self.max_retries, delay
                )
                time.sleep(delay)
        advice = (
            "The server is up but failing: check its log and load, or retry later"
            if last_problem.startswith("HTTP")
            else "Check that the server is running and reachable, and that llm.base_url is right (it usually "
            "ends in /v1)"
        )
        raise BackendUnavailableError(
            f"cannot get an answer from the OpenAI-compatible server at {url} after {attempts} attempt(s): "
            f"{last_problem}. {advice}"
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._max_retry_after_s)
        ceiling = min(self._max_backoff_s, self._backoff_s * 2**attempt)
        return ceiling * (0.5 + 0.5 * self._jitter.random())  # jitter spreads out concurrent retries

    def _http_error(self, url: str, response: httpx.Response) -> EngineError:
        status = response.status_code
        message = _server_message(response)
        if status in (401, 403):
            return BackendResponseError(
                f"{url} refused the request ({status}: {message}); set llm.api_key (CPMSURVEY_LLM__API_KEY)"
            )
        if status == 404:
            return BackendResponseError(
                f"{url} answered 404 ({message}); check llm.base_url (it usually ends in /v1) and that "
                f"llm.model {self.model!r} is a model the server serves"
            )
        if status == 400 and re.search(r"context (length|window)|maximum.*tokens|too long", message, re.IGNORECASE):
            return ContextWindowExceededError(f"{url}: the prompt does not fit the model's context ({message})")
        if status in (400, 422) or looks_like_request_validation(message):
            return RequestRejectedError(f"{url} rejected the request ({status}): {message}")
        return BackendResponseError(f"{url} rejected the request ({status}): {message}")

    def _json_of(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise self._garbage(response, "the answer is not JSON") from None
        if not isinstance(data, dict):
            raise self._garbage(response, "the answer is not a JSON object")
        return data

    def _garbage(self, response: httpx.Response, what: str) -> BackendResponseError:
        try:
            snippet = response.text[:200]
        except httpx.ResponseNotRead:
            snippet = ""
        return BackendResponseError(
            f"{response.request.url} answered something that is not an OpenAI chat completion ({what}): "
            f"{snippet!r}; is llm.base_url an OpenAI-compatible server?"
        )

    def _pieces_of_whole_answer(self, response: httpx.Response) -> Iterator[str]:
        data = self._json_of(response)
        try:
            text = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise self._garbage(response, "no choices[0].message.content in the answer") from None
        if text:
            yield text

    def _pieces_of_chunk(self, response: httpx.Response, data: str) -> Iterator[str]:
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError:
            raise BackendResponseError(
                f"{response.request.url} sent a stream event that is not JSON: {data[:200]!r}; "
                "is llm.base_url an OpenAI-compatible server?"
            ) from None
        if not isinstance(chunk, dict):
            raise BackendResponseError(
                f"{response.request.url} sent a stream event that is not an object: {data[:200]!r}"
            )
        if "error" in chunk:
            error = chunk["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise BackendResponseError(f"{response.request.url} reported an error while streaming: {message}")
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            piece = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(piece, str) and piece:
                yield piece

    def _usage(self, usage: Any, messages: Sequence[Message], text: str) -> tuple[int, int]:
        if isinstance(usage, dict):
            prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
            if isinstance(prompt, int) and isinstance(completion, int):
                return prompt, completion
        # The server did not count: estimate rather than ask it again.
        return sum(estimate_tokens(m["content"]) for m in messages), estimate_tokens(text)

    def _fetch_max_model_len(self) -> int | None:
        try:
            response = self._send("/models", None)
        except BackendResponseError as error:
            log.info("cannot list the server's models (%s); context window %d", error, DEFAULT_CONTEXT_WINDOW)
            return None
        try:
            entries = response.json().get("data") or []
        except (json.JSONDecodeError, AttributeError):
            return None
        entries = [e for e in entries if isinstance(e, dict)]
        chosen = [e for e in entries if e.get("id") == self.model] or (entries if len(entries) == 1 else [])
        length = chosen[0].get("max_model_len") if chosen else None
        if isinstance(length, int) and length > 0:
            return length
        log.info(
            "the server does not report max_model_len for %r; context window %d", self.model, DEFAULT_CONTEXT_WINDOW
        )
        return None

    def _server_token_count(self, text: str) -> int | None:
        body = {"model": self.model, "prompt": text, "add_special_tokens": False}
        try:
            response = self._send("/tokenize", body, root=True)
            data = response.json()
            count = data.get("count") if isinstance(data.get("count"), int) else len(data["tokens"])
        except (BackendResponseError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
            if self._tokenize_available is None:
                log.info("%s/tokenize is not available; token counts are estimates", self._server_root())
            self._tokenize_available = False
            return None
        self._tokenize_available = True
        return count


def _server_message(response: httpx.Response) -> str:
    """The error text a server put in its answer (OpenAI's {"error": {"message"}}, FastAPI's
    {"detail"}, or the raw text), on one line."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    message: Any = None
    if isinstance(data, dict):
        error = data.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        message = message or data.get("message") or data.get("detail")
    text = str(message) if message else response.text
    return " ".join(text.split())[:300] or response.reason_phrase


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After in seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _server_sent_events(lines: Iterable[str]) -> Iterator[str]:
    """The data of each server-sent event: ``data:`` lines joined, an event ending at a
    blank line; comments and other fields are skipped."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)
