"""A scripted OpenAI-compatible server for the UI tests: the app reaches it through the real
`openai` backend, over HTTP, as it would reach vLLM or llama.cpp's server.

It answers by prompt, deterministically: a query plan and an outline for the planning
requests (told apart by their JSON schema), sections that cite the papers their prompt
lists as ``[arXiv:ID]``, short frame parts, "supported" for support checks, and, as the
evaluation judge, a score of JUDGE_SCORE for every criterion and one fact per sentence.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "scripted"
SECTION_TITLE = re.compile(r'Write the section "([^"]+)"')
IDS_IN_PROMPT = re.compile(r"^\[arXiv:([^\]]+)\]", re.MULTILINE)
FRAME_PART = re.compile(r"Write the (\w+) of this survey")
JUDGE_SCORE = 4

OUTLINE = {
    "title": "A Survey of Language Model Reasoning",
    "sections": [
        {
            "title": f"Section on {name}",
            "description": f"How {name} is studied.",
            "queries": [f"language model {name}"],
            "subsections": [{"title": f"{name} methods", "description": "methods"}],
        }
        for name in ("reasoning", "reinforcement learning", "evaluation benchmarks")
    ],
}


def answer(body: dict) -> str:
    """The scripted reply to one chat request body."""
    prompt = body["messages"][-1]["content"]
    schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema", {})
    properties = schema.get("properties", {})
    if "sections" in properties:
        return json.dumps(OUTLINE)
    if "queries" in properties:
        return json.dumps({"queries": ["language model reasoning", "reinforcement learning for reasoning"]})
    if "supported" in properties:
        return json.dumps({"supported": True, "rewrite": ""})
    if "score" in properties:  # the evaluation judge's content-quality criteria
        return json.dumps({"score": JUDGE_SCORE, "reason": "scripted"})
    if "facts" in properties:  # the judge splitting a sentence into atomic facts
        return json.dumps({"facts": ["The survey makes one claim."]})
    title = SECTION_TITLE.search(prompt)
    if title:
        ids = IDS_IN_PROMPT.findall(prompt) or ["0000.00000"]
        first, second = (ids + ids)[:2]
        return (
            f"Work on {title.group(1).lower()} has grown quickly [arXiv:{first}]. "
            f"Later studies extend it to new settings [arXiv:{second}].\n\n"
            f"Open questions remain about {title.group(1).lower()} [arXiv:{first}]."
        )
    part = FRAME_PART.search(prompt)
    return f"This {part.group(1) if part else 'part'} summarises the survey."


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output quiet
        pass

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"data": [{"id": MODEL, "max_model_len": 8192}]})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        if self.path.endswith("/tokenize"):
            self._send(200, {"count": len(body.get("prompt", "")) // 4 + 1})
            return
        if not self.path.endswith("/chat/completions"):
            self._send(404, {"error": {"message": "not found"}})
            return
        self.server.requests.append(body)
        time.sleep(self.server.delay)
        text = answer(body)
        usage = {"prompt_tokens": 100, "completion_tokens": len(text) // 4 + 1}
        self._send(200, {"choices": [{"message": {"content": text}, "finish_reason": "stop"}], "usage": usage})


class ScriptedServer:
    """The server on a free port of 127.0.0.1, serving in a daemon thread until `close`."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.requests = []
        self._server.delay = 0.0
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    @property
    def requests(self) -> list[dict]:
        return self._server.requests

    @property
    def delay(self) -> float:
        """Seconds each chat answer waits (0: none), so a run lasts long enough to watch."""
        return self._server.delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self._server.delay = seconds

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
