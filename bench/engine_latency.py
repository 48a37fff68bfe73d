"""End-to-end inline completion latency against the embedded engine (a real SGLang server on the CPU),
replaying typing: one didChange per keystroke and an inline completion request after each, across 3 files.
Prints p50/p95 latency and the median cached_tokens/prompt_tokens the engine reported per request.

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
from pathlib import Path

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


async def replay(client: LanguageClient, root: Path) -> tuple[list[float], list[float], dict[str, list[float]]]:
    latencies: list[float] = []
    ratios: list[float] = []
    per_file: dict[str, list[float]] = {}
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
            await client.text_document_inline_completion_async(
                lsp.InlineCompletionParams(
                    text_document=lsp.TextDocumentIdentifier(uri=uri),
                    position=lsp.Position(line=line, character=column),
                    context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
                )
            )
            latencies.append((time.perf_counter() - started) * 1000)
            status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
            if status["cacheRatio"] is not None:
                ratios.append(status["cacheRatio"])
                per_file.setdefault(name, []).append(status["cacheRatio"])
    return latencies, ratios, per_file


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
                initialization_options={"debounceMs": 0, "model": {"maxTokens": max_tokens}},
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
        latencies, ratios, per_file = await replay(client, root)
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    print(f"{len(latencies)} keystrokes across {len(REPLAY)} files, max {max_tokens} new tokens")
    print(f"inline completion end to end: p50 {q[49]:.0f} ms, p95 {q[94]:.0f} ms, max {max(latencies):.0f} ms")
    print(f"cached_tokens/prompt_tokens: median {statistics.median(ratios):.3f} over {len(ratios)} requests")
    for name, values in per_file.items():
        print(f"  {name:<18} median {statistics.median(values):.3f}  first request {values[0]:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="embedded")
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main(args.engine, args.max_tokens))
