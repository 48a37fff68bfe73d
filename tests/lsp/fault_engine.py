"""A local stand-in for an SGLang server whose behaviour a test sets: it answers /health and streams
/generate the way SGLang does, or fails the way a test asks. Listens on 127.0.0.1 only."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

Mode = Literal["ok", "http-500", "garbage"]


class FaultEngine:
    def __init__(self, port: int = 0, text: str = "al_count") -> None:
        self.mode: Mode = "ok"
        self.text = text
        self.requests: list[dict[str, object]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultEngine:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                self._reply(200 if engine.mode == "ok" else 503, b"{}")

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path == "/abort_request":
                    self._reply(200, b"{}")
                    return
                engine.requests.append(body)
                if engine.mode == "http-500":
                    self._reply(500, b"internal error")
                    return
                event = {
                    "text": engine.text,
                    "meta_info": {"finish_reason": {"type": "stop"}, "prompt_tokens": 10, "cached_tokens": 0},
                }
                line = (
                    b"data: {not json\n\n"
                    if engine.mode == "garbage"
                    else b"data: " + json.dumps(event).encode() + b"\n\n"
                )
                self._reply(200, line + b"data: [DONE]\n\n", "text/event-stream")

            def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
