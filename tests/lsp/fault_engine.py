"""A local stand-in for an SGLang server whose behaviour a test sets: it answers /health and streams
/generate the way SGLang does, or fails the way a test asks. Listens on 127.0.0.1 only; over TLS when given a
server SSL context. Records every request (body and headers) and every abort, with how many tokens of that
request had gone out when the abort came.

Modes (`engine.mode`, changeable while it runs):
  ok              the answer in one event, then [DONE]
  http-500/503/429  that status (429 with Retry-After)
  garbage         a data line that is not JSON
  bad-shape       data lines that are JSON but not SGLang's events (a list; an object without text)
  not-sse         200 with an HTML page: no events at all
  binary          an event whose text holds bytes that are not UTF-8
  die-mid-stream  headers and one event of a longer body, then the connection is cut
  silent          accepts the request and sends nothing (until released)
  slow            one token per second (the cumulative text grows by `slow_token`), up to `slow_tokens`
  redirect        307 to `redirect_to` (another host) for every path
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

Mode = Literal[
    "ok",
    "http-500",
    "http-503",
    "http-429",
    "garbage",
    "bad-shape",
    "not-sse",
    "binary",
    "die-mid-stream",
    "silent",
    "slow",
    "redirect",
]


@dataclass
class Seen:
    """One HTTP request the engine received."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, object] = field(default_factory=dict)


class FaultEngine:
    def __init__(
        self, port: int = 0, text: str = "al_count", tls: ssl.SSLContext | None = None, slow_tokens: int = 60
    ) -> None:
        self.mode: Mode = "ok"
        self.text = text
        self.slow_token = "x"
        self.slow_tokens = slow_tokens
        self.redirect_to = ""
        self.requests: list[dict[str, object]] = []  # bodies of /generate requests
        self.seen: list[Seen] = []  # every request, any path
        self.aborts: list[tuple[str, int]] = []  # (rid, tokens of it sent before the abort came)
        self._sent: dict[str, int] = {}  # rid -> tokens sent so far
        self._release = threading.Event()  # ends every `silent` request
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultEngine:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def authorizations(self, path: str | None = None) -> list[str]:
        """The Authorization header of every request (to `path`), "" where there was none."""
        return [s.headers.get("authorization", "") for s in self.seen if path is None or s.path == path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def _seen(self, body: dict[str, object] | None = None) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                engine.seen.append(Seen(self.command, self.path, headers, body or {}))

            def do_GET(self) -> None:
                self._seen()
                if engine.mode == "redirect":
                    self._redirect()
                    return
                self._reply(200 if engine.mode not in ("http-500", "http-503") else 503, b"{}")

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                self._seen(body)
                if engine.mode == "redirect":
                    self._redirect()
                    return
                if self.path == "/abort_request":
                    rid = str(body.get("rid"))
                    engine.aborts.append((rid, engine._sent.get(rid, 0)))
                    self._reply(200, b"{}")
                    return
                engine.requests.append(body)
                rid = str(body.get("rid"))
                mode = engine.mode
                if mode.startswith("http-"):
                    status = int(mode.removeprefix("http-"))
                    self._reply(status, b"engine trouble", extra={"Retry-After": "1"} if status == 429 else None)
                elif mode == "garbage":
                    self._events([b"data: {not json"])
                elif mode == "bad-shape":
                    self._events([b"data: [1, 2, 3]", b'data: {"meta_info": {}}'])
                elif mode == "not-sse":
                    self._reply(200, b"<html><body>Please log in</body></html>", "text/html")
                elif mode == "binary":
                    self._events([b'data: {"text": "al_\xff\xfe\xc0count", "meta_info": {"finish_reason": "stop"}}'])
                elif mode == "die-mid-stream":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    self.wfile.write(self._event("al_", None) + b"\n\n")
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                elif mode == "silent":
                    engine._release.wait(120)
                elif mode == "slow":
                    self._slow(rid)
                else:
                    self._events([self._event(engine.text, "stop")])

            def _slow(self, rid: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                engine._sent[rid] = 0
                try:
                    for n in range(1, engine.slow_tokens + 1):
                        if any(r == rid for r, _ in engine.aborts):
                            return
                        done = n == engine.slow_tokens
                        self.wfile.write(self._event(engine.slow_token * n, "stop" if done else None) + b"\n\n")
                        self.wfile.flush()
                        engine._sent[rid] = n
                        time.sleep(1.0)
                except OSError:
                    return  # the client went away

            @staticmethod
            def _event(text: str, finish: str | None) -> bytes:
                meta = {"finish_reason": {"type": finish} if finish else None, "prompt_tokens": 10, "cached_tokens": 0}
                return b"data: " + json.dumps({"text": text, "meta_info": meta}).encode()

            def _events(self, lines: list[bytes]) -> None:
                self._reply(200, b"".join(line + b"\n\n" for line in lines) + b"data: [DONE]\n\n", "text/event-stream")

            def _redirect(self) -> None:
                self.send_response(307)
                self.send_header("Location", engine.redirect_to + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _reply(
                self,
                status: int,
                body: bytes,
                content_type: str = "application/json",
                extra: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler
