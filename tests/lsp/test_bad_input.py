"""Bad input gets an error response or an empty result, and the server keeps serving."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

from .conftest import Session, start_session


def _inline(uri: str, line: int, character: int) -> lsp.InlineCompletionParams:
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=lsp.Position(line=line, character=character),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
    )


async def _still_serving(session: Session) -> None:
    uri = session.open("alive.py", "# case: add\ndef add(a, b):\n    \n")
    result = await session.client.text_document_inline_completion_async(_inline(uri, 2, 4))
    assert isinstance(result, lsp.InlineCompletionList) and result.items[0].insert_text == "return a + b"


@pytest.mark.parametrize(
    ("line", "character", "message"),
    [(99, 0, "past the end"), (0, 2**31 - 1, None)],
)
async def test_impossible_positions(session: Session, line: int, character: int, message: str | None) -> None:
    uri = session.open("small.py", "x = 1\n")
    if message is None:  # a character past the end of a line means the end of the line (LSP rule)
        assert await session.client.text_document_inline_completion_async(_inline(uri, line, character)) is None
    else:
        with pytest.raises(JsonRpcException, match=message):
            await session.client.text_document_inline_completion_async(_inline(uri, line, character))
    await _still_serving(session)


async def test_unknown_document(session: Session) -> None:
    with pytest.raises(JsonRpcException, match="document not open"):
        await session.client.text_document_completion_async(
            lsp.CompletionParams(
                text_document=lsp.TextDocumentIdentifier(uri="file:///nowhere/x.py"),
                position=lsp.Position(line=0, character=0),
            )
        )
    await _still_serving(session)


async def test_nul_bytes_and_lone_surrogates_in_a_document(session: Session) -> None:
    uri = session.open("odd.py", "x = '\x00'\ny = '\udcff'\nz = (\n")
    result = await session.client.text_document_completion_async(
        lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=2, character=5)
        )
    )
    assert result is not None
    await _still_serving(session)


async def test_invalid_setting_falls_back_with_one_message(tmp_path: Path) -> None:
    client, session = await start_session(tmp_path, "neovim", {"model": {"maxTokens": "lots"}, "debounceMs": -5})
    try:
        for _ in range(100):
            if client.messages:
                break
            await asyncio.sleep(0.02)
        (message,) = client.messages
        assert "model.maxTokens" in message.message and "debounceMs" in message.message
        await _still_serving(session)
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_configuration_change_turns_inline_completion_off(session: Session) -> None:
    session.client.workspace_did_change_configuration(
        lsp.DidChangeConfigurationParams(settings={"kimi": {"features": {"inlineCompletion": False}}})
    )
    uri = session.open("off.py", "# case: add\ndef add(a, b):\n    \n")
    assert await session.client.text_document_inline_completion_async(_inline(uri, 2, 4)) is None
    assert session.records("request") == []


async def test_engine_down_degrades_to_index_only(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client, session = await start_session(tmp_path, "visual-studio-code", engine=f"http://127.0.0.1:{port}")
    try:
        uri = session.open("down.py", "def helper():\n    pass\n\nhel\n")
        assert await client.text_document_inline_completion_async(_inline(uri, 3, 3)) is None
        status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
        assert status["engine"] == "down" and "unreachable" in status["message"]
        result = await client.text_document_completion_async(
            lsp.CompletionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=3, character=3)
            )
        )
        assert result is not None and [item.label for item in result.items] == ["helper"]
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_an_untitled_buffer_is_served_without_a_file(session: Session) -> None:
    uri = "untitled:Untitled-1"
    session.client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text="# case: add\ndef add(a, b):\n    \n")
        )
    )
    result = await session.client.text_document_inline_completion_async(_inline(uri, 2, 4))
    assert isinstance(result, lsp.InlineCompletionList) and result.items[0].insert_text == "return a + b"
    symbols = await session.client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    assert symbols is not None and [s.name for s in symbols] == ["add"]
    await _still_serving(session)
