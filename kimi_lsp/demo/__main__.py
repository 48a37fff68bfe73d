"""`python -m kimi_lsp.demo [--engine embedded|URL|none]`: a short scripted editing session.

Copies the sample workspace to a temporary folder, starts `kimi-lsp` over stdio with a real LSP client,
waits for the engine, then types into shop/cart.py the way an editor would (one didChange per keystroke,
an inline completion request after each), asks for completions, breaks the syntax and applies the quick fix.
Prints what an editor would show, with per-request latency and the engine's cached/prompt token ratio; opens
with what the session shows and what the tiny model is, and closes with the figures and how to point the same
server at a real engine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

WORKSPACE = Path(__file__).resolve().parent / "workspace"
TYPED = "    def total(self) -> Money:\n        "

INTRO = """\
kimi-lsp demo: the language server driven as an editor drives it, over stdio with a real LSP client.
  1. typing into a file: one didChange per keystroke and an inline completion (ghost text) request after
     each, with the request's round trip ("ms") and the engine's KV-cache reuse ("cache": cached / prompt
     tokens of that request; near 1.00 means the keystroke reused the prefix the previous one computed);
  2. completion after `self.` from the workspace index; 3. syntax diagnostics; 4. a model quick fix."""


def tiny_model_facts() -> str:
    """What kimi-tiny is, from its files (parameters from the safetensors header, no torch needed)."""
    try:
        from kimi_engine.launch import TINY_MODEL_DIR
    except ImportError:
        return ""
    weights = TINY_MODEL_DIR / "model.safetensors"
    try:
        config = json.loads((TINY_MODEL_DIR / "config.json").read_text())
        with weights.open("rb") as f:
            header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        exact = json.loads((TINY_MODEL_DIR / "eval.json").read_text())["model, as served"]["next_line_exact"]
    except (OSError, ValueError, KeyError):
        return ""
    params = sum(_numel(t["shape"]) for name, t in header.items() if name != "__metadata__")
    return (
        f"  The model is kimi-tiny, trained for this project so the whole path runs on a CPU: a "
        f"{params / 1e6:.1f} M-parameter\n  MoE ({config['num_local_experts']} experts, "
        f"{config['num_experts_per_tok']} active per token, {config['num_hidden_layers']} layers; "
        f"{weights.stat().st_size / 1e6:.0f} MB). Its code is rough: about {exact:.0%} of its next lines\n"
        "  match held-out code exactly (engine/models/kimi-tiny/eval.json). Watch the latency and the cache "
        "ratio,\n  not the quality of the ghost text."
    )


def _numel(shape: list[int]) -> int:
    n = 1
    for dim in shape:
        n *= dim
    return n


def outro(engine: str, latencies: list[float], ratios: list[float]) -> str:
    lines = ["\n== summary =="]
    if latencies:
        lines.append(
            f"  {len(latencies)} ghost-text requests: median {statistics.median(latencies):.1f} ms, "
            f"slowest {max(latencies):.1f} ms (the engine: {engine})"
        )
    if ratios:
        lines.append(
            f"  KV-cache reuse: mean {statistics.fmean(ratios):.2f} of each prompt's tokens were cached "
            f"(last {ratios[-1]:.2f})"
        )
    lines += [
        "  A real engine: serve a code model with SGLang on a GPU host (docs/engine.md has the profiles, from",
        "  one GPU to Kimi K2 on 16 H200s) and point this same server at it, whichever way suits the editor:",
        "    kimi-lsp --engine http://gpu-host:30000",
        "    export KIMI_LSP_ENGINE_URL=http://gpu-host:30000 KIMI_LSP_PROFILE=qwen2.5-coder",
        "    ~/.config/kimi-lsp/config.toml: [engine] url = ...  [model] profile = ...",
        "    or the editor's engine.url / model.profile settings (docs/configuration.md)",
        "  then `kimi-lsp --print-config` shows what it will use; this demo with it: "
        "python -m kimi_lsp.demo --engine URL",
    ]
    return "\n".join(lines)


class DemoClient(LanguageClient):
    def __init__(self) -> None:
        super().__init__("kimi-demo", "0")
        self.diagnostics: dict[str, list[lsp.Diagnostic]] = {}

        @self.feature("kimi/status")
        def on_status(params: Any) -> None:
            return None  # the session asks kimi.status when it wants the figures

        @self.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: lsp.PublishDiagnosticsParams) -> None:
            self.diagnostics[params.uri] = list(params.diagnostics)

        @self.feature(lsp.WINDOW_SHOW_MESSAGE)
        def on_message(params: lsp.ShowMessageParams) -> None:
            print(f"  [message] {params.message}")


async def ratio(client: DemoClient) -> str:
    """The engine's cached_tokens / prompt_tokens for the last generation, as kimi.status reports it."""
    status: dict[str, Any] = (
        await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status")) or {}
    )
    value = status.get("cacheRatio")
    return "-" if value is None else f"{value:.2f}"


