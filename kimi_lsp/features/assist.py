"""The model's help on request: "Generate unit tests" (a code action), "Explain this code" and "Rewrite
selection" (workspace/executeCommand), and work-done progress for whatever the model is slow to write.

Generate unit tests (`refactor`, listed instantly for the innermost function or method around the range's start
in Python, Go, JavaScript or TypeScript, to clients that can create files; resolved lazily): the test file goes
where the project keeps its tests, named as it names them, in its framework (testgen.py reads both from the
index's paths and the existing tests' texts). The model continues the file's start (imports, the first test's
opening) after the document up to the function. The edit is a `CreateFile` and an insertion into it, or, when the
test file exists, an insertion at its end (without the imports it already has). The test file must lie inside
the workspace folders, like every edit.

Explain (`kimi.explain`, arguments: the document URI and a range; also listed as a code action for a non-empty
range, so that every editor reaches it) answers with the explanation and shows it with `window/showMessage` (and
`window/logMessage`, which keeps it): the one delivery VS Code, Neovim and JetBrains all show with no code of
their own. Rewrite (`kimi.rewrite`, arguments: the URI, a range, the instruction) replaces the range's whole lines
with the model's through `workspace/applyEdit`, unless the document changed while the model wrote (then the user
is told, and nothing is applied); it answers `{"applied": bool}`.

Everything goes through the pipeline (`Pipeline.ask`): a secret or excluded file gets no request, credentials
are scrubbed, cross-file context comes along. `slowly` shows work-done progress once the model takes longer than
`PROGRESS_AFTER_S`; cancelling the request (`$/cancelRequest`) cancels the model's request with it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

from lsprotocol import types as lsp

from .. import selection, testgen
from ..convert import line_range
from ..index.documents import uri_to_path
from ..prompt.render import comment_for
from ..review import FUNCTION_KINDS, document_lines
from ..snapshot import DocumentSnapshot, line_starts, units
from ..workspace_context import shown_path

if TYPE_CHECKING:
    from ..index.model import Definition
    from ..server import KimiLanguageServer

T = TypeVar("T")
TESTS = "unit-tests"  # action.data["kimi"]
TESTS_TITLE = "Generate unit tests with Kimi"
EXPLAIN_TITLE = "Explain this code with Kimi"
EXPLAIN, REWRITE = "kimi.explain", "kimi.rewrite"
TESTS_MAX_TOKENS = 384
PROGRESS_AFTER_S = 0.3
SAMPLE_CHARS = 16_384  # of each existing test file read to tell the framework


async def slowly(ls: KimiLanguageServer, title: str, work: Awaitable[T]) -> T:
    """`work`'s result; after PROGRESS_AFTER_S without one, shown as work-done progress titled `title` until it
    comes. Cancelling the caller cancels `work`."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.wait({task}, timeout=PROGRESS_AFTER_S)
        if task.done():
            return task.result()
        async with ls.with_progress(title):
            return await task
    finally:
        task.cancel()  # done: nothing happens; the caller was cancelled: so is the model's request


# Generate unit tests


def actions(ls: KimiLanguageServer, uri: str, selected: lsp.Range) -> list[lsp.CodeAction]:
    """The actions of this module for `selected` (instant: no model call)."""
    out: list[lsp.CodeAction] = []
    document = ls.workspace.text_documents.get(unquote(uri))
    if document is None:
        return out
    version = document.version or 0
    if _function_at(ls, uri, version, selected.start.line) is not None and _creates_files(ls):
        out.append(
            lsp.CodeAction(
                title=TESTS_TITLE,
                kind=lsp.CodeActionKind.Refactor,
                data={"kimi": TESTS, "uri": uri, "version": version, "line": selected.start.line},
            )
        )
    if selected.start != selected.end:
        where: dict[str, object] = {
            "start": {"line": selected.start.line, "character": selected.start.character},
            "end": {"line": selected.end.line, "character": selected.end.character},
        }
        out.append(
            lsp.CodeAction(
                title=EXPLAIN_TITLE, command=lsp.Command(title=EXPLAIN_TITLE, command=EXPLAIN, arguments=[uri, where])
            )
        )
    return out


def _edit_capabilities(ls: KimiLanguageServer) -> lsp.WorkspaceEditClientCapabilities | None:
    workspace = ls.client_capabilities.workspace
    return workspace.workspace_edit if workspace is not None else None


def _versioned_edits(ls: KimiLanguageServer) -> bool:
    """Whether the client applies a WorkspaceEdit's documentChanges: it says so, or it takes resource operations,
    which only documentChanges carry (Neovim says only that)."""
    edit = _edit_capabilities(ls)
    return edit is not None and (bool(edit.document_changes) or bool(edit.resource_operations))


