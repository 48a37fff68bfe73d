"""Code actions: "Fix syntax error with Kimi" for each syntax error, resolved lazily via codeAction/resolve.

Listing actions is instant (no model call). Resolving one asks the model, through the pipeline like every
other request, to rewrite the erroneous lines as a fill-in-the-middle over the rest of the file; the edit is
returned only if it removes syntax errors (checked off the event loop: a full parse of the fixed file).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from ..convert import SOURCE, line_range
from ..snapshot import DocumentSnapshot, line_starts
from ..syntax import count_errors, syntax_problems
from . import diagnostics

if TYPE_CHECKING:
    from ..server import KimiLanguageServer

TITLE = "Fix syntax error with Kimi"
OPTIONS = lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix], resolve_provider=True)


def _overlaps(diagnostic: lsp.Diagnostic, selection: lsp.Range) -> bool:
    return diagnostic.range.start.line <= selection.end.line and diagnostic.range.end.line >= selection.start.line


def code_actions(ls: KimiLanguageServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction] | None:
    if not ls.settings.features.code_actions or ls.engines.generator is None:
        return None
    uri = params.text_document.uri
    ours = [d for d in params.context.diagnostics if d.source == SOURCE]
    if not params.context.diagnostics:  # some clients (Vim ALE) send none: compute them for the range
        ours = [d for d in diagnostics.compute(ls, uri)[1] if _overlaps(d, params.range)]
    version = ls.document(uri).version or 0
    return [
        lsp.CodeAction(
            title=TITLE,
            kind=lsp.CodeActionKind.QuickFix,
            diagnostics=[d],
            data={"uri": uri, "version": version, "first": d.range.start.line, "last": d.range.end.line},
        )
        for d in ours
    ]


async def resolve_code_action(ls: KimiLanguageServer, action: lsp.CodeAction) -> lsp.CodeAction:
    data: Any = action.data
    if action.title != TITLE or not isinstance(data, dict) or ls.engines.generator is None:
        return action
    document = ls.document(str(data["uri"]))
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
    action.edit = lsp.WorkspaceEdit(changes={document.uri: [edit]})
    return action
