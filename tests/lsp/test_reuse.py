"""Less waiting, no waste: typing what a suggestion predicted is answered from it without a new engine request,
a stream whose prediction still matches is kept, an identical request gets the last answer, an invoked request
skips the debounce, and an answer computed for an older document version is never shown. The scripted engine
records every request that reaches "the GPU"."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcRequestCancelled

from .conftest import Session, start_session

ANSWER = "\n    return a + b\n\ndef unrelated():\n    pass\n"  # healed: the model writes the indentation first
SCRIPT: dict[str, Any] = {
    "responses": [
        {"contains": "# case: add", "text": ANSWER},
        {"contains": "# case: stream", "text": ANSWER, "delay_ms": 40},
    ],
    "chunk_chars": 4,
}


@pytest_asyncio.fixture
async def session(tmp_path: Path) -> AsyncIterator[Session]:
    session = await _start(tmp_path)
    yield session
    await session.client.shutdown_session()
    await session.client.stop()


async def _start(tmp_path: Path, init_options: dict[str, Any] | None = None) -> Session:
    """The server on a script of this module's cases (debounceMs 0 unless `init_options` say otherwise)."""
    script = tmp_path / "reuse-engine.json"
    script.write_text(json.dumps({**SCRIPT, "record": str(tmp_path / "engine-record.jsonl")}))
    _, session = await start_session(tmp_path, "visual-studio-code", init_options, engine=f"scripted:{script}")
    return session


def _inline(uri: str, line: int, character: int, invoked: bool = False) -> lsp.InlineCompletionParams:
    kind = lsp.InlineCompletionTriggerKind.Invoked if invoked else lsp.InlineCompletionTriggerKind.Automatic
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=lsp.Position(line=line, character=character),
        context=lsp.InlineCompletionContext(trigger_kind=kind),
    )


def _type(session: Session, uri: str, version: int, line: int, character: int, text: str) -> None:
    at = lsp.Position(line=line, character=character)
    session.client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[lsp.TextDocumentContentChangePartial(range=lsp.Range(start=at, end=at), text=text)],
        )
    )


def _shown(result: object) -> str | None:
    if result is None:
        return None
    assert isinstance(result, lsp.InlineCompletionList)
    return result.items[0].insert_text


async def _suggest(session: Session, uri: str, line: int, character: int, invoked: bool = False) -> str | None:
    return _shown(await session.client.text_document_inline_completion_async(_inline(uri, line, character, invoked)))


async def _wait_for(session: Session, event: str, count: int = 1) -> list[dict[str, Any]]:
    for _ in range(250):
        rows = session.records(event)
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError(f"engine never saw {count} {event}(s): {session.records()}")


async def test_typing_the_predicted_text_gives_the_rest_without_a_new_request(session: Session) -> None:
    uri = session.open("add.py", "# case: add\ndef add(a, b):\n    \n")
    assert await _suggest(session, uri, 2, 4) == "return a + b"
    column = 4
    for version, typed in enumerate(("r", "e", "t", "urn a"), start=2):
        _type(session, uri, version, 2, column, typed)
        column += len(typed)
        rest = "return a + b"[column - 4 :]
        assert await _suggest(session, uri, 2, column) == rest
    assert len(session.records("request")) == 1  # every keystroke answered from the first prediction


async def test_typing_something_else_makes_a_new_request(session: Session) -> None:
    uri = session.open("add.py", "# case: add\ndef add(a, b):\n    \n")
    assert await _suggest(session, uri, 2, 4) == "return a + b"
    _type(session, uri, 2, 2, 4, "x")
    await _suggest(session, uri, 2, 5)
    first, second = session.records("request")
    assert second["prompt"].endswith("    x") and second["rid"] != first["rid"]


async def test_an_identical_request_is_answered_from_the_last_result(session: Session) -> None:
    uri = session.open("add.py", "# case: add\ndef add(a, b):\n    \n")
    assert await _suggest(session, uri, 2, 4) == "return a + b"
    assert await _suggest(session, uri, 2, 4) == "return a + b"
    assert await _suggest(session, uri, 2, 4, invoked=True) == "return a + b"
    assert len(session.records("request")) == 1


