"""The whole LSP path against a real SGLang server on the CPU (cpu-tiny): completions, prefix-cache reuse
between keystrokes, cancellation that aborts the engine request, and surviving an engine that dies. The first
two run in both APIs the server speaks (`engine.api`): SGLang's native /generate, and its OpenAI-compatible
/v1/completions."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path

import httpx
import pytest
from kimi_engine.launch import EngineConfig, EngineProcess, free_port
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcRequestCancelled

from kimi_lsp.model.client import GenerateRequest, SGLangEngine
from kimi_lsp.model.openai import OpenAIEngine
from tests.lsp.conftest import Session, start_session

pytestmark = pytest.mark.engine

# a CPU engine's first requests on a busy machine can outlast the default deadline (engine.deadlineMs), which
# would mark the engine down; these tests are about other things
PATIENT = {"deadlineMs": 300_000}
CODE = "".join(f"def helper_{i}(value):\n    return value * {i} + {i * 7}\n\n\n" for i in range(30))


def _inline(uri: str, line: int, character: int) -> lsp.InlineCompletionParams:
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=lsp.Position(line=line, character=character),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
    )


async def _status(session: Session) -> dict[str, object]:
    status = await session.client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
    assert isinstance(status, dict)
    return status


def _metric(base_url: str, name: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    values = [float(m.group(1)) for m in re.finditer(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", text, re.M)]
    return sum(values)


def _slow_down(base_url: str, seconds_per_forward: float | None) -> None:
    """SGLang's test hook: sleep in every forward pass, so a request stays in flight (None restores speed)."""
    httpx.post(f"{base_url}/slow_down", json={"forward_sleep_time": seconds_per_forward}, timeout=30).raise_for_status()


def _type(session: Session, uri: str, version: int, line: int, character: int, text: str) -> None:
    at = lsp.Position(line=line, character=character)
    session.client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[lsp.TextDocumentContentChangePartial(range=lsp.Range(start=at, end=at), text=text)],
        )
    )


APIS = ["native", "openai"]


@pytest.mark.parametrize("api", APIS)
async def test_completion_through_the_lsp_and_cache_reuse_on_the_next_keystroke(
    sglang_engine: str, tmp_path: Path, api: str
) -> None:
    client, session = await start_session(
        tmp_path,
        "visual-studio-code",
        {"model": {"maxTokens": 16}, "engine": {**PATIENT, "api": api}},
        engine=sglang_engine,
    )
    try:
        text = CODE + "def helper_30(value):\n    return value * 3"
        uri = session.open("helpers.py", text)
        line = text.count("\n")
        column = len(text.rsplit("\n", 1)[1])
        first = await client.text_document_inline_completion_async(_inline(uri, line, column))
        status = await _status(session)
        assert status["engine"] == "ready" and status["latencyMs"] is not None
        if first is not None:  # what the model wrote is its business; that it is placed at the cursor is ours
            assert isinstance(first, lsp.InlineCompletionList)
            assert all(item.range.start == lsp.Position(line=line, character=column) for item in first.items)
        _type(session, uri, 2, line, column, "0")
        await client.text_document_inline_completion_async(_inline(uri, line, column + 1))
        status = await _status(session)
        assert isinstance(status["cacheRatio"], float) and status["cacheRatio"] > 0.5  # next keystroke: cached prefix
    finally:
        await client.shutdown_session()
        await client.stop()


@pytest.mark.parametrize("api", APIS)
async def test_cancel_aborts_the_request_in_the_engine(sglang_engine: str, tmp_path: Path, api: str) -> None:
    settings = {"model": {"maxTokens": 2000}, "engine": {**PATIENT, "api": api}}
    client, session = await start_session(tmp_path, "neovim", settings, engine=sglang_engine)
    try:
        # cursor at column 0: no block end can cut generation short
        uri = session.open("long.py", CODE * 2)
        aborted = _metric(sglang_engine, "sglang:num_aborted_requests_total")
        _slow_down(sglang_engine, 0.5)
        pending = asyncio.ensure_future(
            client.protocol.send_request_async(
                lsp.TEXT_DOCUMENT_INLINE_COMPLETION, _inline(uri, (CODE * 2).count("\n"), 0), msg_id=777
            )
        )
        await asyncio.sleep(1.0)  # let the request reach the engine, which now needs seconds to answer
        client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=777))
        with pytest.raises(JsonRpcRequestCancelled):
            await pending
        for _ in range(600):  # openai: SGLang aborts a request 2 s after its client closed the stream
            if _metric(sglang_engine, "sglang:num_aborted_requests_total") > aborted:
                break
            await asyncio.sleep(0.05)
        assert _metric(sglang_engine, "sglang:num_aborted_requests_total") == aborted + 1
    finally:
        _slow_down(sglang_engine, None)
        await client.shutdown_session()
        await client.stop()


