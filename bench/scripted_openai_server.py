"""A scripted OpenAI-compatible chat server for benchmarks that need a fast, predictable model
(bench/faults.py): stdlib http.server on 127.0.0.1.

It answers what cpmsurvey's workflow asks, by the request's shape: search queries and an
outline as JSON valid for the schema in ``response_format`` (the outline with as many
sections as the schema asks), section prose citing the first two papers listed in the
prompt as ``[arXiv:ID]``, and plain prose for the frame. Answers stream when asked to.
Each answer takes ``--delay`` seconds (sections twice that), so that a run lasts long
enough to be interrupted anywhere.

    python bench/scripted_openai_server.py --port 8765 --delay 0.3
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "scripted"
_LISTED_ID = re.compile(r"^\[arXiv:([^\]]+)\]", re.MULTILINE)
_SECTION_THEMES = (
    "reasoning",
    "reinforcement learning",
    "evaluation benchmarks",
    "agents",
    "retrieval augmentation",
    "efficiency",
    "alignment",
    "multimodality",
)


def _schema(body: dict[str, Any]) -> dict[str, Any] | None:
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return response_format.get("json_schema", {}).get("schema")
    return response_format.get("schema")


def _outline(sections: int) -> dict[str, Any]:
    themes = [_SECTION_THEMES[i % len(_SECTION_THEMES)] for i in range(sections)]
    return {
        "title": "A Survey of Reasoning in Large Language Models",
        "sections": [
            {
                "title": f"Language model {theme}",
                "description": f"How {theme} is studied in language models.",
                "queries": [f"language model {theme}"],
                "subsections": [{"title": f"Methods for {theme}"}],
            }
            for theme in themes
        ],
    }


def answer_for(body: dict[str, Any]) -> tuple[str, float]:
    """The answer text to a chat request and how long it takes (as a multiple of the delay)."""
    schema = _schema(body) or {}
    properties = schema.get("properties", {})
    prompt = body["messages"][-1]["content"]
    if "sections" in properties:
        sections = properties["sections"]
        count = sections.get("minItems") or sections.get("maxItems") or 4
        return json.dumps(_outline(int(count))), 1.0
    if "queries" in properties:
        return json.dumps({"queries": ["language model reasoning", "reinforcement learning for reasoning"]}), 1.0
    if "supported" in properties:
        return json.dumps({"supported": True, "rewrite": ""}), 1.0
    ids = _LISTED_ID.findall(prompt)
    if ids:
        first, second = (ids + ids)[:2]
        text = (
            f"Work on this question has grown quickly, with methods that reason step by step [arXiv:{first}]. "
            f"Later studies extend these methods to new tasks and compare them carefully [arXiv:{second}].\n\n"
            f"Open questions remain about how well the methods generalise [arXiv:{first}]."
        )
        return text, 2.0
    return (
        "This survey reviews how large language models reason, how they are trained to do so, "
        "how they are evaluated, and which questions remain open for future work in the field.",
        1.0,
    )


class ScriptedServer:
    """`with ScriptedServer(delay) as server:` serves at `server.base_url` (ends in /v1)."""

    def __init__(self, delay: float = 0.3, port: int = 0) -> None:
        self.delay = delay
        self.requests = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.05)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/v1/models":
                    self._json(200, {"object": "list", "data": [{"id": MODEL, "max_model_len": 8192}]})
                else:
                    self._json(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                if self.path != "/v1/chat/completions":
                    self._json(404, {"detail": "Not Found"})
                    return
                server.requests += 1
                text, weight = answer_for(body)
                seconds = server.delay * weight
                if body.get("stream"):
                    self._stream(text, seconds)
                    return
                time.sleep(seconds)
                usage = {"prompt_tokens": len(json.dumps(body["messages"])) // 4, "completion_tokens": len(text) // 4}
                choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                self._json(200, {"object": "chat.completion", "model": MODEL, "choices": [choice], "usage": usage})

            def _stream(self, text: str, seconds: float) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                pieces = [text[i : i + 24] for i in range(0, len(text), 24)]
                for piece in pieces:
                    time.sleep(seconds / len(pieces))
                    chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": piece}}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                usage = {"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": len(text) // 4}}
                self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()

            def _json(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--delay", type=float, default=0.3, help="seconds per answer (sections: twice)")
    args = parser.parse_args()
    ScriptedServer(args.delay, args.port).serve_forever()


if __name__ == "__main__":
    main()
