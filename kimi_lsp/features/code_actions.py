"""Code actions: "Fix syntax error with Kimi" for each syntax error, resolved lazily via codeAction/resolve.

Listing actions is instant (no model call). Resolving one asks the model to rewrite the erroneous lines as a
fill-in-the-middle over the rest of the file; the edit is returned only if it removes syntax errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from .. import context, healing
from ..convert import SOURCE, line_range
from ..engine_client import EngineError
from ..generation import Sampling
from ..snapshot import DocumentSnapshot, line_starts
from ..syntax import count_errors, syntax_problems
from ..templates import template_for
from . import diagnostics
from .suggest import shown_path

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
            title=TITLE, kind=lsp.CodeActionKind.QuickFix, diagnostics=[d],
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
    fix = await _rewrite(ls, DocumentSnapshot(document.uri, document.language_id or "", document.version or 0,
                                              text[:begin] + text[end:], begin), end - begin, last - first + 1)
    parsed = ls.parsed(document.uri, document.version or 0)
    before = len(syntax_problems(parsed.tree)) if parsed is not None else 0  # the tree of this very text
    if fix is None or parsed is None or count_errors(parsed.spec, text[:begin] + fix + text[end:]) >= before:
        ls.tell("the model found no fix that removes the syntax error", lsp.MessageType.Info)
        return action
    last_length = len(text[starts[last]:end].rstrip("\r\n"))
    edit = lsp.TextEdit(range=line_range(first, last, len(starts), last_length), new_text=fix)
    action.edit = lsp.WorkspaceEdit(changes={document.uri: [edit]})
    return action


async def _rewrite(ls: KimiLanguageServer, hole: DocumentSnapshot, original_chars: int, lines: int) -> str | None:
    """The model's text for the hole of `lines` lines (whole lines, ending in a newline), or None. A model that
    continues the prefix has no end of its own: it gets as many lines as the hole had."""
    generator = ls.engines.generator
    if generator is None:
        return None
    template = template_for(ls.settings.model.profile)
    prompt = context.build(hole, template, path=shown_path(ls, hole.uri))
    sampling = Sampling(max(32, original_chars // 2), 0.0, template.stop)

    def after_lines(body: str) -> int | None:
        return len(body) if body.count("\n") >= lines else None

    def enough(text: str) -> int | None:
        return healing.stop_at(text, prompt.tail, after_lines)

    try:
        result = await generator.generate(f"{hole.uri}#fix", prompt.text, sampling,
                                          stop_at=enough if template.left_to_right else lambda text: None)
    except EngineError as error:
        ls.engines.failed(error)
        return None
    text = healing.unheal(result.text, prompt.tail) if result is not None else None
    if text is None or not text.strip():
        return None
    if template.left_to_right:
        text = "".join(text.splitlines(keepends=True)[:lines])
    return text if text.endswith("\n") else text + "\n"
