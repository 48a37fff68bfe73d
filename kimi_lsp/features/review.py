"""Model review as diagnostics, and its code actions (review.py holds what is not LSP).

Triggers: `textDocument/didSave` reviews at once; every change (re)starts a `review.idleMs` timer. A review
looks at the document's functions and methods that changed since it was opened (their content hash is not the
one they had then) and have no cached findings, one engine request each, one after the other, each through the
pipeline (`Pipeline.ask`: secret and excluded files refused, credentials scrubbed, cross-file context), the
output constrained to `FINDINGS_SCHEMA`. It stops when the document moves on (the next idle period reviews the
new text); findings are stored by function content, and diagnostics are always computed for the current text
(`findings`), so a review of an older version is never shown for text it did not see. After each function
the diagnostics are pushed (or, for clients that pull and allow it, a `workspace/diagnostic/refresh` is sent).

Code actions (listed instantly, resolved lazily in codeAction/resolve): "Apply suggested fix" for each finding
with a replacement under the requested range, and "Add docstring / doc comment" for the innermost function or
class around the range's start that has none. Both refuse, with a message, a document whose version moved on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types as lsp

from ..convert import line_range, review_diagnostic
from ..index.model import Definition
from ..prompt.render import comment_for
from ..review import (
    DOCUMENTED_KINDS,
    FINDINGS_SCHEMA_TEXT,
    REVIEW_MAX_TOKENS,
    Finding,
    Unit,
    clean_doc,
    doc_comment_title,
    doc_task,
    document_lines,
    documentable,
    format_doc,
    parse_findings,
    review_task,
    shown,
    units_of,
)
from ..snapshot import DocumentSnapshot, line_starts, units

if TYPE_CHECKING:
    from ..server import KimiLanguageServer

FIX_TITLE = "Apply suggested fix"
DOC_MAX_TOKENS = 128
FIX, DOC = "review-fix", "doc-comment"  # action.data["kimi"]


def enabled(ls: KimiLanguageServer) -> bool:
    return ls.settings.review.enabled and ls.settings.features.diagnostics


def did_save(ls: KimiLanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
    if enabled(ls):
        ls.reviews.now(params.text_document.uri)


def opened(ls: KimiLanguageServer, uri: str) -> None:
    """The document opened: what its functions are now is not a change (no review until they change)."""
    current = _current(ls, uri)
    if current is not None:
        ls.reviews.baseline[uri] = frozenset(unit.key for unit in current[3])


def changed(ls: KimiLanguageServer, uri: str) -> None:
    if enabled(ls):
        ls.reviews.idle(uri, ls.settings.review.idle_ms / 1000)


def closed(ls: KimiLanguageServer, uri: str) -> None:
    ls.reviews.close(uri)


def _current(ls: KimiLanguageServer, uri: str) -> tuple[int, str, str, tuple[Unit, ...]] | None:
    """(version, text, language, functions) of the open document now; None when it is not open or parsed."""
    document = ls.workspace.text_documents.get(unquote(uri))
    if document is None or ls.index is None:
        return None
    version = document.version or 0
    parsed = ls.parsed(uri, version)
    if parsed is None:
        return None
    memo_key = (version, ls.settings.model.profile)
    memo = ls.reviews.units.get(uri)
    if memo is not None and memo[0] == memo_key:
        return version, document.source, parsed.spec.name, memo[1]
    outline = ls.index.documents.outline(uri)
    if outline is None:
        return None
    found = units_of(outline.definitions, document_lines(document.source), parsed.spec.name, memo_key[1])
    ls.reviews.units[uri] = (memo_key, found)
    return version, document.source, parsed.spec.name, found


def findings(ls: KimiLanguageServer, uri: str) -> tuple[int, list[Finding]]:
    """(version, the review findings shown for the document now): each function's cached findings at its
    current place, at `review.minConfidence` or above."""
    current = _current(ls, uri) if enabled(ls) and uri in ls.reviews.reviewed else None
    if current is None:
        document = ls.workspace.text_documents.get(unquote(uri))
        return (document.version or 0) if document is not None else 0, []
    version, _, _, found_units = current
    placed: list[Finding] = []
    for unit in found_units:
        cached = ls.reviews.cache.get(unit.key)
        if cached:
            placed.extend(shown(cached, unit.start_line, ls.settings.review.min_confidence))
    return version, placed


def review_diagnostics(ls: KimiLanguageServer, uri: str, version: int) -> list[lsp.Diagnostic]:
    """The review findings of the document at `version` as diagnostics (none for another version)."""
    at, found = findings(ls, uri)
    if at != version or not found:
        return []
    lines = document_lines(ls.document(uri).source)
    out: list[lsp.Diagnostic] = []
    for finding in found:
        diagnostic = review_diagnostic(finding, lines, ls.encoding)
        if diagnostic not in out:
            out.append(diagnostic)
    return out


async def review_document(ls: KimiLanguageServer, uri: str) -> None:
    """One review of the document as it is now (module docstring)."""
    current = _current(ls, uri) if enabled(ls) else None
    if current is None:
        return
    version, text, language, found_units = current
    document = ls.document(uri)
    baseline = ls.reviews.baseline.get(uri, frozenset())
    starts, lines = line_starts(text), document_lines(text)
    for unit in found_units:
        if unit.key in baseline or ls.reviews.cache.get(unit.key) is not None:
            continue
        if _version_now(ls, uri) != version or not enabled(ls):
            return  # moved on: the next idle period reviews the new text
        end = starts[unit.end_line] + len(lines[unit.end_line])  # the cursor after the function: all of it shown
        snapshot = DocumentSnapshot(uri, document.language_id or "", version, text, end)
        answer = await ls.pipeline.ask(
            snapshot,
            ls.settings,
            ls.index,
            key=f"{uri}#review",
            task=review_task(unit, comment_for(language)),
            max_tokens=REVIEW_MAX_TOKENS,
            json_schema=FINDINGS_SCHEMA_TEXT,
        )
        if answer is None:
            return  # refused, no engine, or it failed: nothing is cached, a later review asks again
        ls.reviews.cache.put(unit.key, parse_findings(answer, unit))
        ls.reviews.reviewed.add(uri)
        if _version_now(ls, uri) == version:
            publish(ls, uri)


def publish(ls: KimiLanguageServer, uri: str) -> None:
    """New findings for the document: push its diagnostics, or ask a pulling client to pull again."""
    from . import diagnostics  # diagnostics merges our findings: imported here, not at the top

    if not diagnostics.client_pulls(ls):
        diagnostics.push(ls, uri)
        return
    workspace = ls.client_capabilities.workspace
    if workspace is not None and workspace.diagnostics is not None and workspace.diagnostics.refresh_support:
        ls.workspace_diagnostic_refresh(None)


# Code actions


def _overlaps(first: int, last: int, selection: lsp.Range) -> bool:
    return first <= selection.end.line and last >= selection.start.line


def of_kinds(actions: list[lsp.CodeAction], only: Sequence[str] | None) -> list[lsp.CodeAction]:
    """The actions of the kinds in `only` (the client's filter; a kind takes its sub-kinds), all when none."""
    if not only:
        return actions
    wanted = [_kind(kind) for kind in only]
    return [a for a in actions if any(_kind(a.kind) == k or _kind(a.kind).startswith(f"{k}.") for k in wanted)]


def _kind(kind: object) -> str:
    """A code action kind as its wire value (lsprotocol's enum, or the plain string)."""
    value = getattr(kind, "value", kind)
    return str(value)


def actions(ls: KimiLanguageServer, uri: str, selection: lsp.Range) -> list[lsp.CodeAction]:
    """The review's actions for `selection` (instant: no model call), from the findings and the outline now,
    whatever diagnostics the client sent."""
    version, found = findings(ls, uri)
    out: list[lsp.CodeAction] = []
    if found:
        lines = document_lines(ls.document(uri).source)
        for finding in found:
            if finding.replacement is None or not _overlaps(finding.start_line, finding.end_line, selection):
                continue
            out.append(
                lsp.CodeAction(
                    title=f"{FIX_TITLE}: {finding.message[:80]}",
                    kind=lsp.CodeActionKind.QuickFix,
                    diagnostics=[review_diagnostic(finding, lines, ls.encoding)],
                    data={
                        "kimi": FIX,
                        "uri": uri,
                        "version": version,
                        "first": finding.start_line,
                        "last": finding.end_line,
                        "message": finding.message,
                    },
                )
            )
    target = _documented(ls, uri, selection.start.line)
    if target is not None:
        definition, language = target
        out.append(
            lsp.CodeAction(
                title=doc_comment_title(language),
                kind=lsp.CodeActionKind.RefactorRewrite,
                data={"kimi": DOC, "uri": uri, "version": version, "line": definition.span.start_line},
            )
        )
    return out


def _documented(ls: KimiLanguageServer, uri: str, line: int) -> tuple[Definition, str] | None:
    """The innermost function or class around `line` that has no documentation yet, and the language."""
    document = ls.workspace.text_documents.get(unquote(uri))
    parsed = ls.parsed(uri, document.version or 0) if document is not None else None
    if parsed is None or ls.index is None or not documentable(parsed.spec.name) or parsed.tree.root_node.has_error:
        return None  # with syntax errors the outline may be wrong: fix those first
    outline = ls.index.documents.outline(uri)
    around = [
        d
        for d in (outline.definitions if outline is not None else ())
        if d.kind in DOCUMENTED_KINDS and d.span.start_line <= line <= d.span.end_line
    ]
    if not around:
        return None
    innermost = max(around, key=lambda d: d.span.start_line)
    return (innermost, parsed.spec.name) if not innermost.doc else None


async def resolve(ls: KimiLanguageServer, action: lsp.CodeAction) -> lsp.CodeAction:
    """The edit of one of our actions (the caller checked that its document may be edited). A document whose
    version moved on since the action was listed gets no edit, and the user is told why."""
    data: Any = action.data
    uri = str(data["uri"])
    document = ls.document(uri)
    if (document.version or 0) != int(data["version"]):
        ls.tell("the document changed since this action was offered: ask for the action again", "info")
        return action
    edit = _fix_edit(ls, uri, data) if data["kimi"] == FIX else await _doc_edit(ls, uri, int(data["line"]))
    if edit is not None and _version_now(ls, uri) != int(data["version"]):
        ls.tell("the document changed while the model wrote: ask for the action again", "info")
        return action
    if edit is not None:
        action.edit = lsp.WorkspaceEdit(changes={uri: [edit]})
    return action


def _fix_edit(ls: KimiLanguageServer, uri: str, data: Any) -> lsp.TextEdit | None:
    """The finding's replacement over its whole lines, in the document's line endings."""
    wanted = (int(data["first"]), int(data["last"]), str(data["message"]))
    _, found = findings(ls, uri)
    finding = next((f for f in found if (f.start_line, f.end_line, f.message) == wanted and f.replacement), None)
    if finding is None or finding.replacement is None:
        ls.tell("this suggested fix is no longer there: the code was reviewed again", "info")
        return None
    text = ls.document(uri).source
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = document_lines(text)
    whole = line_range(finding.start_line, finding.end_line, len(lines), units(lines[finding.end_line], ls.encoding))
    new_text = finding.replacement.replace("\n", newline)
    if whole.end.line > finding.end_line:  # the range ends at the next line's start: keep its line break
        new_text += newline
    return lsp.TextEdit(range=whole, new_text=new_text)


async def _doc_edit(ls: KimiLanguageServer, uri: str, line: int) -> lsp.TextEdit | None:
    """The model's documentation for the definition starting at `line`, inserted in the language's style."""
    document = ls.document(uri)
    version, text = document.version or 0, document.source
    target = _documented(ls, uri, line)
    parsed = ls.parsed(uri, version)
    if target is None or parsed is None or target[0].span.start_line != line:
        ls.tell("there is no function or class without documentation here any more", "info")
        return None
    definition, language = target
    lines, starts = document_lines(text), line_starts(text)
    insert_line, indent = line, _indent(lines[line])
    if language == "python":
        body = _python_body_line(parsed.tree.root_node, definition.name_span.start_line)
        if body is None:
            ls.tell("the body is on the definition's line: no room for a docstring", "info")
            return None
        insert_line, indent = body, _indent(lines[body])
    last = min(definition.span.end_line, len(lines) - 1)
    snapshot = DocumentSnapshot(uri, document.language_id or "", version, text, starts[last] + len(lines[last]))
    answer = await ls.pipeline.ask(
        snapshot,
        ls.settings,
        ls.index,
        key=f"{uri}#doc",
        task=doc_task(definition.name, definition.kind, comment_for(language)),
        max_tokens=DOC_MAX_TOKENS,
        stop=("\n\n",),
    )
    doc = clean_doc(answer) if answer is not None else ""
    if not doc:
        ls.tell("the model wrote no documentation", "info")
        return None
    newline = "\r\n" if "\r\n" in text else "\n"
    at = lsp.Position(line=insert_line, character=0)
    return lsp.TextEdit(range=lsp.Range(start=at, end=at), new_text=format_doc(doc, language, indent, newline))


def _version_now(ls: KimiLanguageServer, uri: str) -> int | None:
    """The open document's version now (None: not open)."""
    document = ls.workspace.text_documents.get(unquote(uri))
    return None if document is None else document.version or 0


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _python_body_line(node: Any, def_line: int) -> int | None:
    """The line of the first statement of the Python function or class whose `def`/`class` is on `def_line`;
    None when there is no such definition or its body starts on that line."""
    if node.type in ("function_definition", "class_definition") and node.start_point[0] == def_line:
        body = node.child_by_field_name("body")
        if body is None or body.start_point[0] == def_line:
            return None
        return int(body.start_point[0])
    for child in node.children:
        if child.start_point[0] <= def_line <= child.end_point[0]:
            return _python_body_line(child, def_line)
    return None
