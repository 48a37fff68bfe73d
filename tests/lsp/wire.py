"""A raw-bytes LSP client for tests that send what no typed client would: the server runs as a subprocess and
is spoken to in Content-Length frames; replies are read by a thread, so a read can give up instead of hanging.
Also measures the server's resident memory (psutil) for leak checks."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import psutil

WAIT_S = 120.0  # how long a test waits for a reply before it fails (a hang guard, not a time limit)


class NoReply(AssertionError):
    """The server sent nothing we were waiting for."""


class WireServer:
    """`python -m kimi_lsp` over raw stdio. Messages the server sends are queued by a reader thread."""

    def __init__(
        self,
        engine: str = "none",
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        stderr: int | IO[bytes] = subprocess.DEVNULL,
    ) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kimi_lsp", "--engine", engine, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, **(env or {})},
        )
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.notifications: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read_all, daemon=True)
        self._reader.start()
        self._ids = iter(range(1_000, 10**9))

    def _read_all(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line:
                self.messages.put(None)
                return
            self.messages.put(json.loads(stream.read(length)))

    # sending

    def send_bytes(self, body: bytes) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(json.dumps({"jsonrpc": "2.0", **message}).encode())

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"method": method, **({"params": params} if params is not None else {})})

    def next_id(self) -> int:
        return next(self._ids)

    # receiving

    def response(self, msg_id: int | str, wait_s: float = WAIT_S) -> dict[str, Any]:
        """The reply to request `msg_id`; server-to-client requests are answered with null on the way."""
        while True:
            try:
                message = self.messages.get(timeout=wait_s)
            except queue.Empty:
                raise NoReply(f"no reply to request {msg_id}") from None
            if message is None:
                raise NoReply(f"the server closed its output before answering {msg_id}")
            if "method" in message:
                if "id" in message:  # a request from the server (registerCapability, progress): accept it
                    self.send({"id": message["id"], "result": None})
                else:
                    self.notifications.append(message)
                continue
            if message.get("id") == msg_id:
                return message

    def request(self, method: str, params: Any = None, wait_s: float = WAIT_S) -> dict[str, Any]:
        msg_id = self.next_id()
        self.send({"id": msg_id, "method": method, **({"params": params} if params is not None else {})})
        return self.response(msg_id, wait_s)

    def initialize(
        self, root: Path | None = None, init_options: dict[str, Any] | None = None, encodings: Sequence[str] = ()
    ) -> dict[str, Any]:
        capabilities: dict[str, Any] = {"general": {"positionEncodings": list(encodings)}} if encodings else {}
        params: dict[str, Any] = {
            "processId": None,
            "rootUri": root.as_uri() if root is not None else None,
            "capabilities": capabilities,
            "initializationOptions": {"debounceMs": 0, **(init_options or {})},
        }
        if root is not None:
            params["workspaceFolders"] = [{"uri": root.as_uri(), "name": "workspace"}]
        result = self.request("initialize", params)["result"]
        self.notify("initialized", {})
        return dict(result)

    # document helpers

    def open(self, uri: str, text: str, version: int = 1, language_id: str = "python") -> None:
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": language_id, "version": version, "text": text}},
        )

    def change(self, uri: str, version: int, changes: list[dict[str, Any]]) -> None:
        self.notify(
            "textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes}
        )

    def symbols(self, uri: str) -> dict[str, Any]:
        return self.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})

    def inline(self, uri: str, line: int, character: int) -> dict[str, Any]:
        return self.request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": line, "character": character},
                "context": {"triggerKind": 1},
            },
        )

    def alive(self) -> None:
        """The server still answers: a fresh document's symbols come back."""
        uri = f"file:///alive-{self.next_id()}.py"
        self.open(uri, "def alive():\n    pass\n")
        reply = self.symbols(uri)
        assert [s["name"] for s in reply["result"]] == ["alive"], reply
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})

    # the process

    def rss(self) -> int:
        """Resident memory of the server process, in bytes."""
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
