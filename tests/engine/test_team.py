"""The `team` profile for real: two cpu-tiny SGLang workers behind SGLang's router (sglang-router, cache-aware),
started by one command, serving ghost text to the LSP client through the router, a cancel reaching the worker
that runs the request, and everything gone after the command is stopped."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from kimi_engine.launch import TINY_MODEL_DIR, free_port
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcRequestCancelled

from tests.engine.test_lsp_engine import CODE, PATIENT, _inline, _metric, _slow_down, _status, _type
from tests.lsp.conftest import start_session

pytestmark = pytest.mark.engine

STARTUP_S = 600


def _start_team(tmp_path: Path, engine_python: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    """`python -m kimi_engine --profile team`: returns the command's process, the router's URL and the workers'
    (from what it prints once ready)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "kimi_engine",
        "--profile",
        "team",
        "--workers",
        "2",
        "--port",
        str(port),
        "--python",
        engine_python,
        "--log-file",
        str(tmp_path / "team.log"),
        "--startup-timeout",
        str(STARTUP_S),
    ]
    team = subprocess.Popen(command, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    assert team.stderr is not None
    workers: list[str] = []
    deadline = time.monotonic() + STARTUP_S
    while not workers and time.monotonic() < deadline:
        line = team.stderr.readline()
        if not line:
            break
        if "workers at" in line:
            workers = line.split("workers at ", 1)[1].split(" (")[0].split()
    assert workers, f"the team did not start: exit code {team.poll()}"
    return team, f"http://127.0.0.1:{port}", workers


async def test_team_serves_ghost_text_through_the_router_and_stops_with_nothing_left(
    tmp_path: Path, engine_python: str
) -> None:
    if not (TINY_MODEL_DIR / "model.safetensors").is_file():
        pytest.fail(f"tiny model weights missing at {TINY_MODEL_DIR}")
    team, router, workers = await asyncio.to_thread(_start_team, tmp_path, engine_python)
    processes = psutil.Process(team.pid).children(recursive=True)
    try:
        assert len(workers) == 2 and httpx.get(f"{router}/health", timeout=10).status_code == 200
        engine = {**PATIENT, "workers": workers}
        settings = {"model": {"maxTokens": 16}, "engine": engine, "review": {"enabled": False}}
        client, session = await start_session(tmp_path, "visual-studio-code", settings, engine=router)
        try:
            # ghost text through the router, and the next keystroke served from the same worker's cache
            text = CODE + "def helper_30(value):\n    return value * 3"
            uri = session.open("helpers.py", text)
            line, column = text.count("\n"), len(text.rsplit("\n", 1)[1])
            first = await client.text_document_inline_completion_async(_inline(uri, line, column))
            if first is not None:
                assert all(item.range.start == lsp.Position(line=line, character=column) for item in first.items)
            _type(session, uri, 2, line, column, "0")
            await client.text_document_inline_completion_async(_inline(uri, line, column + 1))
            status = await _status(session)
            assert status["engine"] == "ready" and status["requests"] >= 1
            assert isinstance(status["cacheRatio"], float) and status["cacheRatio"] > 0.5  # the same worker
            assert sum(_metric(w, "sglang:num_requests_total") for w in workers) >= 2  # the workers served them

            # a cancel reaches the worker running the request, though the router does not forward /abort_request
            long = session.open("long.py", CODE * 2)  # cursor at column 0: no block end cuts generation short
            aborted = sum(_metric(w, "sglang:num_aborted_requests_total") for w in workers)
            for worker in workers:
                _slow_down(worker, 0.5)
            pending = asyncio.ensure_future(
                client.protocol.send_request_async(
                    lsp.TEXT_DOCUMENT_INLINE_COMPLETION, _inline(long, (CODE * 2).count("\n"), 0), msg_id=778
                )
            )
            await asyncio.sleep(1.0)
            client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=778))
            with pytest.raises(JsonRpcRequestCancelled):
                await pending
            for _ in range(100):
                if sum(_metric(w, "sglang:num_aborted_requests_total") for w in workers) > aborted:
                    break
                await asyncio.sleep(0.05)
            assert sum(_metric(w, "sglang:num_aborted_requests_total") for w in workers) == aborted + 1
        finally:
            for worker in workers:
                _slow_down(worker, None)
            await client.shutdown_session()
            await client.stop()
    finally:
        team.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(team.wait, 120)
    assert code == 0
    _, alive = psutil.wait_procs(processes, timeout=30)
    assert alive == [] and len(processes) >= 3  # two workers and the router, each with their children
    for url in (router, *workers):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/health", timeout=2)
