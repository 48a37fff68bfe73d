"""Code actions: "Fix syntax error with Kimi" for each syntax error, resolved lazily via codeAction/resolve;
the review's "Apply suggested fix" and "Add docstring / doc comment" (features/review.py), "Generate unit tests"
and "Explain this code" (features/assist.py) beside it. Every resolve shows work-done progress when slow.

Listing actions is instant (no model call). Resolving one asks the model, through the pipeline like every
other request, to rewrite the erroneous lines as a fill-in-the-middle over the rest of the file; the edit is
returned only if it removes syntax errors (checked off the event loop: a full parse of the fixed file).

The edit targets the one document the action was listed for, and only one the server may edit (`editable`):
a file inside a workspace folder, judged by its real path (symlinks and `..` resolved), or a buffer that is no
file; with no workspace folder open (a single file), the document itself.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from ..convert import SOURCE, line_range
from ..index.documents import uri_to_path
from ..snapshot import DocumentSnapshot, line_starts
from ..syntax import count_errors, syntax_problems
from . import assist, diagnostics, review

if TYPE_CHECKING:
    from ..server import KimiLanguageServer

TITLE = "Fix syntax error with Kimi"
OPTIONS = lsp.CodeActionOptions(
    code_action_kinds=[lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.Refactor, lsp.CodeActionKind.RefactorRewrite],
    resolve_provider=True,
)


def _overlaps(diagnostic: lsp.Diagnostic, selection: lsp.Range) -> bool:
    return diagnostic.range.start.line <= selection.end.line and diagnostic.range.end.line >= selection.start.line


def editable(uri: str, roots: Sequence[str]) -> bool:
    """Whether a quick fix may edit `uri`: a buffer that is no file (untitled:), or a file whose real path lies
    inside one of the workspace folders `roots` (any file when there are none: a single file is open)."""
    if not uri.startswith("file:") or not roots:
        return True
    try:
        path = os.path.realpath(uri_to_path(uri))
    except ValueError:  # a NUL in the name: no such file
        return False
    return any(path.startswith(os.path.join(os.path.realpath(root), "")) for root in roots)


def roots(ls: KimiLanguageServer) -> Sequence[str]:
    """The workspace folders (none before initialize)."""
    return ls.index.roots if ls.index is not None else ()


def code_actions(ls: KimiLanguageServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction] | None:
    if not ls.settings.features.code_actions or ls.engines.generator is None:
        return None
    uri = params.text_document.uri
    if not editable(uri, roots(ls)):
        return None
    ours = [d for d in params.context.diagnostics if d.source == SOURCE]
    if not params.context.diagnostics:  # some clients (Vim ALE) send none: compute them for the range
        ours = [d for d in diagnostics.compute(ls, uri)[1] if d.source == SOURCE and _overlaps(d, params.range)]
    version = ls.document(uri).version or 0
    fixes = [
        lsp.CodeAction(
            title=TITLE,
            kind=lsp.CodeActionKind.QuickFix,
            diagnostics=[d],
            data={"uri": uri, "version": version, "first": d.range.start.line, "last": d.range.end.line},
        )
        for d in ours
    ]
    listed = fixes + review.actions(ls, uri, params.range) + assist.actions(ls, uri, params.range)
    return review.of_kinds(listed, params.context.only)


async def resolve_code_action(ls: KimiLanguageServer, action: lsp.CodeAction) -> lsp.CodeAction:
    """The action with its edit, computed now; shown as work-done progress when the model is slow, and
    cancelled (the model's request too) by $/cancelRequest."""
    return await assist.slowly(ls, f"Kimi: {action.title}", _resolve(ls, action))


async def _resolve(ls: KimiLanguageServer, action: lsp.CodeAction) -> lsp.CodeAction:
    data: Any = action.data
    if isinstance(data, dict) and data.get("kimi") == assist.TESTS:
        return await assist.resolve_tests(ls, action) if editable(str(data.get("uri")), roots(ls)) else action
    if isinstance(data, dict) and data.get("kimi") in (review.FIX, review.DOC):
        return await review.resolve(ls, action) if editable(str(data.get("uri")), roots(ls)) else action
    if action.title != TITLE or not isinstance(data, dict) or ls.engines.generator is None:
        return action
    uri = str(data["uri"])  # the document the action was listed for: the only one its edit may touch
    if not editable(uri, roots(ls)):
        return action
    document = ls.document(uri)
    text = document.source
    starts = line_starts(text)
    first, last = int(data["first"]), min(int(data["last"]), len(starts) - 1)
    begin = starts[first]
    end = starts[last + 1] if last + 1 < len(starts) else len(text)
    hole = DocumentSnapshot(
        document.uri, document.language_id or "", document.version or 0, text[:begin] + text[end:], begin
    )
    fix = await ls.pipeline.fill_lines(hole, ls.settings, ls.index, end - begin, last - first + 1)
    parsed = ls.parsed(document.uri, document.version or 0)
    if fix is None or parsed is None:
        ls.tell("the model found no fix that removes the syntax error", "info")
        return action
    before = len(syntax_problems(parsed.tree))  # the tree of this very text
    after = await asyncio.to_thread(count_errors, parsed.spec, text[:begin] + fix + text[end:])
    if after >= before:
        ls.tell("the model found no fix that removes the syntax error", "info")
        return action
    last_length = len(text[starts[last] : end].rstrip("\r\n"))
    edit = lsp.TextEdit(range=line_range(first, last, len(starts), last_length), new_text=fix)
    action.edit = lsp.WorkspaceEdit(changes={uri: [edit]})
    return action