async def test_a_stream_whose_prediction_still_matches_is_kept(session: Session) -> None:
    uri = session.open("add.py", "# case: stream\ndef add(a, b):\n    \n")
    first = asyncio.ensure_future(session.client.text_document_inline_completion_async(_inline(uri, 2, 4)))
    (request,) = await _wait_for(session, "request")  # streaming has started
    _type(session, uri, 2, 2, 4, "re")
    second = await _suggest(session, uri, 2, 6)
    assert _shown(await first) is None  # the older request is not shown: the editor moved on
    assert second == "turn a + b"
    assert session.records("request") == [request]  # the same stream served the newer request
    # it was cut at the block end and aborted then, not when the newer request came
    assert [row["rid"] for row in session.records("abort")] in ([], [request["rid"]])


async def test_a_stream_is_kept_through_the_cancel_editors_send_on_each_keystroke(session: Session) -> None:
    uri = session.open("add.py", "# case: stream\ndef add(a, b):\n    \n")
    protocol = session.client.protocol
    first = asyncio.ensure_future(
        protocol.send_request_async(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, _inline(uri, 2, 4), msg_id=7001)
    )
    (request,) = await _wait_for(session, "request")
    protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=7001))  # as VS Code does when the user types
    _type(session, uri, 2, 2, 4, "r")
    assert await _suggest(session, uri, 2, 5) == "eturn a + b"
    with pytest.raises(JsonRpcRequestCancelled):
        await first
    assert session.records("request") == [request]


async def test_a_stream_that_predicted_something_else_is_superseded_and_aborted(session: Session) -> None:
    uri = session.open("add.py", "# case: stream\ndef add(a, b):\n    \n")
    first = asyncio.ensure_future(session.client.text_document_inline_completion_async(_inline(uri, 2, 4)))
    (older,) = await _wait_for(session, "request")
    _type(session, uri, 2, 2, 4, "x")
    await _suggest(session, uri, 2, 5)
    assert _shown(await first) is None
    aborted = [row["rid"] for row in session.records("abort")]
    newer = [row for row in session.records("request") if row["rid"] != older["rid"]]
    assert older["rid"] in aborted and len(newer) == 1


async def test_an_invoked_request_skips_the_debounce(tmp_path: Path) -> None:
    session = await _start(tmp_path, {"debounceMs": 2000})
    try:
        waiting = session.open("waiting.py", "# case: add\ndef add(a, b):\n    \n")
        asked = session.open("asked.py", "# case: add\ndef sub(a, b):\n    \n")
        protocol = session.client.protocol
        automatic = asyncio.ensure_future(
            protocol.send_request_async(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, _inline(waiting, 2, 4), msg_id=7002)
        )
        await asyncio.sleep(0)  # sent first
        assert await _suggest(session, asked, 2, 4, invoked=True) == "return a + b"
        # the invoked request went to the engine and was answered while the automatic one, sent before it,
        # still waits out its debounce
        (request,) = session.records("request")
        assert "def sub" in request["prompt"] and not automatic.done()
        protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=7002))
        with pytest.raises(JsonRpcRequestCancelled):
            await automatic
    finally:
        await session.client.shutdown_session()
        await session.client.stop()


async def test_an_answer_for_an_older_version_is_never_shown(session: Session) -> None:
    uri = session.open("add.py", "# case: stream\ndef add(a, b):\n    \n")
    pending = asyncio.ensure_future(session.client.text_document_inline_completion_async(_inline(uri, 2, 4)))
    await _wait_for(session, "request")
    _type(session, uri, 2, 0, 0, "\n")  # the document moves on; the editor has not asked again yet
    assert _shown(await pending) is None
    # asked again at the moved cursor: a new request (the edit was not typed at the prediction's cursor)
    assert await _suggest(session, uri, 3, 4) == "return a + b"
    assert len(session.records("request")) == 2
