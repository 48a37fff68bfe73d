"""An engine that is down, fails or answers garbage: the server stays up, tells the user once, keeps the index
features, backs off instead of asking on every keystroke, and comes back when the engine does."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp

from .conftest import start_session
from .fault_engine import FaultEngine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _inline(uri: str, line: int, character: int) -> lsp.InlineCompletionParams:
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=lsp.Position(line=line, character=character),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
    )


def _messages(client: Any) -> list[str]:
    return [m.message for m in client.messages]


async def test_an_engine_url_that_does_not_answer_is_down_at_once_told_once_and_comes_back(tmp_path: Path) -> None:
    port = _free_port()
    client, session = await start_session(tmp_path, "visual-studio-code", engine=f"http://127.0.0.1:{port}")
    try:
        status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
        assert status["engine"] == "down" and str(port) in status["message"]  # before any request
        uri = session.open("a.py", "total = 0\ntot")
        for _ in range(5):  # keystrokes while down: answered, no new message
            assert await client.text_document_inline_completion_async(_inline(uri, 1, 3)) is None
        told = [m for m in _messages(client) if str(port) in m]
        assert len(told) == 1 and "engine.url" in told[0], _messages(client)
        assert any(str(port) in m.message for m in client.log_messages)  # also for clients that hide popups
        with FaultEngine(port) as engine:
            answer = None
            for _ in range(100):  # the backoff ends after a second; then one request reaches the engine
                answer = await client.text_document_inline_completion_async(_inline(uri, 1, 3))
                if answer is not None:
                    break
                await asyncio.sleep(0.1)
            assert answer is not None and answer.items[0].insert_text == "al_count"  # type: ignore[union-attr]
            assert len(engine.requests) == 1
            status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
            assert status["engine"] == "ready"
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_errors_and_garbage_from_the_engine_back_off_instead_of_asking_on_every_keystroke(tmp_path: Path) -> None:
    with FaultEngine() as engine:
        client, session = await start_session(tmp_path, "neovim", engine=engine.url)
        try:
            uri = session.open("a.py", "def helper():\n    pass\n\nhel")
            assert await client.text_document_inline_completion_async(_inline(uri, 3, 3)) is not None  # attached
            for version, mode in enumerate(("http-500", "garbage"), start=2):
                engine.mode = mode  # type: ignore[assignment]
                engine.requests.clear()
                # an edit above the cursor (a space after "pass"), so the last answer is not given again (an
                # identical request is answered from it)
                client.text_document_did_change(
                    lsp.DidChangeTextDocumentParams(
                        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                        content_changes=[
                            lsp.TextDocumentContentChangePartial(
                                range=lsp.Range(start=lsp.Position(1, 8), end=lsp.Position(1, 8)), text=" "
                            )
                        ],
                    )
                )
                for _ in range(10):
                    assert await client.text_document_inline_completion_async(_inline(uri, 3, 3)) is None
                assert len(engine.requests) == 1, mode  # the rest wait out the backoff
                status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
                assert status["engine"] == "down"
                completions = await client.text_document_completion_async(
                    lsp.CompletionParams(
                        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=3, character=3)
                    )
                )
                assert completions is not None and [i.label for i in completions.items] == ["helper"]
                await asyncio.sleep(1.1 if mode == "http-500" else 0)  # the first backoff: 1 s
        finally:
            await client.shutdown_session()
            await client.stop()
