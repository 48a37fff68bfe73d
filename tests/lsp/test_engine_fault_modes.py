"""Every way an engine fails, against a local fault-injecting server (fault_engine.py): it dies mid-stream,
accepts and says nothing, sends one token a second, answers 500/503/429, streams malformed lines or JSON, or
no events at all. In every case the server stays up, tells the user once, keeps the index features, aborts
what it gave up on (the engine.deadlineMs deadline), backs off, and comes back when the engine does."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from kimi_lsp.model.host import FIRST_RETRY_S

from .conftest import Session, start_session
from .fault_engine import FaultEngine, Mode

TEXT = "def helper():\n    pass\n\nhel"
DEADLINE_MS = 1500


def _inline(uri: str) -> lsp.InlineCompletionParams:
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=lsp.Position(line=3, character=3),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
    )


async def _status(client: LanguageClient) -> dict[str, Any]:
    status: dict[str, Any] = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="kimi.status")
    )
    return status


async def _index_features_work(session: Session, uri: str) -> None:
    completions = await session.client.text_document_completion_async(
        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(3, 3))
    )
    assert completions is not None and [i.label for i in completions.items] == ["helper"]
    symbols = await session.client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    assert symbols is not None and [s.name for s in symbols] == ["helper"]


async def _comes_back(session: Session, uri: str) -> lsp.InlineCompletionList:
    """Ask until the engine answers again (the backoff ends after a second or two)."""
    for _ in range(100):
        answer = await session.client.text_document_inline_completion_async(_inline(uri))
        if isinstance(answer, lsp.InlineCompletionList):
            return answer
        await asyncio.sleep(0.1)
    raise AssertionError("the engine never came back")


FAILING: list[Mode] = [
    "http-500",
    "http-503",
    "http-429",
    "garbage",
    "bad-shape",
    "not-sse",
    "die-mid-stream",
    "silent",
    "slow",
]


@pytest.mark.parametrize("mode", FAILING)
async def test_a_failing_engine_is_survived_told_once_backed_off_and_recovered(tmp_path: Path, mode: Mode) -> None:
    with FaultEngine() as engine:
        client, session = await start_session(
            tmp_path, "neovim", engine=engine.url, init_options={"engine": {"deadlineMs": DEADLINE_MS}}
        )
        try:
            uri = session.open("a.py", TEXT)
            assert (await _status(client))["engine"] == "ready"
            engine.mode = mode
            told_before = len(client.messages)
            assert await client.text_document_inline_completion_async(_inline(uri)) is None  # it fails
            failed_by = time.monotonic()
            in_backoff = []  # requests the engine saw when each keystroke inside the backoff was answered
            for _ in range(5):  # more keystrokes: each answered, no suggestion
                assert await client.text_document_inline_completion_async(_inline(uri)) is None
                if time.monotonic() - failed_by < FIRST_RETRY_S / 2:  # surely before the backoff ends
                    in_backoff.append(len(engine.requests))
            assert in_backoff, "no keystroke was answered within half a backoff"
            assert in_backoff[-1] == 1, "the rest waited out the backoff"
            status = await _status(client)
            assert status["engine"] == "down", status
            told = client.messages[told_before:]
            assert len(told) == 1 and told[0].type == lsp.MessageType.Warning, [m.message for m in told]
            if mode in ("silent", "slow"):  # the deadline ended it: the engine was told to stop that request
                assert "engine.deadlineMs" in told[0].message
                rid = str(engine.requests[0]["rid"])
                for _ in range(100):
                    if engine.aborts:
                        break
                    await asyncio.sleep(0.05)
                assert [r for r, _ in engine.aborts] == [rid]
                if mode == "slow":
                    assert engine.aborts[0][1] < engine.slow_tokens  # cut off, not finished
            await _index_features_work(session, uri)
            engine.mode = "ok"
            answer = await _comes_back(session, uri)
            assert answer.items[0].insert_text == "al_count"
            assert (await _status(client))["engine"] == "ready"
            assert len(client.messages) == told_before + 1  # coming back needs no message
        finally:
            await client.shutdown_session()
            await client.stop()


async def test_bytes_that_are_not_utf8_in_the_stream_are_survived(tmp_path: Path) -> None:
    with FaultEngine() as engine:
        client, session = await start_session(tmp_path, "visual-studio-code", engine=engine.url)
        try:
            uri = session.open("a.py", TEXT)
            engine.mode = "binary"
            answer = await client.text_document_inline_completion_async(_inline(uri))
            assert answer is None or isinstance(answer, lsp.InlineCompletionList)
            await _index_features_work(session, uri)
            engine.mode = "ok"
            client.text_document_did_change(  # an edit above the cursor: the answer above is not reused
                lsp.DidChangeTextDocumentParams(
                    text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
                    content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=TEXT.replace("pass", "pass "))],
                )
            )
            assert (await _comes_back(session, uri)).items[0].insert_text == "al_count"
        finally:
            await client.shutdown_session()
            await client.stop()


async def test_an_engine_that_dies_mid_stream_and_restarts_is_used_again(tmp_path: Path) -> None:
    engine = FaultEngine().__enter__()
    port = engine.port
    client, session = await start_session(tmp_path, "neovim", engine=engine.url)
    try:
        uri = session.open("a.py", TEXT)
        engine.mode = "die-mid-stream"
        assert await client.text_document_inline_completion_async(_inline(uri)) is None
        engine.__exit__()  # and the process is gone: connections are refused
        for _ in range(5):
            assert await client.text_document_inline_completion_async(_inline(uri)) is None
        status = await _status(client)
        assert status["engine"] == "down" and "unreachable" in status["message"], status
        await _index_features_work(session, uri)
        with FaultEngine(port) as again:  # restarted on the same port
            assert (await _comes_back(session, uri)).items[0].insert_text == "al_count"
            assert len(again.requests) >= 1
        warnings = [m for m in client.messages if m.type == lsp.MessageType.Warning]
        assert len(warnings) == 1, [m.message for m in warnings]
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_a_deadline_set_later_applies_to_the_next_request(tmp_path: Path) -> None:
    with FaultEngine(slow_tokens=600) as engine:
        client, session = await start_session(tmp_path, "neovim", engine=engine.url)
        try:
            uri = session.open("a.py", TEXT)
            client.workspace_did_change_configuration(
                lsp.DidChangeConfigurationParams(settings={"kimi": {"engine": {"deadlineMs": 1000}}})
            )
            engine.mode = "slow"
            assert await client.text_document_inline_completion_async(_inline(uri)) is None
            for _ in range(100):
                if engine.aborts:
                    break
                await asyncio.sleep(0.05)
            assert engine.aborts and engine.aborts[0][1] < 600
        finally:
            await client.shutdown_session()
            await client.stop()


async def test_a_document_with_a_lone_surrogate_still_reaches_the_engine(tmp_path: Path) -> None:
    """httpx's own JSON encoding raises on a lone surrogate; the client encodes the body itself."""
    with FaultEngine() as engine:
        client, session = await start_session(tmp_path, "visual-studio-code", engine=engine.url)
        try:
            uri = session.open("odd.py", "x = '\udc80'\ndef helper():\n    pass\n\nhel")
            answer = await client.text_document_inline_completion_async(
                lsp.InlineCompletionParams(
                    text_document=lsp.TextDocumentIdentifier(uri=uri),
                    position=lsp.Position(line=4, character=3),
                    context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
                )
            )
            assert isinstance(answer, lsp.InlineCompletionList) and answer.items[0].insert_text == "al_count"
            assert len(engine.requests) == 1 and "x = '?'" in str(engine.requests[0]["text"])
            assert (await _status(client))["engine"] == "ready"
        finally:
            await client.shutdown_session()
            await client.stop()