def _creates_files(ls: KimiLanguageServer) -> bool:
    """Whether the client applies a WorkspaceEdit that creates a file."""
    edit = _edit_capabilities(ls)
    return edit is not None and lsp.ResourceOperationKind.Create in (edit.resource_operations or ())


def _function_at(ls: KimiLanguageServer, uri: str, version: int, line: int) -> tuple[Definition, str] | None:
    """The innermost function or method around `line` of the document at `version`, and its language, when
    tests can be generated for it."""
    parsed = ls.parsed(uri, version)
    if parsed is None or ls.index is None or parsed.spec.name not in testgen.LANGUAGES:
        return None
    outline = ls.index.documents.outline(uri)
    around = [
        d
        for d in (outline.definitions if outline is not None else ())
        if d.kind in FUNCTION_KINDS and d.span.start_line <= line <= d.span.end_line
    ]
    if not around or testgen.is_test_file(uri_to_path(uri)):
        return None
    return max(around, key=lambda d: d.span.start_line), parsed.spec.name


async def resolve_tests(ls: KimiLanguageServer, action: lsp.CodeAction) -> lsp.CodeAction:
    """The edit of "Generate unit tests" (module docstring); none, with a message, when the document moved on,
    the function is gone, the test file would lie outside the workspace folders, or the model wrote nothing."""
    from .code_actions import editable, roots

    data: Any = action.data
    uri = str(data["uri"])
    document = ls.document(uri)
    version, text = document.version or 0, document.source
    if version != int(data["version"]):
        ls.tell("the document changed since this action was offered: ask for the action again", "info")
        return action
    found = _function_at(ls, uri, version, int(data["line"]))
    if found is None or ls.index is None:
        ls.tell("there is no function to test here any more", "info")
        return action
    definition, language = found
    source = uri_to_path(uri)
    layout = testgen.test_layout(source, language, ls.index.roots, ls.index.files)
    if layout is None:
        return action
    test_uri = Path(layout.path).as_uri()
    if not editable(test_uri, roots(ls)):
        ls.tell(f"the test file {layout.path} would lie outside the workspace folders", "warning")
        return action
    samples = await asyncio.to_thread(_read_all, layout.samples)
    tests = testgen.framework(language, samples)
    if language == "python":
        module = testgen.python_module(source, ls.index.resolver().python_bases)
    else:
        module = testgen.js_specifier(layout.path, source)
    start = testgen.header(language, tests, definition.name, source, text, module)
    lines, starts = document_lines(text), line_starts(text)
    last = min(definition.span.end_line, len(lines) - 1)
    snapshot = DocumentSnapshot(uri, document.language_id or "", version, text, starts[last] + len(lines[last]))
    answer = await ls.pipeline.ask(
        snapshot,
        ls.settings,
        ls.index,
        key=f"{uri}#tests",
        task=testgen.tests_task(
            definition.name, tests, shown_path(ls.index, layout.path), comment_for(language), start
        ),
        max_tokens=TESTS_MAX_TOKENS,
    )
    if not answer or not answer.strip():
        ls.tell("the model wrote no tests", "info")
        return action
    if ls.document_version(uri) != version:
        ls.tell("the document changed while the model wrote: ask for the action again", "info")
        return action
    action.edit = await _test_file_edit(ls, test_uri, layout.path, testgen.test_file_text(start, answer))
    return action


def _read_all(paths: Sequence[str]) -> list[str]:
    texts: list[str] = []
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as file:
                texts.append(file.read(SAMPLE_CHARS))
        except OSError:
            continue
    return texts


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as file:
            return file.read()
    except FileNotFoundError:
        return None


async def _test_file_edit(ls: KimiLanguageServer, test_uri: str, path: str, content: str) -> lsp.WorkspaceEdit:
    """A new test file with `content`, or `content` appended to the test file there (open, or on disk)."""
    open_document = ls.workspace.text_documents.get(unquote(test_uri))
    existing = open_document.source if open_document is not None else await asyncio.to_thread(_read, path)
    if existing is None:
        return lsp.WorkspaceEdit(
            document_changes=[
                lsp.CreateFile(uri=test_uri, options=lsp.CreateFileOptions(ignore_if_exists=True)),
                lsp.TextDocumentEdit(
                    text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=test_uri, version=None),
                    edits=[lsp.TextEdit(range=lsp.Range(start=_at(0, 0), end=_at(0, 0)), new_text=content)],
                ),
            ]
        )
    newline = "\r\n" if "\r\n" in existing else "\n"
    lines = document_lines(existing)
    end = _at(len(lines) - 1, units(lines[-1], ls.encoding))
    version = (open_document.version or 0) if open_document is not None else None
    return lsp.WorkspaceEdit(
        document_changes=[
            lsp.TextDocumentEdit(
                text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=test_uri, version=version),
                edits=[
                    lsp.TextEdit(
                        range=lsp.Range(start=end, end=end),
                        new_text=testgen.merge(existing, content).replace("\n", newline),
                    )
                ],
            )
        ]
    )


