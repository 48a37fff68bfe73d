"""Quitting the editor with the embedded engine: how long `shutdown` takes to answer, and how long after
`exit` (or after the client's pipe closes) every process the server started is gone.

    python bench/shutdown.py [--rounds 3]

Each round starts `kimi-lsp --engine embedded`, waits until the engine is ready, then quits: shutdown +
exit (a normal quit), or closes the server's stdin without either (a client that vanished).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

import psutil
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient


async def _ready_server() -> tuple[LanguageClient, list[psutil.Process]]:
    client = LanguageClient("bench", "0")
    await client.start_io(sys.executable, "-m", "kimi_lsp", "--engine", "embedded")
    await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities()))
    client.initialized(lsp.InitializedParams())
    for _ in range(1200):
        status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
        if status["engine"] == "ready":
            break
        await asyncio.sleep(0.5)
    else:
        raise SystemExit(f"the embedded engine never became ready: {status}")
    server = psutil.Process(client._server.pid)  # type: ignore[union-attr]
    return client, [server, *server.children(recursive=True)]


def _gone_after(processes: list[psutil.Process], since: float) -> float:
    _, alive = psutil.wait_procs(processes, timeout=60)
    if alive:
        raise SystemExit(f"still running 60 s after the quit: {alive}")
    return time.perf_counter() - since


async def one_round(vanish: bool) -> tuple[float | None, float]:
    client, processes = await _ready_server()
    answered: float | None = None
    if vanish:
        started = time.perf_counter()
        client._server.stdin.close()  # type: ignore[union-attr]
    else:
        started = time.perf_counter()
        await client.shutdown_async(None)
        answered = time.perf_counter() - started
        started = time.perf_counter()
        client.exit(None)
    gone = await asyncio.to_thread(_gone_after, processes, started)
    await client.stop()
    return answered, gone


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    answers, after_exit, after_close = [], [], []
    for _ in range(args.rounds):
        answered, gone = await one_round(vanish=False)
        answers.append((answered or 0) * 1000)
        after_exit.append(gone)
        after_close.append((await one_round(vanish=True))[1])
    print(f"shutdown answered in (ms): median {statistics.median(answers):.1f}, max {max(answers):.1f}")
    print(f"all processes gone after exit (s): median {statistics.median(after_exit):.2f}, max {max(after_exit):.2f}")
    print(
        f"all processes gone after the pipe closed (s): median {statistics.median(after_close):.2f}, "
        f"max {max(after_close):.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
