"""textDocument/completion: after `module.` that module's members (from the index), otherwise the names the
current file defines; plus one model item on top."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..convert import member_item, model_item
from ..index.workspace import WorkspaceIndex
from ..snapshot import position_at

if TYPE_CHECKING:
    from ..server import KimiLanguageServer

OPTIONS = lsp.CompletionOptions(trigger_characters=[".", ":", ">", "(", " "], resolve_provider=False)
_WORD_BEFORE = re.compile(r"[A-Za-z_$][\w$]*$")
_MEMBER_ACCESS = re.compile(r"([A-Za-z_$][\w$]*(?:(?:\.|::)[A-Za-z_$][\w$]*)*)(?:\.|::)([A-Za-z_$][\w$]*)?$")
MODEL_TOKENS = 24


async def completion(ls: KimiLanguageServer, params: lsp.CompletionParams) -> lsp.CompletionList | None:
    if not ls.settings.features.completion:
        return None
    snapshot = ls.snapshot(params.text_document.uri, params.position)
    items = member_completions(ls.index, snapshot.uri, snapshot.prefix)
    if not items and ls.index is not None:
        seen: dict[str, lsp.CompletionItem] = {}
        for definition in ls.index.document_symbols(snapshot.uri):
            seen.setdefault(definition.name, member_item(definition))
        items = list(seen.values())
    word = match.group(0) if (match := _WORD_BEFORE.search(snapshot.prefix[-200:])) else ""
    text = await ls.pipeline.suggest(
        snapshot, ls.settings, ls.index, key=f"{snapshot.uri}#completion", single_line=True, max_tokens=MODEL_TOKENS
    )
    if text:
        start = position_at(snapshot.text, snapshot.offset - len(word), ls.encoding)
        items.insert(
            0, model_item(word, text, lsp.Position(line=start.line, character=start.character), params.position)
        )
    return lsp.CompletionList(is_incomplete=bool(text), items=items)


def member_access(prefix: str) -> tuple[str, str] | None:
    """(module expression, partial member) when the text before the cursor ends in `module.` or `mod::`."""
    match = _MEMBER_ACCESS.search(prefix[-300:])
    return (match.group(1), match.group(2) or "") if match else None


def member_completions(index: WorkspaceIndex | None, uri: str, prefix: str) -> list[lsp.CompletionItem]:
    """Completion items after `module.`: the top-level definitions of that module."""
    access = member_access(prefix)
    if index is None or access is None:
        return []
    module, partial = access
    members = index.module_members(module.replace("::", "."), from_path=uri)
    return [member_item(d) for d in members if d.name.startswith(partial)]
