"""What no typed client would send: requests before initialize, negative positions, invalid UTF-8, garbage.
Spoken as raw bytes over the server's stdio."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kimi_lsp.processes import descendants


class RawServer:
    def __init__(self, stderr: int = subprocess.DEVNULL) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kimi_lsp", "--engine", "none"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
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

    def initialize(self, root: Path | None = None) -> None:
        root_uri = root.as_uri() if root is not None else None
        self.send(
            {"id": 1, "method": "initialize", "params": {"processId": None, "rootUri": root_uri, "capabilities": {}}}
        )
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
    return {
        "id": msg_id,
        "method": "textDocument/completion",
        "params": {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
    }


def _open(uri: str, text: str) -> dict[str, Any]:
    return {
        "method": "textDocument/didOpen",
        "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
    }


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


def _closed_within(stream: Any, seconds: float) -> bool:
    """Whether reading `stream` reaches end of file within `seconds`: every writer has closed it."""
    reader = threading.Thread(target=stream.read, daemon=True)
    reader.start()
    reader.join(seconds)
    return not reader.is_alive()


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux: /proc and PR_SET_PDEATHSIG")
def test_a_killed_server_takes_its_index_workers_and_frees_the_client_pipes(tmp_path: Path) -> None:
    """A server killed while indexing (SIGKILL: no code of ours runs) leaves no process behind, and none that
    holds the client's stdout or stderr, which a client reads until every writer has closed them."""
    body = "".join(f"def f{i}(a, b):\n    return a + b * {i}\n\n" for i in range(500))
    for n in range(600):
        (tmp_path / f"m{n}.py").write_text(body)
    server = RawServer(stderr=subprocess.PIPE)
    helpers: set[int] = set()
    try:
        server.initialize(tmp_path)  # a cold index starts the worker pool right away
        deadline = time.monotonic() + 60
        while len(helpers) < 4 and time.monotonic() < deadline:  # forkserver, resource tracker, 2 workers
            helpers = descendants(server.process.pid)
            time.sleep(0.02)
        assert len(helpers) >= 4, f"the index did not start its worker pool: {helpers}"
        server.process.kill()
        server.process.wait(timeout=10)
        assert _closed_within(server.process.stdout, 30), "a process still holds the client's stdout"
        assert _closed_within(server.process.stderr, 30), "a process still holds the client's stderr"
        deadline = time.monotonic() + 30
        while any(_running(pid) for pid in helpers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in helpers if _running(pid)], "index processes outlived the server"
    finally:
        server.process.kill()
        for pid in helpers:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def test_exit_right_after_shutdown_logs_no_traceback(tmp_path: Path) -> None:
    """Neovim sends exit without waiting for the answer to shutdown: a normal quit, not an error."""
    for n in range(300):
        (tmp_path / f"m{n}.py").write_text(f"def f{n}(a):\n    return a\n")
    log = tmp_path / "server.log"
    server = RawServer(stderr=log.open("wb").fileno())
    try:
        server.initialize(tmp_path)
        server.send(_open((tmp_path / "m1.py").as_uri(), "def f1(a):\n    return a\n"))
        server.send({"id": 2, "method": "shutdown"})
        server.send({"method": "exit"})
        assert server.process.wait(timeout=60) in (0, 1)
    finally:
        server.close()
    text = log.read_text()
    assert "Traceback" not in text and "CancelledError" not in text and " ERROR " not in text, text
