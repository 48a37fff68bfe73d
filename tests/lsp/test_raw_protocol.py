"""What no typed client would send: requests before initialize, negative positions, invalid UTF-8, garbage.
Spoken as raw bytes over the server's stdio."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest


class RawServer:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kimi_lsp", "--engine", "none"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )

    def send_bytes(self, body: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(json.dumps({"jsonrpc": "2.0", **message}).encode())

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        length = 0
        while (line := self.process.stdout.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        message: dict[str, Any] = json.loads(self.process.stdout.read(length))
        return message

    def response(self, msg_id: int) -> dict[str, Any]:
        while True:
            message = self.read()
            if message.get("id") == msg_id and "method" not in message:
                return message

    def initialize(self) -> None:
        self.send({"id": 1, "method": "initialize", "params": {"processId": None, "rootUri": None, "capabilities": {}}})
        assert "capabilities" in self.response(1)["result"]
        self.send({"method": "initialized", "params": {}})

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def raw() -> Any:
    server = RawServer()
    yield server
    server.close()


def _completion(msg_id: int, uri: str, line: int, character: int) -> dict[str, Any]:
    return {"id": msg_id, "method": "textDocument/completion",
            "params": {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}}


def _open(uri: str, text: str) -> dict[str, Any]:
    return {"method": "textDocument/didOpen",
            "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}}


def test_request_before_initialize_is_an_error(raw: RawServer) -> None:
    raw.send(_completion(7, "file:///a.py", 0, 0))
    assert "error" in raw.response(7)
    raw.initialize()
    raw.send(_open("file:///a.py", "def a():\n    pass\n"))
    raw.send(_completion(8, "file:///a.py", 1, 0))
    assert [item["label"] for item in raw.response(8)["result"]["items"]] == ["a"]


def test_negative_position_is_an_error(raw: RawServer) -> None:
    raw.initialize()
    raw.send(_open("file:///a.py", "x = 1\n"))
    raw.send(_completion(2, "file:///a.py", -1, 0))
    assert "error" in raw.response(2)
    raw.send(_completion(3, "file:///a.py", 0, 1))
    assert "result" in raw.response(3)


def test_invalid_utf8_and_garbage_do_not_stop_the_server(raw: RawServer) -> None:
    raw.initialize()
    opened = json.dumps({"jsonrpc": "2.0", **_open("file:///bad.py", "x = 'PLACEHOLDER'\n")}).encode()
    raw.send_bytes(opened.replace(b"PLACEHOLDER", b"\xff\xfe\xc0"))  # not UTF-8
    raw.send_bytes(b"{this is not json")
    raw.send_bytes(b'{"jsonrpc": "2.0", "id": 5, "method": "textDocument/completion", "params": 3}')
    assert "error" in raw.response(5)
    raw.send(_open("file:///good.py", "def good():\n    pass\n"))
    raw.send(_completion(6, "file:///good.py", 1, 0))
    assert [item["label"] for item in raw.response(6)["result"]["items"]] == ["good"]
