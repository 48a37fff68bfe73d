"""Does the prompt hold the definition a hidden line needs? Cross-file context recall on any repository.

    python bench/context_recall.py REPO [--samples 300] [--seed 1] [--exclude GLOB ...]

(`--exclude`: gitignore-style globs left out of the workspace, as the `exclude` setting; e.g. the standard
library without its site-packages: `python bench/context_recall.py /usr/lib/python3.11 --exclude site-packages/`)

Samples lines (stratified over files: round robin, shuffled with the seed) that use a name the file imports
from another workspace file, where that name has a single top-level definition (def, class or assignment) in
that file. For each, opens the file in the real server with that line's text removed (indentation kept, cursor
after it), asks for an inline completion against a recording engine, and counts a hit when the definition's
first line is in the prompt (compared without its trailing `:` or `{` and with runs of spaces as one, as
signatures are shown). The same run reports three contexts:
- kimi-lsp: this server's cross-file context (default budgets);
- current file only: the same server with `context.crossFileTokens` = 0;
- import outlines: the context before it - outlines of the first 8 imported files by path, cut at 3,000
  characters at the first one that does not fit - added to the current-file-only prompt (computed here).
Also reports the cross-file tokens used (p50/p95, estimated) and how long building the context takes in
process (p50/p95 ms; each one a full build, as when a document is opened or its context is 2 s old).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

from kimi_lsp.index.languages import spec_for_path
from kimi_lsp.index.model import Outline
from kimi_lsp.index.workspace import IndexSettings, WorkspaceIndex
from kimi_lsp.prompt import context
from kimi_lsp.prompt.context import Budget
from kimi_lsp.prompt.templates import template_for
from kimi_lsp.prompt.tokens import Estimate
from kimi_lsp.snapshot import DocumentSnapshot
from kimi_lsp.workspace_context import WorkspaceContext

_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")
_TOP_KINDS = frozenset({"function", "class", "constant", "variable", "type", "struct", "interface", "enum"})


@dataclass(slots=True, frozen=True)
class Sample:
    path: str
    line: int
    name: str
    definition: str  # the definition's first line, normalised


def normalised(line: str) -> str:
    return re.sub(r"\s+", " ", line.strip().rstrip(":{").strip())


def single_top_level(outline: Outline) -> dict[str, int]:
    """name -> first line of each name defined exactly once at the top level."""
    counts: dict[str, list[int]] = {}
    for d in outline.definitions:
        if d.parent == -1 and d.kind in _TOP_KINDS:
            counts.setdefault(d.name, []).append(d.span.start_line)
    return {name: lines[0] for name, lines in counts.items() if len(lines) == 1}


@functools.cache
def _lines(path: str) -> list[str]:
    """The file's lines as the outline's rows count them: ended by "\n" alone (tree-sitter's rows; a form feed
    or a lone "\r" does not end a line there, as it would for str.splitlines)."""
    return Path(path).read_text("utf-8", "replace").split("\n")


def candidates_in(index: WorkspaceIndex, path: str, outlines: dict[str, Outline | None]) -> Iterator[Sample]:
    """Every (line, imported name) of `path` worth hiding. `outlines`: a memo of decoded outlines."""
    lines = _lines(path)
    imports = index.imports_of(path)
    import_lines = {r.ref.line for r in imports}
    defined: dict[str, tuple[str, int]] = {}
    for resolved in imports:
        for target in resolved.targets:
            if target not in outlines:
                outlines[target] = index.outline(target)
            outline = outlines[target] if target != path else None
            if outline is None:
                continue
            for name, line in single_top_level(outline).items():
                defined.setdefault(name, (target, line))
    in_import = False  # inside the parentheses of a multi-line import
    for number, line in enumerate(lines):
        stripped = line.lstrip()
        if in_import or stripped.startswith(("import ", "from ")):
            in_import = (in_import or "(" in line) and ")" not in line
            continue
        if number in import_lines or not stripped or stripped.startswith(("#", "//")):
            continue
        for name in dict.fromkeys(_IDENTIFIER.findall(line)):
            if name in defined and f'"{name}"' not in line and f"'{name}'" not in line:  # not `__all__` entries
                target, at = defined[name]
                target_lines = _lines(target)
                if at < len(target_lines) and normalised(target_lines[at]):
                    yield Sample(path, number, name, normalised(target_lines[at]))
                break


def stratified(per_file: dict[str, list[Sample]], count: int, seed: int) -> list[Sample]:
    rng = random.Random(seed)
    pools = [rng.sample(samples, len(samples)) for samples in per_file.values() if samples]
    rng.shuffle(pools)
    chosen: list[Sample] = []
    while pools and len(chosen) < count:
        pools = [p for p in pools if p]
        for pool in pools:
            if len(chosen) < count:
                chosen.append(pool.pop())
    return chosen


def hidden(sample: Sample) -> tuple[str, int]:
    """The file's text with the sample's line emptied (its indentation kept) and the cursor column."""
    lines = _lines(sample.path)
    indent = lines[sample.line][: len(lines[sample.line]) - len(lines[sample.line].lstrip())]
    lines[sample.line] = indent
    return "\n".join(lines), len(indent)


def nested_outline(outline: Outline, max_lines: int = 40) -> str:
    """The previous context's rendering of a file: every definition's signature, indented as nested, 40 lines."""
    lines: list[str] = []
    depth: list[int] = []
    for definition in outline.definitions:
        level = depth[definition.parent] + 1 if 0 <= definition.parent < len(depth) else 0
        depth.append(level)
        lines.append("    " * level + (definition.signature.strip() or definition.name))
        if len(lines) >= max_lines:
            break
    return "\n".join(lines)


def import_outlines(index: WorkspaceIndex, sample: Sample) -> str:
    """The context before this one: outlines of the first 8 imported files by path, cut at 3,000 characters."""
    targets = sorted({t for r in index.imports_of(sample.path) for t in r.targets if t != sample.path})
    shown, spent = [], 0
    for target in targets[:8]:
        outline = index.outline(target)
        text = nested_outline(outline) if outline is not None and outline.definitions else ""
        if not text:
            continue
        if spent + len(text) > 3000:
            break
        shown.append(text)
        spent += len(text)
    return "\n".join(shown)


class Recorder:
    def __init__(self, record: Path) -> None:
        self.record = record
        self.seen = 0

    def next_prompt(self) -> str | None:
        rows = self.record.read_text().splitlines() if self.record.exists() else []
        requests = [json.loads(r) for r in rows[self.seen :]]
        self.seen = len(rows)
        prompts = [r["prompt"] for r in requests if r.get("event") == "request"]
        return prompts[-1] if prompts else None


async def start_server(repo: str, tmp: Path, settings: dict[str, Any], name: str) -> tuple[LanguageClient, Recorder]:
    record = tmp / f"{name}.jsonl"
    script = tmp / f"{name}.json"
    script.write_text(json.dumps({"responses": [], "default": "x", "record": str(record)}))
    client = LanguageClient("recall", "0")
    indexed = asyncio.Event()

    @client.feature(lsp.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def create(params: lsp.WorkDoneProgressCreateParams) -> None:
        return None

    @client.feature(lsp.PROGRESS)
    def progress(params: lsp.ProgressParams) -> None:
        if getattr(params.value, "kind", None) == "end" or (
            isinstance(params.value, dict) and params.value.get("kind") == "end"
        ):
            indexed.set()

    for method in (lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, "kimi/status", lsp.WINDOW_LOG_MESSAGE):
        client.feature(method)(lambda params: None)
    await client.start_io(sys.executable, "-m", "kimi_lsp", "--engine", f"scripted:{script}")
    caps = lsp.ClientCapabilities(window=lsp.WindowClientCapabilities(work_done_progress=True))
    root = Path(repo).as_uri()
    await client.initialize_async(
        lsp.InitializeParams(
            capabilities=caps,
            root_uri=root,
            workspace_folders=[lsp.WorkspaceFolder(uri=root, name="repo")],
            # one suggestion: each sample's prompt is recorded once (no alternatives' request)
            initialization_options={
                "debounceMs": 0,
                **settings,
                "model": {"suggestions": 1, **settings.get("model", {})},
            },
        )
    )
    client.initialized(lsp.InitializedParams())
    await asyncio.wait_for(indexed.wait(), timeout=600)
    return client, Recorder(record)


async def prompt_for(client: LanguageClient, recorder: Recorder, sample: Sample) -> str:
    text, column = hidden(sample)
    uri = Path(sample.path).as_uri()
    language = spec.name if (spec := spec_for_path(sample.path)) is not None else ""
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, language, 1, text)))
    await client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=lsp.Position(line=sample.line, character=column),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
        )
    )
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(lsp.TextDocumentIdentifier(uri=uri)))
    return recorder.next_prompt() or ""


def hit(prompt: str, sample: Sample) -> bool:
    return sample.definition in re.sub(r"\s+", " ", prompt)


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def main(repo: str, count: int, seed: int, exclude: tuple[str, ...]) -> None:
    repo = str(Path(repo).resolve())
    index = WorkspaceIndex([repo], IndexSettings(exclude=exclude, cache_path=":memory:"))
    await index.start()
    outlines: dict[str, Outline | None] = {}
    per_file = {path: list(candidates_in(index, path, outlines)) for path in sorted(index.files)}
    samples = stratified(per_file, count, seed)
    files = len({s.path for s in samples})
    print(f"{repo}: {len(index.files)} files indexed, {len(samples)} lines sampled from {files} files")
    build_ms, tokens = [], []
    template, budget, counter = template_for("kimi-tiny"), Budget(), Estimate()
    workspace = WorkspaceContext()  # one for the run, as in the server (it keeps decoded outlines)
    for sample in samples:
        text, column = hidden(sample)
        offset = sum(len(line) + 1 for line in text.split("\n")[: sample.line]) + column
        uri = Path(sample.path).as_uri()
        index.did_open(uri, text, 1, None)
        snapshot = DocumentSnapshot(uri, "", 1, text, offset)
        started = time.perf_counter()
        workspace.forget(uri)  # no reuse of the last answer: every build is a full one
        snippets = workspace.snippets(snapshot, template, budget, index, counter)
        context.build(snapshot, template, snippets, budget)
        build_ms.append((time.perf_counter() - started) * 1000)
        tokens.append(sum(counter.count(s.path) + counter.count(s.text) + 4 for s in snippets))
        index.did_close(uri)
    with tempfile.TemporaryDirectory() as tmp:
        hits = {"kimi-lsp": 0, "current file only": 0, "import outlines": 0}
        excluded = {"exclude": list(exclude)}
        ours, ours_recorder = await start_server(repo, Path(tmp), excluded, "ours")
        alone, alone_recorder = await start_server(
            repo, Path(tmp), {**excluded, "context": {"crossFileTokens": 0}}, "alone"
        )
        for sample in samples:
            with_context = await prompt_for(ours, ours_recorder, sample)
            without = await prompt_for(alone, alone_recorder, sample)
            hits["kimi-lsp"] += hit(with_context, sample)
            hits["current file only"] += hit(without, sample)
            hits["import outlines"] += hit(import_outlines(index, sample) + "\n" + without, sample)
        for client in (ours, alone):
            await client.shutdown_async(None)
            client.exit(None)
            await client.stop()
    await index.close()
    print(f"{'context':<20} {'recall':>7}")
    for name, found in hits.items():
        print(f"{name:<20} {found / max(1, len(samples)):7.3f}")
    print(
        f"cross-file tokens (estimated): p50 {percentile(tokens, 50):.0f}, p95 {percentile(tokens, 95):.0f}, "
        f"budget {budget.cross_file_tokens}"
    )
    print(f"context build in process: p50 {percentile(build_ms, 50):.2f} ms, p95 {percentile(build_ms, 95):.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    args = parser.parse_args()
    asyncio.run(main(args.repo, args.samples, args.seed, tuple(args.exclude)))
