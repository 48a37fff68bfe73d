"""Round-trip latency of textDocument/inlineCompletion through the real kimi-lsp server over stdio, next to the
floors a pygls server cannot beat. All servers run at the same time and are measured in alternating rounds, so
machine noise hits them alike:

- kimi-lsp with the in-process scripted engine (everything kimi-lsp adds, without HTTP), against a bare pygls
  server whose handler returns a constant;
- kimi-lsp through its real SGLang client (`--engine http://127.0.0.1:PORT`) against a local instant
  SGLang-shaped server (bench/sglang_stub.py: streamed /generate, /abort_request, /health): automatic requests
  with debounceMs 0, and invoked requests with the default settings but one suggestion (model.suggestions 1:
  no alternatives' request); against bare pygls whose handler makes
  one httpx streaming request to the same server first.

Each request asks at the next of the document's 20 identical functions, so no answer comes from kimi-lsp's
reuse of the last one: every kimi-lsp request here goes to the engine.

    python bench/lsp_overhead.py [--requests 1000] [--rounds 50] [--compare DIR]

--compare DIR also runs the kimi-lsp of another checkout (e.g. `git archive <commit> kimi_lsp engine | tar -x -C
DIR`) through the same HTTP hop, in the same rounds: before/after figures from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

HERE = Path(__file__).resolve().parent
BLOCK = "import os\n\n\ndef add(a, b):\n    \n\n\nclass Shape:\n    def area(self):\n        return 0\n"
COPIES = 20
DOCUMENT = BLOCK * COPIES
CURSORS = tuple(lsp.Position(line=4 + 10 * copy, character=4) for copy in range(COPIES))  # in "def add"'s body
AUTOMATIC, INVOKED = lsp.InlineCompletionTriggerKind.Automatic, lsp.InlineCompletionTriggerKind.Invoked
ONE = {"model": {"suggestions": 1}}  # invoked: the suggestion's own round trip, without the alternatives' request


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    client: LanguageClient
    uri: str
    trigger: lsp.InlineCompletionTriggerKind


def _ignore(params: object) -> None:
    return None


async def start(
    name: str,
    command: list[str],
    init_options: dict[str, object],
    trigger: lsp.InlineCompletionTriggerKind,
    cwd: str | None = None,
) -> Server:
    client = LanguageClient("bench", "0")
    for method in ("kimi/status", lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS):  # read like any client would, and dropped
        client.feature(method)(_ignore)
    await client.start_io(*command, cwd=cwd)
    await client.initialize_async(
        lsp.InitializeParams(capabilities=lsp.ClientCapabilities(), initialization_options=init_options)
    )
    client.initialized(lsp.InitializedParams())
    uri = "file:///bench/add.py"
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=DOCUMENT))
    )
    return Server(name, client, uri, trigger)


async def round_trips(server: Server, count: int) -> list[float]:
    samples = []
    for number in range(count):
        params = lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=server.uri),
            position=CURSORS[number % COPIES],
            context=lsp.InlineCompletionContext(trigger_kind=server.trigger),
        )
        started = time.perf_counter()
        result = await server.client.text_document_inline_completion_async(params)
        samples.append((time.perf_counter() - started) * 1000)
        assert result is not None, f"{server.name} gave no suggestion"
    return samples


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


async def main(requests: int, rounds: int, compare: str | None) -> None:
    stub = subprocess.Popen([sys.executable, str(HERE / "sglang_stub.py")], stdout=subprocess.PIPE, text=True)
    try:
        assert stub.stdout is not None
        url = f"http://127.0.0.1:{stub.stdout.readline().split()[1]}"
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "engine.json"
            script.write_text(json.dumps({"responses": [{"contains": "def add", "text": "\n    return a + b"}]}))
            kimi = [sys.executable, "-m", "kimi_lsp"]
            servers = [
                await start(
                    "kimi-lsp, scripted", [*kimi, "--engine", f"scripted:{script}"], {"debounceMs": 0}, AUTOMATIC
                ),
                await start("bare pygls", [sys.executable, str(HERE / "bare_server.py")], {}, AUTOMATIC),
                await start("kimi-lsp, http, auto", [*kimi, "--engine", url], {"debounceMs": 0}, AUTOMATIC),
                await start("kimi-lsp, http, invoked", [*kimi, "--engine", url], ONE, INVOKED),
                await start(
                    "pygls + httpx", [sys.executable, str(HERE / "bare_server.py"), "--engine", url], {}, AUTOMATIC
                ),
            ]
            if compare is not None:
                servers += [
                    await start(
                        "compared: http, auto", [*kimi, "--engine", url], {"debounceMs": 0}, AUTOMATIC, compare
                    ),
                    await start("compared: http, invoked", [*kimi, "--engine", url], ONE, INVOKED, compare),
                ]
            results: dict[str, list[float]] = {server.name: [] for server in servers}
            for server in servers:
                await round_trips(server, 50)  # warm-up
            per_round = max(1, requests // rounds)
            for _ in range(rounds):
                for server in servers:
                    results[server.name] += await round_trips(server, per_round)
            for server in servers:
                await server.client.shutdown_async(None)
                server.client.exit(None)
                await server.client.stop()
    finally:
        stub.terminate()
        stub.wait()
    print(f"inlineCompletion round trip over stdio, {per_round * rounds} requests each after 50 warm-up")
    print(f"{'server':<26} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, samples in results.items():
        p50, p95, p99 = (percentile(samples, q) for q in (50, 95, 99))
        print(f"{name:<26} {p50:8.2f} {p95:8.2f} {p99:8.2f}")

    def ratio(name: str, floor: str) -> str:
        return f"{percentile(results[name], 50) / percentile(results[floor], 50):.2f}x"

    print(f"scripted engine over the bare floor at p50: {ratio('kimi-lsp, scripted', 'bare pygls')}")
    for name in results:
        if "http," in name:
            print(f"{name} over pygls + httpx at p50: {ratio(name, 'pygls + httpx')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--compare", metavar="DIR", help="also run the kimi-lsp of this checkout (its kimi_lsp/)")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds, args.compare))
