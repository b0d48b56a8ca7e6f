"""A scripted OpenAI-compatible server for tests: stdlib http.server on 127.0.0.1 in a thread.

By default it answers ``/v1/chat/completions`` with ``echo: <last user message>`` (whole or
as server-sent events), lists one model with ``max_model_len`` at ``/v1/models`` and counts
words at ``/tokenize``. Tests script failures with :meth:`FakeOpenAIServer.script`. A user
message ``sleep:SECONDS ...`` delays that answer (to shuffle completion order);
``status:CODE ...`` answers with that HTTP error.

Servers that constrain output differently: ``response_formats`` lists the response_format
types it takes (others are rejected as llama-cpp-python 0.3.36 rejects ``json_schema``: status
500 with a pydantic validation message); ``known_fields`` makes it reject any other body field
with 400, as OpenAI does ("Unrecognized request argument supplied").
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    """One canned answer: status, headers and a raw body."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class FakeOpenAIServer:
    """Start with ``with FakeOpenAIServer() as server:``; ``server.base_url`` ends in /v1."""

    def __init__(
        self,
        model: str = "fake-model",
        max_model_len: int | None = 4096,
        tokenize: bool = True,
        response_formats: tuple[str, ...] | None = None,
        known_fields: frozenset[str] | None = None,
    ) -> None:
        self.model = model
        self.response_formats = response_formats
        self.known_fields = known_fields
        self.max_model_len = max_model_len
        self.tokenize = tokenize
        self.requests: list[tuple[str, str, Any]] = []
        self.authorization: list[str | None] = []
        self._scripts: list[Scripted] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def script(self, *answers: Scripted) -> None:
        """Answer the next chat requests with these, in order, before the default."""
        with self._lock:
            self._scripts.extend(answers)

    def chat_requests(self) -> list[dict[str, Any]]:
        return [body for method, path, body in self.requests if path == "/v1/chat/completions"]

    def _next_script(self) -> Scripted | None:
        with self._lock:
            return self._scripts.pop(0) if self._scripts else None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                server.requests.append(("GET", self.path, None))
                if self.path == "/v1/models":
                    entry: dict[str, Any] = {"id": server.model, "object": "model"}
                    if server.max_model_len is not None:
                        entry["max_model_len"] = server.max_model_len
                    self._send_json(200, {"object": "list", "data": [entry]})
                else:
                    self._send_json(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"null")
                server.requests.append(("POST", self.path, body))
                server.authorization.append(self.headers.get("authorization"))
                if self.path == "/tokenize" and server.tokenize:
                    tokens = list(range(len(body["prompt"].split())))
                    self._send_json(200, {"count": len(tokens), "tokens": tokens, "max_model_len": 4096})
                elif self.path == "/v1/chat/completions":
                    self._chat(body)
                else:
                    self._send_json(404, {"detail": "Not Found"})

            def _rejection(self, body: dict[str, Any]) -> tuple[int, str] | None:
                unknown = sorted(set(body) - server.known_fields) if server.known_fields is not None else []
                if unknown:
                    return 400, f"Unrecognized request argument supplied: {unknown[0]}"
                kind = (body.get("response_format") or {}).get("type")
                if kind is not None and server.response_formats is not None and kind not in server.response_formats:
                    expected = " or ".join(f"'{k}'" for k in server.response_formats)
                    detail = {
                        "type": "literal_error",
                        "loc": ("body", "response_format", "type"),
                        "msg": f"Input should be {expected}",
                        "input": kind,
                    }
                    return 500, str([detail])
                return None

            def _chat(self, body: dict[str, Any]) -> None:
                rejection = self._rejection(body)
                if rejection is not None:
                    status, message = rejection
                    kind = "internal_server_error" if status == 500 else "invalid_request_error"
                    self._send_json(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})
                    return
                scripted = server._next_script()
                if scripted is not None:
                    self._send(scripted.status, scripted.body, scripted.headers)
                    return
                last = body["messages"][-1]["content"]
                if last.startswith("sleep:"):
                    time.sleep(float(last.split()[0].split(":")[1]))
                if last.startswith("status:"):
                    self._send_json(int(last.split()[0].split(":")[1]), {"error": {"message": f"scripted {last}"}})
                    return
                answer = f"echo: {last}"
                if body.get("stream"):
                    self._stream(answer)
                    return
                self._send_json(
                    200,
                    {
                        "id": "cmpl-1",
                        "object": "chat.completion",
                        "model": server.model,
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": 7, "completion_tokens": len(answer.split())},
                    },
                )

            def _stream(self, answer: str) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                words = answer.split(" ")
                pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
                for piece in [None, *pieces]:  # the first chunk carries only the role, as OpenAI's does
                    delta = {"role": "assistant"} if piece is None else {"content": piece}
                    chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                usage = {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": len(pieces)}}
                self.wfile.write(f": a comment line\n\ndata: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()

            def _send_json(self, status: int, payload: Any) -> None:
                self._send(status, json.dumps(payload).encode(), {"content-type": "application/json"})

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def json_answer(payload: Any, status: int = 200) -> Scripted:
    return Scripted(status, json.dumps(payload).encode(), {"content-type": "application/json"})


def sse_answer(events: list[str]) -> Scripted:
    """A streamed answer from raw event data strings."""
    body = "".join(f"data: {event}\n\n" for event in events).encode()
    return Scripted(200, body, {"content-type": "text/event-stream"})
