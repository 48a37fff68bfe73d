"""Round-trip latency of textDocument/inlineCompletion through the real kimi-lsp server over stdio, with an
instant scripted engine, next to the floor: a bare pygls server returning a constant. Both servers run at the
same time and are measured in alternating rounds, so machine noise hits both alike.

    python bench/lsp_overhead.py [--requests 1000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

HERE = Path(__file__).resolve().parent
DOCUMENT = "import os\n\n\ndef add(a, b):\n    \n\n\nclass Shape:\n    def area(self):\n        return 0\n" * 20


async def start(command: list[str], init_options: dict[str, object]) -> tuple[LanguageClient, str]:
    client = LanguageClient("bench", "0")
    await client.start_io(*command)
    await client.initialize_async(
        lsp.InitializeParams(capabilities=lsp.ClientCapabilities(), initialization_options=init_options)
    )
    client.initialized(lsp.InitializedParams())
    uri = "file:///bench/add.py"
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=DOCUMENT))
    )
    return client, uri


async def round_trips(client: LanguageClient, uri: str, count: int) -> list[float]:
    params = lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=lsp.Position(line=4, character=4),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
    )
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        result = await client.text_document_inline_completion_async(params)
        samples.append((time.perf_counter() - started) * 1000)
        assert result is not None, "the server gave no suggestion"
    return samples


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


async def main(requests: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "engine.json"
        script.write_text(json.dumps({"responses": [{"contains": "def add", "text": "\n    return a + b"}]}))
        kimi = await start([sys.executable, "-m", "kimi_lsp", "--engine", f"scripted:{script}"], {"debounceMs": 0})
        bare = await start([sys.executable, str(HERE / "bare_server.py")], {})
        results: dict[str, list[float]] = {"kimi-lsp": [], "bare pygls": []}
        for _name, (client, uri) in (("kimi-lsp", kimi), ("bare pygls", bare)):
            await round_trips(client, uri, 50)  # warm-up
        per_round = max(1, requests // rounds)
        for _ in range(rounds):
            for name, (client, uri) in (("kimi-lsp", kimi), ("bare pygls", bare)):
                results[name] += await round_trips(client, uri, per_round)
        for client, _ in (kimi, bare):
            await client.shutdown_async(None)
            client.exit(None)
            await client.stop()
    print(f"inlineCompletion round trip over stdio, {per_round * rounds} requests each after 50 warm-up")
    print(f"{'server':<12} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, samples in results.items():
        print(
            f"{name:<12} {percentile(samples, 50):8.2f} {percentile(samples, 95):8.2f} {percentile(samples, 99):8.2f}"
        )
    ratio = percentile(results["kimi-lsp"], 50) / percentile(results["bare pygls"], 50)
    print(f"overhead over the bare floor at p50: {ratio:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