async def timed(awaitable: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = await awaitable
    return result, (time.perf_counter() - started) * 1000


async def wait_for_engine(client: DemoClient, limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        status: dict[str, Any] = (
            await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status")) or {}
        )
        if status["engine"] in ("ready", "off", "down"):
            print(f"  engine {status['engine']}: {status['message']}")
            return bool(status["engine"] == "ready")
        await asyncio.sleep(1.0)
    return False


async def session(client: DemoClient, root: Path) -> tuple[list[float], list[float]]:
    """The editing session; returns the ghost-text requests' latencies (ms) and cache ratios."""
    latencies: list[float] = []
    ratios: list[float] = []
    path = root / "shop" / "cart.py"
    uri, text, version = path.as_uri(), path.read_text(), 1
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=uri, language_id="python", version=version, text=text))
    )
    lines = text.splitlines()
    line = len(lines)
    print(f"\n== typing into shop/cart.py (line {line + 1}), one request per keystroke ==")
    column = 0
    for ch in TYPED:
        version += 1
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    lsp.TextDocumentContentChangePartial(
                        range=lsp.Range(
                            start=lsp.Position(line=line, character=column),
                            end=lsp.Position(line=line, character=column),
                        ),
                        text=ch,
                    )
                ],
            )
        )
        line, column = (line + 1, 0) if ch == "\n" else (line, column + 1)
        result, ms = await timed(
            client.text_document_inline_completion_async(
                lsp.InlineCompletionParams(
                    text_document=lsp.TextDocumentIdentifier(uri=uri),
                    position=lsp.Position(line=line, character=column),
                    context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
                )
            )
        )
        items = result.items if isinstance(result, lsp.InlineCompletionList) else (result or [])
        ghost = items[0].insert_text if items else ""
        shown = str(ghost).replace("\n", "\\n")[:60]
        cache = await ratio(client)
        latencies.append(ms)
        if cache != "-":
            ratios.append(float(cache))
        print(f"  typed {ch!r:6} {ms:7.1f} ms  cache {cache:>4}  ghost: {shown}")
    print("\n== completion after 'self.' ==")
    version += 1
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(
                        start=lsp.Position(line=line, character=column), end=lsp.Position(line=line, character=column)
                    ),
                    text="return sum((l.total() for l in self.",
                )
            ],
        )
    )
    column += len("return sum((l.total() for l in self.")
    completions, ms = await timed(
        client.text_document_completion_async(
            lsp.CompletionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=line, character=column)
            )
        )
    )
    labels = [item.label for item in (completions.items if isinstance(completions, lsp.CompletionList) else [])]
    print(f"  {ms:7.1f} ms  {len(labels)} items: {', '.join(labels[:10])}")
    await diagnostics_and_fix(client, uri, version, line, column)
    return latencies, ratios


async def diagnostics_and_fix(client: DemoClient, uri: str, version: int, line: int, column: int) -> None:
    print("\n== diagnostics (the line is unfinished: an unclosed parenthesis) ==")
    report, ms = await timed(
        client.text_document_diagnostic_async(
            lsp.DocumentDiagnosticParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
        )
    )
    found = list(report.items) if isinstance(report, lsp.RelatedFullDocumentDiagnosticReport) else []
    for d in found:
        print(f"  {ms:7.1f} ms  line {d.range.start.line + 1}: {d.message}")
    if not found:
        print("  none")
        return
    print("\n== code actions ==")
    actions, ms = await timed(
        client.text_document_code_action_async(
            lsp.CodeActionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                range=found[0].range,
                context=lsp.CodeActionContext(diagnostics=found),
            )
        )
    )
    for action in actions or []:
        print(f"  {ms:7.1f} ms  {action.title}")
        if isinstance(action, lsp.CodeAction):
            resolved, ms = await timed(client.code_action_resolve_async(action))
            edits = (resolved.edit.changes or {}).get(uri, []) if resolved.edit else []
            for edit in edits:
                print(
                    f"  {ms:7.1f} ms  resolved: replace lines {edit.range.start.line + 1}-{edit.range.end.line} "
                    f"with {edit.new_text.strip()!r}"
                )
            if not edits:
                print(f"  {ms:7.1f} ms  resolved: the model found no fix that parses")


async def main(engine: str, wait_s: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "workspace"
        shutil.copytree(WORKSPACE, root)
        client = DemoClient()
        await client.start_io(sys.executable, "-m", "kimi_lsp", "--engine", engine)
        caps = lsp.ClientCapabilities(
            window=lsp.WindowClientCapabilities(work_done_progress=False),
            text_document=lsp.TextDocumentClientCapabilities(diagnostic=lsp.DiagnosticClientCapabilities()),
        )
        await client.initialize_async(
            lsp.InitializeParams(
                capabilities=caps,
                root_uri=root.as_uri(),
                initialization_options={"debounceMs": 0, "model": {"maxTokens": 16}},
                workspace_folders=[lsp.WorkspaceFolder(uri=root.as_uri(), name="workspace")],
            )
        )
        client.initialized(lsp.InitializedParams())
        print(INTRO)
        facts = tiny_model_facts() if engine == "embedded" else ""
        if facts:
            print(facts)
        print(f"\nengine {engine}; waiting up to {wait_s:.0f} s for it")
        started = time.monotonic()
        if await wait_for_engine(client, wait_s):
            print(f"  engine ready after {time.monotonic() - started:.1f} s")
        else:
            print("  engine not available: index-only features")
        try:
            latencies, ratios = await session(client, root)
        finally:
            await client.shutdown_async(None)
            client.exit(None)
            await client.stop()
        print(outro(engine, latencies, ratios))
        print("\nshut down cleanly")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="kimi-lsp demo")
    parser.add_argument("--engine", default="embedded")
    parser.add_argument("--wait", type=float, default=600.0, help="seconds to wait for the engine")
    args = parser.parse_args()
    logging.getLogger("pygls").setLevel(logging.ERROR)  # client-side protocol chatter
    asyncio.run(main(args.engine, args.wait))
