"""What no well-behaved client sends, as raw bytes (wire.py): unknown methods, requests before initialize and
after shutdown, a 50 MB document, a 100,000-character line, 10,000-deep nesting, changes to documents never
opened, stale and out-of-order versions, ranges past the end, lone surrogates, NUL bytes, invalid UTF-8, and a
client that vanishes mid-request. Each gets an error or an empty result, the next request still works, and the
server's memory comes back near where it was."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .wire import WireServer

SLOW = "# case: slow"
SCRIPT = {
    "responses": [
        {"contains": SLOW, "text": "\n    x = 1\n" + "    x = 1\n" * 200, "delay_ms": 50},
        {"contains": "# case: add", "text": "\n    return a + b\n"},
    ],
    "default": "",
}


def _script(folder: Path) -> tuple[Path, Path]:
    record = folder / "record.jsonl"
    script = folder / "engine.json"
    script.write_text(json.dumps({**SCRIPT, "record": str(record)}))
    return script, record


def _records(record: Path, event: str) -> list[dict[str, Any]]:
    if not record.exists():
        return []
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    return [row for row in rows if row["event"] == event]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WireServer]:
    script, _ = _script(tmp_path)
    wire = WireServer(engine=f"scripted:{script}", stderr=(tmp_path / "server.log").open("wb"))
    wire.initialize()
    yield wire
    wire.close()


def _completion(server: WireServer, uri: str, line: int, character: int) -> dict[str, Any]:
    return server.request(
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
    )


def _names(reply: dict[str, Any]) -> list[str]:
    return [symbol["name"] for symbol in reply["result"] or []]


def _edit(line: int, character: int, end_line: int, end_character: int, text: str) -> dict[str, Any]:
    return {
        "range": {
            "start": {"line": line, "character": character},
            "end": {"line": end_line, "character": end_character},
        },
        "text": text,
    }


# ---- the cases, each: send it, check the answer (each is also run by the leak test below) -------------------


def unknown_methods(server: WireServer) -> None:
    assert server.request("kimi/noSuchMethod", {})["error"]["code"] == -32601
    assert server.request("$/noSuchRequest", {"x": 1})["error"]["code"] == -32601
    server.notify("kimi/noSuchNotification", {"x": 1})
    server.notify("$/noSuchNotification")
    server.alive()


def huge_document(server: WireServer) -> None:
    uri = f"file:///huge-{server.next_id()}.py"
    text = "def first():\n    pass\n" + ("x = 1  # " + "y" * 90 + "\n") * 500_000  # 50 MB
    server.open(uri, text)
    assert server.symbols(uri)["result"] == []  # too long to parse: no symbols, but an answer
    assert "result" in server.inline(uri, 400_000, 3)
    assert "result" in _completion(server, uri, 250_000, 5)
    server.change(uri, 2, [_edit(400_000, 0, 400_000, 1, "z")])
    assert "result" in server.request("textDocument/diagnostic", {"textDocument": {"uri": uri}})
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    server.alive()


def long_line(server: WireServer) -> None:
    """100,000 characters on one line, of the kind that made the credential scrubber backtrack for hours."""
    uri = f"file:///long-{server.next_id()}.py"
    line = "v = " + "a." * 50_000 + "b\n"
    server.open(uri, "def f():\n    pass\n" + line + "w = 1\n")
    assert _names(server.symbols(uri)) == ["f", "v", "w"]
    assert "result" in server.inline(uri, 2, 60_000)  # a prompt with the line is built and scrubbed
    assert "result" in server.inline(uri, 3, 5)
    assert "result" in _completion(server, uri, 2, 100_004)
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    server.alive()


def deep_nesting(server: WireServer) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    msg_id = server.next_id()
    server.send_bytes(
        b'{"jsonrpc": "2.0", "id": %d, "method": "workspace/executeCommand", '
        b'"params": {"command": "kimi.status", "arguments": %s}}' % (msg_id, deep.encode())
    )
    assert server.response(msg_id)["error"]["code"] == -32700  # unreadable, and answered so
    server.send_bytes(b'{"jsonrpc": "2.0", "method": "kimi/x", "params": %s}' % deep.encode())
    uri = f"file:///deep-{server.next_id()}.py"
    server.open(uri, "def f():\n    pass\nx = " + "(" * 10_000 + ")" * 10_000 + "\n")
    assert _names(server.symbols(uri)) == ["f", "x"]
    assert "result" in server.inline(uri, 2, 10_004)
    unclosed = f"file:///unclosed-{server.next_id()}.py"
    server.open(unclosed, "def f():\n    pass\ny = [" + "[" * 10_000 + "\n")
    assert isinstance(server.symbols(unclosed)["result"], list)
    report = server.request("textDocument/diagnostic", {"textDocument": {"uri": unclosed}})
    assert report["result"]["items"], "the unclosed brackets are a syntax error"
    assert "result" in server.inline(unclosed, 2, 5_000)
    for closing in (uri, unclosed):
        server.notify("textDocument/didClose", {"textDocument": {"uri": closing}})
    server.alive()


def unopened_document(server: WireServer) -> None:
    uri = f"file:///never-{server.next_id()}.py"
    server.change(uri, 2, [_edit(0, 0, 0, 0, "x")])
    server.change(uri, 3, [{"text": "def ghost():\n    pass\n"}])
    assert "not open" in _completion(server, uri, 0, 0)["error"]["message"]
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    server.alive()


def versions(server: WireServer) -> None:
    """Versions that go back or jump: the text is what the client sent last, in the order it sent it."""
    uri = f"file:///versions-{server.next_id()}.py"
    server.open(uri, "def five():\n    pass\n", version=5)
    server.change(uri, 3, [{"text": "def three():\n    pass\n"}])
    assert _names(server.symbols(uri)) == ["three"]
    server.change(uri, 10, [{"text": "def ten():\n    pass\n"}])
    server.change(uri, 9, [{"text": "def nine():\n    pass\n"}])
    assert _names(server.symbols(uri)) == ["nine"]
    server.change(uri, 9, [_edit(0, 4, 0, 8, "again")])  # the same version twice, incremental
    assert _names(server.symbols(uri)) == ["again"]
    assert "result" in server.inline(uri, 1, 4)
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    server.alive()


def ranges_past_the_end(server: WireServer) -> None:
    uri = f"file:///ranges-{server.next_id()}.py"
    server.open(uri, "def a():\n    pass")
    server.change(uri, 2, [_edit(0, 4, 0, 99, "b():")])  # past the end of a line: its end
    server.change(uri, 3, [_edit(1, 999, 1, 999, "\ndef c():\n    pass\n")])  # past the last line's end
    server.change(uri, 4, [_edit(50, 0, 99, 99, "def d():\n    pass\n")])  # lines past the end: the end
    server.change(uri, 5, [_edit(0, 5, 0, 4, "e")])  # a reversed range: the same span ("b" -> "e")
    assert _names(server.symbols(uri)) == ["e", "c", "d"]
    assert "error" in _completion(server, uri, 99, 0)  # a request's position past the end is an error
    assert "result" in _completion(server, uri, 0, 10_000)  # a character past the end is the line's end
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    server.alive()


def surrogates_and_nul(server: WireServer) -> None:
    uri = f"file:///odd-{server.next_id()}.py"
    server.send_bytes(
        b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": "%s", '
        b'"languageId": "python", "version": 1, "text": "def f\\ud800():\\n    x = \\"\\udc00\\"\\n'
        b'def g():\\n    return \\"\\ud83d\\ude00\\"\\n"}}}' % uri.encode()
    )
    assert _names(server.symbols(uri)) == ["f\ud800", "g"] or _names(server.symbols(uri))[-1] == "g"
    assert "result" in server.inline(uri, 1, 9)
    assert "result" in server.inline(uri, 3, 13)  # between the halves of a surrogate pair (utf-16)
    assert "result" in _completion(server, uri, 2, 4)
    nul = f"file:///nul-{server.next_id()}.py"
    server.open(nul, "def f():\n    x = '\x00'\ndef g():\n    return '\x00\x00'\n")
    assert isinstance(server.symbols(nul)["result"], list)  # tree-sitter's grammar stops at a NUL: maybe no g
    assert "result" in server.inline(nul, 1, 10)
    assert "result" in server.request("textDocument/diagnostic", {"textDocument": {"uri": nul}})
    nul_uri = f"file:///nul\\u0000-{server.next_id()}.py"
    server.send_bytes(
        b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": "%s", '
        b'"languageId": "python", "version": 1, "text": "def h():\\n    pass\\n"}}}' % nul_uri.encode()
    )
    reply = server.request("textDocument/inlineCompletion", _inline_params(json.loads(f'"{nul_uri}"'), 1, 4))
    assert "result" in reply or "error" in reply
    for closing in (uri, nul):
        server.notify("textDocument/didClose", {"textDocument": {"uri": closing}})
    server.alive()


def _inline_params(uri: str, line: int, character: int) -> dict[str, Any]:
    return {
        "textDocument": {"uri": uri},
        "position": {"line": line, "character": character},
        "context": {"triggerKind": 1},
    }


def invalid_utf8(server: WireServer) -> None:
    msg_id = server.next_id()
    server.send_bytes(
        b'{"jsonrpc": "2.0", "id": %d, "method": "textDocument/documentSymbol", '
        b'"params": {"textDocument": {"uri": "file:///\xff\xfe.py"}}}' % msg_id
    )
    assert server.response(msg_id)["error"]["code"] == -32700
    server.send_bytes(b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"x": "\xc0\xc1"}}')
    msg_id = server.next_id()
    server.send_bytes(b'{"jsonrpc": "2.0", "id": "s-%d", "method": "x", "params": "\xed\xa0\x80"}' % msg_id)
    assert "error" in server.response(f"s-{msg_id}")  # an encoded surrogate: read (surrogatepass), unknown
    server.send_bytes(b"\xff\xff\xff not even json")
    server.send_bytes(b'{"id": 5, "method": "initialize"}')  # no jsonrpc member
    assert server.response(5)["error"]["code"] == -32600
    server.alive()


CASES: dict[str, Callable[[WireServer], None]] = {
    "unknown methods": unknown_methods,
    "50 MB didOpen": huge_document,
    "100,000-character line": long_line,
    "10,000-deep nesting": deep_nesting,
    "didChange of an unopened document": unopened_document,
    "stale and out-of-order versions": versions,
    "ranges past the end": ranges_past_the_end,
    "lone surrogates and NUL bytes": surrogates_and_nul,
    "invalid UTF-8": invalid_utf8,
}


@pytest.mark.parametrize("case", list(CASES))
def test_abuse_gets_an_answer_and_the_server_keeps_serving(server: WireServer, case: str) -> None:
    CASES[case](server)
    reply = server.inline(_open_add(server), 2, 4)
    assert reply["result"]["items"][0]["insertText"] == "return a + b"


def _open_add(server: WireServer) -> str:
    uri = f"file:///add-{server.next_id()}.py"
    server.open(uri, "# case: add\ndef add(a, b):\n    \n")
    return uri


def test_requests_before_initialize_are_refused_and_notifications_dropped(tmp_path: Path) -> None:
    script, _ = _script(tmp_path)
    wire = WireServer(engine=f"scripted:{script}")
    try:
        assert (
            wire.request("textDocument/documentSymbol", {"textDocument": {"uri": "file:///a.py"}})["error"]["code"]
            == -32002
        )
        wire.open("file:///early.py", "def early():\n    pass\n")  # dropped: no workspace yet
        wire.initialize()
        assert "not open" in _completion(wire, "file:///early.py", 0, 0)["error"]["message"]
        wire.alive()
    finally:
        wire.close()


def test_requests_after_shutdown_are_refused_and_exit_exits(server: WireServer) -> None:
    assert server.request("shutdown")["result"] is None
    assert (
        server.request("textDocument/documentSymbol", {"textDocument": {"uri": "file:///a.py"}})["error"]["code"]
        == -32600
    )
    server.notify("textDocument/didOpen", {"textDocument": {"uri": "file:///b.py", "languageId": "python",
                                                            "version": 1, "text": "x = 1\n"}})  # fmt: skip
    server.notify("exit")
    assert server.process.wait(timeout=60) == 0


def test_a_client_that_vanishes_mid_request_ends_the_server_and_the_engine_request(tmp_path: Path) -> None:
    script, record = _script(tmp_path)
    log = tmp_path / "server.log"
    wire = WireServer(engine=f"scripted:{script}", stderr=log.open("wb"))
    try:
        wire.initialize()
        uri = "file:///slow.py"
        wire.open(uri, f"{SLOW}\ndef f():\n    \n")
        msg_id = wire.next_id()
        wire.send({"id": msg_id, "method": "textDocument/inlineCompletion", "params": _inline_params(uri, 2, 4)})
        for _ in range(600):  # streaming has started
            if _records(record, "request"):
                break
            time.sleep(0.05)
        (request,) = _records(record, "request")
        assert wire.process.stdin is not None
        wire.process.stdin.close()  # gone, without shutdown or exit
        assert wire.process.wait(timeout=60) in (0, 1)
        ends = _records(record, "end")
        assert [end["rid"] for end in ends] == [request["rid"]] and not ends[0]["finished"]
        assert [abort["rid"] for abort in _records(record, "abort")] == [request["rid"]]
    finally:
        wire.close()
    assert "Traceback" not in log.read_text()


def test_memory_returns_near_baseline_after_every_abuse(tmp_path: Path) -> None:
    """A leak check, not a timing: resident memory after all the cases (the 50 MB document closed) stays
    within a generous bound of where it was after warming up."""
    script, _ = _script(tmp_path)
    wire = WireServer(engine=f"scripted:{script}", stderr=subprocess.DEVNULL)
    try:
        wire.initialize()
        for case in (unknown_methods, long_line, versions):  # warm-up: imports, caches, first prompts
            case(wire)
        wire.inline(_open_add(wire), 2, 4)
        baseline = wire.rss()
        for _ in range(2):
            for case in CASES.values():
                case(wire)
        wire.alive()
        grown = wire.rss() - baseline
        assert grown < 100 * 2**20, f"resident memory grew by {grown / 2**20:.0f} MB"
    finally:
        wire.close()


def test_notifications_leave_nothing_behind(tmp_path: Path) -> None:
    """pygls kept every notification's future (about 1 KB per didChange) for the life of the server: 30,000
    keystrokes grew it by some 30 MB. A leak check on resident memory, with a generous bound."""
    script, _ = _script(tmp_path)
    wire = WireServer(engine=f"scripted:{script}")
    try:
        wire.initialize()
        uri = "file:///typing.py"
        wire.open(uri, "def f():\n    pass\n")
        version = 1

        def type_and_erase(times: int) -> None:
            nonlocal version
            for n in range(times):
                version += 1
                wire.change(uri, version, [_edit(1, 8, 1, 8, "x")])
                version += 1
                wire.change(uri, version, [_edit(1, 8, 1, 9, "")])
                if n % 500 == 499:  # a busy server falls behind: what waits unread would count as grown
                    wire.alive()
            wire.alive()

        type_and_erase(2_500)
        baseline = wire.rss()
        type_and_erase(15_000)
        grown = wire.rss() - baseline
        assert grown < 10 * 2**20, f"30,000 didChange grew resident memory by {grown / 2**20:.1f} MB"
    finally:
        wire.close()
