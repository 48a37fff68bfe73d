"""Model review latency per function against the embedded engine (a real SGLang server on the CPU), and the
engine requests that saving an unchanged file again costs (target: 0).

Each Python file of the demo workspace (and one of kimi-lsp's own modules, copied in) is opened empty and then given its text, so every function in it is new
to the review, and saved: the review asks the engine once per function, one after the other, and pushes the
diagnostics after each. A function's latency is the time from the save (the first function) or the previous
publication to its publication. Then every file is saved again unchanged, and the engine requests that caused
are counted (`kimi.status`'s request count).

    python bench/review.py [--engine embedded|URL]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

REPO = Path(__file__).resolve().parents[1]
WORKSPACE = REPO / "kimi_lsp" / "demo" / "workspace"
EXTRA = ("kimi_lsp/selection.py",)  # copied in beside it
STALL_S = 180.0  # no publication this long: the review stopped
SETTLE_S = 5.0  # after the unchanged files are saved again: time for any request they would cause


async def _requests(client: LanguageClient) -> int:
    status: dict[str, Any] = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="kimi.status")
    )
    return int(status["requests"])


def _save(client: LanguageClient, uri: str) -> None:
    client.text_document_did_save(lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))


def _units(symbols: list[Any]) -> int:
    """The functions a review looks at in a documentSymbol outline: functions and methods, not those nested in
    one (kimi_lsp.review.units_of)."""
    kinds = (lsp.SymbolKind.Function, lsp.SymbolKind.Method, lsp.SymbolKind.Constructor)
    return sum(1 if s.kind in kinds else _units(list(s.children or ())) for s in symbols)


async def _reviewed(published: dict[str, list[float]], uri: str, functions: int) -> int:
    """Wait until the document's review has published once per function, or published nothing for STALL_S (a
    review stops at a request that fails); how many it published."""
    last = time.monotonic()
    while len(published[uri]) < functions:
        seen = len(published[uri])
        await asyncio.sleep(0.05)
        if len(published[uri]) > seen:
            last = time.monotonic()
        elif time.monotonic() - last > STALL_S:
            print(f"{uri}: the review stopped after {seen} of {functions} functions (a request failed)")
            break
    return len(published[uri])


async def main(engine: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "workspace"
        shutil.copytree(WORKSPACE, root)
        for name in EXTRA:
            shutil.copy(REPO / name, root / Path(name).name)
        client = LanguageClient("bench", "0")
        published: dict[str, list[float]] = {}

        @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_publish(params: lsp.PublishDiagnosticsParams) -> None:
            if any(d.source == "kimi" for d in params.diagnostics) or params.uri in published:
                published.setdefault(params.uri, []).append(time.perf_counter())

        await client.start_io(sys.executable, "-m", "kimi_lsp", "--engine", engine)
        await client.initialize_async(
            lsp.InitializeParams(
                capabilities=lsp.ClientCapabilities(),  # no pull support: diagnostics are pushed
                root_uri=root.as_uri(),
                # a deadline far above a whole review's time on the CPU engine of a busy machine: measured, not cut
                initialization_options={"review": {"idleMs": 3_600_000}, "engine": {"deadlineMs": 900_000}},
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

        latencies: list[float] = []
        files = sorted(p for p in root.rglob("*.py") if p.stat().st_size > 0)
        for path in files:
            uri = path.as_uri()
            client.text_document_did_open(
                lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=""))
            )
            client.text_document_did_change(
                lsp.DidChangeTextDocumentParams(
                    text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
                    content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=path.read_text())],
                )
            )
            outline = await client.text_document_document_symbol_async(
                lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
            )
            functions = _units(list(outline or ()))
            published[uri] = []
            saved = time.perf_counter()
            _save(client, uri)
            done = await _reviewed(published, uri, functions)
            times = [saved, *published[uri][:done]]
            latencies.extend((b - a) * 1000 for a, b in itertools.pairwise(times))
            print(f"{path.relative_to(root)}: {done} of {functions} functions reviewed")

        before = await _requests(client)
        for path in files:
            _save(client, path.as_uri())
        await asyncio.sleep(SETTLE_S)
        again = await _requests(client) - before

        latencies.sort()
        p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
        print(
            f"review latency per function over {len(latencies)} functions in {len(files)} files: "
            f"p50 {statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms, max {latencies[-1]:.0f} ms"
        )
        print(f"engine requests when the {len(files)} unchanged files were saved again: {again}")
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="embedded")
    args = parser.parse_args()
    asyncio.run(main(args.engine))
