"""Soak: a typing replay across 20 files for minutes on end, watching the server's memory and latency.

    python bench/soak.py [--minutes 10] [--engine scripted|URL|embedded] [--delay-ms 10] [--warmup-minutes 1]

The server (`python -m kimi_lsp` over stdio) gets a workspace of 20 Python files, all opened as an editor
with 20 tabs would. Then, until the time is up, it is typed at like a person would: in one file after another,
a line is typed character by character into a function body (a didChange per keystroke, an inline completion
request after each, a completion request at each `.`), then deleted again, so the documents keep their size
and memory growth means a leak. Every 30 s one file is closed and opened again.

The default engine is the scripted one (`--delay-ms` per 8-character chunk, like a model decoding); `--engine
URL` or `embedded` uses a real one. Printed: resident memory of the server process every 10 s, its growth
after the warm-up, and p50/p99 latency of inline completion (the client's round trip) for each minute.
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

import psutil
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

FILES = 20
LINE = "    total = compute(value.amount, 42) + offset  # step\n"
SAMPLE_S = 10.0
REOPEN_S = 30.0


def _module(n: int) -> str:
    """A Python file of about 200 lines: functions with bodies the replay types into."""
    parts = [f'"""Module {n} of the soak workspace."""\n\nimport os\n\n']
    for f in range(20):
        parts.append(
            f"def compute_{n}_{f}(value, offset):\n"
            f'    """Compute step {f}."""\n'
            "    total = 0\n"
            "    for item in range(10):\n"
            "        total += item\n"
            "    \n"
            "    return total\n\n\n"
        )
    return "".join(parts)


def _workspace(folder: Path) -> list[Path]:
    paths = []
    for n in range(FILES):
        path = folder / f"module_{n}.py"
        path.write_text(_module(n))
        paths.append(path)
    return paths


def _script(folder: Path, delay_ms: float) -> Path:
    script = folder / "engine.json"
    answer = "total = total + offset\n    return total\n"
    script.write_text(
        json.dumps({"responses": [{"contains": "", "text": answer, "delay_ms": delay_ms}], "default": answer})
    )
    return script


def _server_process(client: LanguageClient) -> psutil.Process:
    server = client._server  # the subprocess pygls started
    assert server is not None
    return psutil.Process(server.pid)


def _ignore(params: object) -> None:
    return None


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def soak(minutes: float, engine: str, delay_ms: float, warmup_minutes: float) -> None:
    with tempfile.TemporaryDirectory(prefix="kimi-soak-") as temp:
        folder = Path(temp)
        root = folder / "workspace"
        root.mkdir()
        paths = _workspace(root)
        if engine == "scripted":
            engine = f"scripted:{_script(folder, delay_ms)}"
        client = LanguageClient("soak", "0")

        @client.feature("window/workDoneProgress/create")
        def _progress(params: object) -> None:
            return None

        @client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
        def _register(params: object) -> None:
            return None

        for method in (lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, "kimi/status", lsp.WINDOW_LOG_MESSAGE, "$/progress"):
            client.feature(method)(_ignore)

        await client.start_io(sys.executable, "-m", "kimi_lsp", "--engine", engine)
        await client.initialize_async(
            lsp.InitializeParams(
                capabilities=lsp.ClientCapabilities(),
                root_uri=root.as_uri(),
                workspace_folders=[lsp.WorkspaceFolder(uri=root.as_uri(), name="soak")],
            )
        )
        client.initialized(lsp.InitializedParams())
        process = _server_process(client)
        texts = {path.as_uri(): path.read_text() for path in paths}
        versions = dict.fromkeys(texts, 1)
        for uri, text in texts.items():
            client.text_document_did_open(
                lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text))
            )
        uris = list(texts)
        started = time.monotonic()
        deadline = started + minutes * 60
        next_sample, next_reopen = started, started + REOPEN_S
        samples: list[tuple[float, int]] = []
        latencies: dict[int, list[float]] = {}
        answered = 0
        turn = 0
        print(f"soak: {minutes:g} min, {FILES} files, engine {engine.split(':')[0]}", flush=True)
        while time.monotonic() < deadline:
            uri = uris[turn % FILES]
            body_line = 5 + 9 * (turn % 20)  # the empty line in function `turn % 20`'s body
            turn += 1
            column = 4
            for char in LINE[4:]:
                versions[uri] += 1
                position = lsp.Position(line=body_line, character=column)
                client.text_document_did_change(
                    lsp.DidChangeTextDocumentParams(
                        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=versions[uri]),
                        content_changes=[
                            lsp.TextDocumentContentChangePartial(range=lsp.Range(position, position), text=char)
                        ],
                    )
                )
                column = 4 if char == "\n" else column + 1
                cursor = lsp.Position(line=body_line + (char == "\n"), character=column)
                asked = time.perf_counter()
                await client.text_document_inline_completion_async(
                    lsp.InlineCompletionParams(
                        text_document=lsp.TextDocumentIdentifier(uri=uri),
                        position=cursor,
                        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
                    )
                )
                minute = int((time.monotonic() - started) // 60)
                latencies.setdefault(minute, []).append((time.perf_counter() - asked) * 1000)
                answered += 1
                if char == ".":
                    await client.text_document_completion_async(
                        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=cursor)
                    )
                await asyncio.sleep(0.01)  # typing pace
                now = time.monotonic()
                if now >= next_reopen:
                    next_reopen = now + REOPEN_S
                    reopened = uris[(turn * 7) % FILES]
                    if reopened == uri:  # not the one being typed in (its text is mid-line)
                        reopened = uris[(turn * 7 + 1) % FILES]
                    client.text_document_did_close(
                        lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=reopened))
                    )
                    versions[reopened] += 1
                    client.text_document_did_open(
                        lsp.DidOpenTextDocumentParams(
                            lsp.TextDocumentItem(
                                uri=reopened, language_id="python", version=versions[reopened], text=texts[reopened]
                            )
                        )
                    )
                if now >= next_sample:
                    next_sample = now + SAMPLE_S
                    rss = process.memory_info().rss
                    samples.append((now - started, rss))
                    print(f"  t={now - started:6.0f} s  rss {rss / 2**20:7.1f} MB  requests {answered}", flush=True)
            versions[uri] += 1  # the typed line goes again: documents keep their size
            client.text_document_did_change(
                lsp.DidChangeTextDocumentParams(
                    text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=versions[uri]),
                    content_changes=[
                        lsp.TextDocumentContentChangePartial(
                            range=lsp.Range(lsp.Position(body_line, 4), lsp.Position(body_line + 1, 4)), text=""
                        )
                    ],
                )
            )
        status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    _report(samples, latencies, warmup_minutes * 60, answered, status)


def _report(
    samples: list[tuple[float, int]],
    latencies: dict[int, list[float]],
    warmup_s: float,
    answered: int,
    status: dict[str, object],
) -> None:
    print("\ninline completion latency per minute (client round trip):")
    for minute, values in sorted(latencies.items()):
        print(
            f"  minute {minute + 1}: {len(values):6d} requests  p50 {statistics.median(values):6.2f} ms"
            f"  p99 {_percentile(values, 0.99):7.2f} ms"
        )
    after = [rss for t, rss in samples if t >= warmup_s] or [samples[-1][1]]
    first, last = after[0], samples[-1][1]
    print(f"\nrequests: {answered}; engine: {status.get('engine')} ({status.get('requests', '?')} reached it)")
    print(f"rss: start {samples[0][1] / 2**20:.1f} MB, after warm-up ({warmup_s:.0f} s) {first / 2**20:.1f} MB,")
    print(f"     end {last / 2**20:.1f} MB, peak {max(r for _, r in samples) / 2**20:.1f} MB")
    print(f"growth after warm-up: {(last - first) / 2**20:+.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--engine", default="scripted", help="scripted (default), an SGLang URL, or embedded")
    parser.add_argument("--delay-ms", type=float, default=10.0, help="scripted engine: delay per chunk")
    parser.add_argument("--warmup-minutes", type=float, default=1.0)
    args = parser.parse_args()
    asyncio.run(soak(args.minutes, args.engine, args.delay_ms, args.warmup_minutes))


if __name__ == "__main__":
    main()
