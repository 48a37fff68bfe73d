"""End-to-end inline completion latency against the embedded engine (a real SGLang server on the CPU),
replaying typing: one didChange per keystroke and an inline completion request after each, across 3 files.
Prints p50/p95 latency; how many keystrokes needed an engine request (`kimi.status`'s request count: the rest
were answered from the prediction they typed through), the latency of each kind, and the median
cached_tokens/prompt_tokens the engine reported for the requests it got.

    python bench/engine_latency.py [--engine embedded|URL] [--max-tokens 16]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

WORKSPACE = Path(__file__).resolve().parents[1] / "kimi_lsp" / "demo" / "workspace"
# (file, the line to cut the file at, what gets typed there)
REPLAY = (
    (
        "shop/money.py",
        "    def __str__",
        "    def minus(self, other: Money) -> Money:\n        return Money(self.cents - other.cents)\n\n",
    ),
    (
        "shop/cart.py",
        None,
        "    def total(self) -> Money:\n        result = ZERO\n        for line in self.lines:\n            result = result + line.total()\n        return result\n",
    ),
    (
        "shop/__init__.py",
        None,
        '\nfrom .cart import Cart, Line\nfrom .money import ZERO, Money\n\n__all__ = ["Cart", "Line", "Money", "ZERO"]\n',
    ),
)


@dataclass(slots=True)
class Replay:
    latencies: list[float] = field(default_factory=list)  # every keystroke's inline completion, ms
    reused: list[float] = field(default_factory=list)  # those answered without an engine request
    asked: list[float] = field(default_factory=list)  # those that made one
    unanswered: list[float] = field(default_factory=list)  # neither: the prediction's rest shows nothing (or down)
    down: int = 0  # keystrokes after which the engine was not "ready" (a request failed: backoff)
    ratios: list[float] = field(default_factory=list)  # cached/prompt tokens of each engine request
    per_file: dict[str, list[float]] = field(default_factory=dict)


async def _status(client: LanguageClient) -> dict[str, Any]:
    status: dict[str, Any] = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="kimi.status")
    )
    return status


async def replay(client: LanguageClient, root: Path) -> Replay:
    out = Replay()
    requests = (await _status(client))["requests"]
    for name, cut, typed in REPLAY:
        path = root / name
        text = path.read_text()
        if cut is not None:
            text = text[: text.index(cut)]
        uri, version = path.as_uri(), 1
        client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(
                lsp.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)
            )
        )
        line, column = text.count("\n"), len(text.rsplit("\n", 1)[-1])
        for ch in typed:
            version += 1
            at = lsp.Position(line=line, character=column)
            client.text_document_did_change(
                lsp.DidChangeTextDocumentParams(
                    text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[lsp.TextDocumentContentChangePartial(range=lsp.Range(start=at, end=at), text=ch)],
                )
            )
            line, column = (line + 1, 0) if ch == "\n" else (line, column + 1)
            started = time.perf_counter()
            answer = await client.text_document_inline_completion_async(
                lsp.InlineCompletionParams(
                    text_document=lsp.TextDocumentIdentifier(uri=uri),
                    position=lsp.Position(line=line, character=column),
                    context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
                )
            )
            latency = (time.perf_counter() - started) * 1000
            out.latencies.append(latency)
            status = await _status(client)
            if status["engine"] != "ready":
                out.down += 1
            if status["requests"] == requests:  # no engine request: the rest of the prediction typed through
                (out.reused if answer is not None else out.unanswered).append(latency)
                continue
            requests = status["requests"]
            out.asked.append(latency)
            if status["cacheRatio"] is not None:
                out.ratios.append(status["cacheRatio"])
                out.per_file.setdefault(name, []).append(status["cacheRatio"])
    return out


async def main(engine: str, max_tokens: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "workspace"
        shutil.copytree(WORKSPACE, root)
        client = LanguageClient("bench", "0")
        await client.start_io(sys.executable, "-m", "kimi_lsp", "--engine", engine)
        await client.initialize_async(
            lsp.InitializeParams(
                capabilities=lsp.ClientCapabilities(),
                root_uri=root.as_uri(),
                # a deadline far above the CPU engine's latency on a busy machine: measured, not cut off
                initialization_options={
                    "debounceMs": 0,
                    "model": {"maxTokens": max_tokens},
                    "engine": {"deadlineMs": 120_000},
                },
            )
        )
        client.initialized(lsp.InitializedParams())
        started = time.monotonic()
        while True:
            status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
            if status["engine"] == "ready":
                break
            if status["engine"] in ("off", "down") or time.monotonic() - started > 600:
                raise SystemExit(f"engine not ready: {status}")
            await asyncio.sleep(1)
        print(f"engine ready after {time.monotonic() - started:.1f} s: {status['message']}")
        run = await replay(client, root)
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    q = statistics.quantiles(run.latencies, n=100, method="inclusive")
    keystrokes = len(run.latencies)
    print(f"{keystrokes} keystrokes across {len(REPLAY)} files, max {max_tokens} new tokens")
    print(f"inline completion end to end: p50 {q[49]:.0f} ms, p95 {q[94]:.0f} ms, max {max(run.latencies):.0f} ms")
    print(
        f"engine requests per keystroke: {len(run.asked) / keystrokes:.2f} ({len(run.asked)} requests, "
        f"{len(run.reused)} keystrokes answered from the prediction typed through, {len(run.unanswered)} with no"
        f" request and no suggestion; the engine was down after {run.down})"
    )
    for kind, values in (("with an engine request", run.asked), ("reused, no engine request", run.reused)):
        if values:
            print(f"  {kind:<26} p50 {statistics.median(values):6.1f} ms, max {max(values):6.1f} ms")
    print(f"cached_tokens/prompt_tokens: median {statistics.median(run.ratios):.3f} over {len(run.ratios)} requests")
    for name, values in run.per_file.items():
        print(f"  {name:<18} median {statistics.median(values):.3f}  first request {values[0]:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="embedded")
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main(args.engine, args.max_tokens))
