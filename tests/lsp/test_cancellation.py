"""Cancellation reaches the engine: $/cancelRequest and superseding requests both abort the engine request."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcRequestCancelled

from .conftest import Session

SLOW = "# case: slow\ndef f():\n    \n"


def _inline(uri: str) -> lsp.InlineCompletionParams:
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=lsp.Position(line=2, character=4),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
    )


async def _wait_for(session: Session, event: str, count: int = 1) -> list[dict[str, object]]:
    for _ in range(250):
        rows = session.records(event)
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError(f"engine never saw {count} {event}(s): {session.records()}")


async def test_cancel_request_aborts_the_engine_request(session: Session) -> None:
    uri = session.open("slow.py", SLOW)
    pending = asyncio.ensure_future(
        session.client.protocol.send_request_async(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, _inline(uri), msg_id=4242)
    )
    (request,) = await _wait_for(session, "request")  # streaming has started
    session.client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=4242))
    with pytest.raises(JsonRpcRequestCancelled):
        await pending
    (abort,) = await _wait_for(session, "abort")
    assert abort["rid"] == request["rid"]
    # and the server keeps serving
    status = await session.client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
    assert status["engine"] == "ready"


async def test_newer_request_supersedes_and_aborts_the_older(session: Session) -> None:
    uri = session.open("slow.py", SLOW)
    first = asyncio.ensure_future(session.client.text_document_inline_completion_async(_inline(uri)))
    (older,) = await _wait_for(session, "request")
    # an edit above the cursor: the stream in flight predicts nothing for the new document (one it still
    # predicts is kept: tests/lsp/test_reuse.py)
    session.client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0)),
                    text="#",
                )
            ],
        )
    )
    second = asyncio.ensure_future(session.client.text_document_inline_completion_async(_inline(uri)))
    assert await first is None  # superseded: no suggestion, not an error
    (abort,) = await _wait_for(session, "abort")
    assert abort["rid"] == older["rid"]
    result = await second
    assert isinstance(result, lsp.InlineCompletionList) and result.items[0].insert_text.startswith("x = 1")
    requests = session.records("request")
    assert len(requests) == 2 and requests[1]["rid"] != older["rid"]