async def test_engine_killed_mid_stream_then_restarted(tmp_path: Path, engine_python: str) -> None:
    port = free_port()
    config = EngineConfig(port=port, python=engine_python, log_file=str(tmp_path / "engine.log"), startup_timeout=600)
    engine = EngineProcess(config)
    engine.start()
    try:
        await asyncio.to_thread(engine.wait_ready)
        client, session = await start_session(
            tmp_path, "visual-studio-code", {"model": {"maxTokens": 2000}, "engine": PATIENT}, engine=engine.base_url
        )
        try:
            uri = session.open("long.py", CODE)
            line = CODE.count("\n")
            _slow_down(engine.base_url, 0.5)
            pending = asyncio.ensure_future(client.text_document_inline_completion_async(_inline(uri, line, 0)))
            await asyncio.sleep(1.0)  # the request is in the engine, which needs seconds to answer
            os.killpg(engine.pid, signal.SIGKILL)  # the whole engine dies mid-stream
            engine.stop()
            assert await pending is None
            status = await _status(session)
            assert status["engine"] == "down"
            completion = await client.text_document_completion_async(
                lsp.CompletionParams(
                    text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=line, character=0)
                )
            )
            assert completion is not None and "helper_3" in [item.label for item in completion.items]
            engine = EngineProcess(config)
            engine.start()
            await asyncio.to_thread(engine.wait_ready)
            await client.text_document_inline_completion_async(_inline(uri, line, 0))
            assert (await _status(session))["engine"] == "ready"
        finally:
            await client.shutdown_session()
            await client.stop()
    finally:
        engine.stop()


@pytest.mark.parametrize("api", APIS)
async def test_several_suggestions_from_one_parallel_sampling_request(
    sglang_engine: str, tmp_path: Path, api: str
) -> None:
    """SGLang's parallel sampling (n > 1) streams each sample's chunks told apart by index, every one to its
    end; through the LSP an invoked request gets distinct items at the cursor, and the samples' prompt came
    from the prefix cache the suggestion itself filled."""
    engine = SGLangEngine(sglang_engine) if api == "native" else OpenAIEngine(sglang_engine)
    try:
        ended: dict[int, str] = {}
        async for chunk in engine.stream(GenerateRequest("kimi-test-samples", "def add(a, b):\n", 12, 0.8, n=3)):
            if chunk.finish_reason is not None:
                ended[chunk.index] = chunk.text
        assert sorted(ended) == [0, 1, 2]
    finally:
        await engine.close()
    client, session = await start_session(
        tmp_path,
        "neovim",
        {"model": {"maxTokens": 16, "suggestions": 3}, "engine": {**PATIENT, "api": api}},
        engine=sglang_engine,
    )
    try:
        text = CODE + "def helper_30(value):\n    return value * 3"
        uri = session.open("helpers.py", text)
        line, column = text.count("\n"), len(text.rsplit("\n", 1)[1])
        invoked = lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=lsp.Position(line=line, character=column),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
        )
        result = await client.text_document_inline_completion_async(invoked)
        status = await _status(session)
        assert status["engine"] == "ready"
        if result is not None:  # what the model wrote is its business; distinct items at the cursor are ours
            assert isinstance(result, lsp.InlineCompletionList)
            texts = [item.insert_text for item in result.items]
            assert 1 <= len(texts) <= 3 and len(set(texts)) == len(texts)
            assert all(item.range.start == invoked.position for item in result.items)
            # the samples' request was the last one (a suggestion came): its prompt was served from the cache
            assert isinstance(status["cacheRatio"], float) and status["cacheRatio"] > 0.5
    finally:
        await client.shutdown_session()
        await client.stop()