def _at(line: int, character: int) -> lsp.Position:
    return lsp.Position(line=line, character=character)


# Explain and rewrite (workspace/executeCommand)


def _selected(ls: KimiLanguageServer, uri: str, where: lsp.Range) -> tuple[DocumentSnapshot, int, int, str] | None:
    """(snapshot with the cursor at the end of the selection's last line, first line, last line, language) of a
    document the server may edit; None (and a message) for one it may not."""
    from .code_actions import editable, roots

    document = ls.document(uri)
    if not editable(uri, roots(ls)):
        ls.tell("this document lies outside the workspace folders", "warning")
        return None
    text = document.source
    lines, starts = document_lines(text), line_starts(text)
    first, last = selection.whole_lines(where.start.line, where.end.line, where.end.character, len(lines))
    language = os.path.splitext(uri_to_path(uri))[1].lstrip(".")
    parsed = ls.parsed(uri, document.version or 0)
    if parsed is not None:
        language = parsed.spec.name
    offset = starts[last] + len(lines[last])
    return DocumentSnapshot(uri, document.language_id or "", document.version or 0, text, offset), first, last, language


async def explain(ls: KimiLanguageServer, uri: str, where: lsp.Range) -> str | None:
    """The model's explanation of the range's lines, also shown to the user (module docstring); None (and a
    message) when there is none."""
    selected = _selected(ls, uri, where)
    if selected is None:
        return None
    snapshot, first, last, language = selected
    comment = comment_for(language)
    answer = await slowly(
        ls,
        "Kimi: explaining",
        ls.pipeline.ask(
            snapshot,
            ls.settings,
            ls.index,
            key=f"{uri}#explain",
            task=selection.explain_task(first, last, comment),
            max_tokens=selection.EXPLAIN_MAX_TOKENS,
        ),
    )
    said = selection.explanation(answer, comment) if answer is not None else ""
    if not said:
        ls.tell("the model wrote no explanation (or this file may not be sent to it)", "info")
        return None
    message = f"Kimi: lines {first + 1}-{last + 1}: {said}"
    ls.window_show_message(lsp.ShowMessageParams(type=lsp.MessageType.Info, message=message))
    ls.window_log_message(lsp.LogMessageParams(type=lsp.MessageType.Info, message=message))
    return said


async def rewrite(ls: KimiLanguageServer, uri: str, where: lsp.Range, instruction: str) -> dict[str, bool]:
    """Rewrite the range's whole lines as `instruction` says, applied with workspace/applyEdit (module
    docstring)."""
    if not instruction.strip():
        ls.tell("say how to rewrite the selection", "info")
        return {"applied": False}
    selected = _selected(ls, uri, where)
    if selected is None:
        return {"applied": False}
    snapshot, first, last, language = selected
    answer = await slowly(
        ls,
        "Kimi: rewriting",
        ls.pipeline.ask(
            snapshot,
            ls.settings,
            ls.index,
            key=f"{uri}#rewrite",
            task=selection.rewrite_task(first, last, instruction, comment_for(language)),
            max_tokens=selection.REWRITE_MAX_TOKENS,
        ),
    )
    new_lines = selection.rewritten(answer) if answer is not None else ""
    if not new_lines:
        ls.tell("the model wrote no new lines (or this file may not be sent to it)", "info")
        return {"applied": False}
    if ls.document_version(uri) != snapshot.version:
        ls.tell("the document changed while the model wrote: nothing was applied, ask again", "info")
        return {"applied": False}
    text = snapshot.text
    lines = document_lines(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    whole = line_range(first, last, len(lines), units(lines[last], ls.encoding))
    new_text = new_lines.replace("\n", newline) + (newline if whole.end.line > last else "")
    edit = lsp.TextEdit(range=whole, new_text=new_text)
    versioned = lsp.TextDocumentEdit(
        text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=uri, version=snapshot.version), edits=[edit]
    )
    workspace_edit = (  # versioned where the client takes it: it refuses the edit if the document moved on
        lsp.WorkspaceEdit(document_changes=[versioned])
        if _versioned_edits(ls)
        else lsp.WorkspaceEdit(changes={uri: [edit]})
    )
    result = await ls.workspace_apply_edit_async(
        lsp.ApplyWorkspaceEditParams(edit=workspace_edit, label="Rewrite with Kimi")
    )
    if not result.applied:
        ls.tell(f"the editor did not apply the rewrite: {result.failure_reason or 'no reason given'}", "info")
    return {"applied": bool(result.applied)}
