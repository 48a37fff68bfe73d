"""`kimi-lsp --engine embedded`: boots the cpu-tiny SGLang engine in the background, says when it is ready,
and never leaves it behind - not after a clean shutdown, not when the language server is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import psutil
import pytest
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

pytestmark = pytest.mark.engine


class Client(LanguageClient):
    def __init__(self) -> None:
        super().__init__("embedded-test", "0")
        self.progress: list[Any] = []

        @self.feature(lsp.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create(params: lsp.WorkDoneProgressCreateParams) -> None:
            return None

        @self.feature(lsp.PROGRESS)
        def progress(params: lsp.ProgressParams) -> None:
            self.progress.append(params.value)


async def _start() -> tuple[Client, psutil.Process]:
    client = Client()
    await client.start_io(sys.executable, "-m", "kimi_lsp", "--engine", "embedded")
    caps = lsp.ClientCapabilities(window=lsp.WindowClientCapabilities(work_done_progress=True))
    # a first request to a CPU engine on a busy machine can outlast the default deadline; this is not its test
    options = {"debounceMs": 0, "engine": {"deadlineMs": 300_000}}
    await client.initialize_async(lsp.InitializeParams(capabilities=caps, initialization_options=options))
    client.initialized(lsp.InitializedParams())
    return client, psutil.Process(client._server.pid)  # type: ignore[union-attr]


async def _wait_ready(client: Client) -> dict[str, Any]:
    for _ in range(1200):
        status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
        assert status["engine"] in ("starting", "ready"), status
        if status["engine"] == "ready":
            return dict(status)
        await asyncio.sleep(0.5)
    raise AssertionError("the embedded engine never became ready")


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def _wait_gone(processes: list[psutil.Process]) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=60)
    return alive


async def test_embedded_engine_boots_serves_and_stops_with_the_server() -> None:
    client, server = await _start()
    try:
        status = await _wait_ready(client)
        assert "embedded cpu-tiny" in status["message"]
        kinds = [(_field(v, "kind"), _field(v, "title")) for v in client.progress]
        assert kinds[0] == ("begin", "Starting the Kimi engine") and kinds[-1][0] == "end", kinds
        engine = server.children(recursive=True)
        assert any("sglang" in " ".join(p.cmdline()) for p in engine)
        client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(
                lsp.TextDocumentItem(
                    uri="file:///demo/a.py", language_id="python", version=1, text="def add(a, b):\n    "
                )
            )
        )
        await client.text_document_inline_completion_async(
            lsp.InlineCompletionParams(
                text_document=lsp.TextDocumentIdentifier(uri="file:///demo/a.py"),
                position=lsp.Position(line=1, character=4),
                context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
            )
        )
        served = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
        assert served["engine"] == "ready" and served["latencyMs"] is not None, served
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    assert _wait_gone(engine) == []


async def test_a_killed_server_takes_its_engine_with_it() -> None:
    client, server = await _start()
    try:
        await _wait_ready(client)
        engine = server.children(recursive=True)
        assert engine
        os.kill(server.pid, signal.SIGKILL)
        assert _wait_gone(engine) == []
    finally:
        await client.stop()


async def test_a_quit_that_sends_exit_without_waiting_for_shutdown_is_clean(tmp_path: Any) -> None:
    """Neovim's quit: shutdown and exit back to back. No traceback or error in the log; nothing left behind."""
    log = tmp_path / "server.log"
    client = Client()
    await client.start_io(sys.executable, "-m", "kimi_lsp", "--engine", "embedded", "--log-file", str(log))
    await client.initialize_async(
        lsp.InitializeParams(capabilities=lsp.ClientCapabilities(), initialization_options={"debounceMs": 0})
    )
    client.initialized(lsp.InitializedParams())
    server = psutil.Process(client._server.pid)  # type: ignore[union-attr]
    try:
        await _wait_ready(client)
        engine = server.children(recursive=True)
        shutdown = asyncio.ensure_future(client.shutdown_async(None))
        await asyncio.sleep(0)  # the request is written before exit
        client.exit(None)
        await asyncio.wait([shutdown], timeout=10)
    finally:
        await client.stop()
    assert _wait_gone([server, *engine]) == []
    text = log.read_text()
    assert "Traceback" not in text and "CancelledError" not in text and " ERROR " not in text, text
