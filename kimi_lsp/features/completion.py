"""textDocument/completion: items from the index, plus one model item on top.

After `self.`/`this.`/`cls.` the members of the class around the cursor and of its bases (across files), never
the method being typed; after `module.` that module's members; after any other dot nothing from the index;
otherwise the names the current file defines, but not one being defined on the cursor's line."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..convert import class_member_item, member_item, model_item
from ..index.answers import CLASS_KINDS
from ..index.documents import uri_to_path
from ..index.workspace import WorkspaceIndex
from ..snapshot import position_at

if TYPE_CHECKING:
    from ..server import KimiLanguageServer

OPTIONS = lsp.CompletionOptions(trigger_characters=[".", ":", ">", "(", " "], resolve_provider=False)
_WORD_BEFORE = re.compile(r"[A-Za-z_$][\w$]*$")
_RECEIVER_ACCESS = re.compile(r"(?<![\w$.])(?:self|this|cls)\.([A-Za-z_$][\w$]*)?$")
_MEMBER_ACCESS = re.compile(r"([A-Za-z_$][\w$]*(?:(?:\.|::)[A-Za-z_$][\w$]*)*)(?:\.|::)([A-Za-z_$][\w$]*)?$")
MODEL_TOKENS = 24


async def completion(ls: KimiLanguageServer, params: lsp.CompletionParams) -> lsp.CompletionList | None:
    if not ls.settings.features.completion:
        return None
    snapshot = ls.snapshot(params.text_document.uri, params.position)
    items = index_completions(ls.index, snapshot.uri, snapshot.prefix, params.position.line)
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


def index_completions(index: WorkspaceIndex | None, uri: str, prefix: str, line: int) -> list[lsp.CompletionItem]:
    """The index's items for a cursor on `line` after `prefix` (see the module docstring)."""
    if index is None:
        return []
    partial = receiver_access(prefix)
    if partial is not None:
        return class_member_completions(index, uri, partial, line)
    if member_access(prefix) is not None:
        return member_completions(index, uri, prefix)
    seen: dict[str, lsp.CompletionItem] = {}
    for definition in index.document_symbols(uri):
        if definition.name_span.start_line != line:
            seen.setdefault(definition.name, member_item(definition))
    return list(seen.values())


def receiver_access(prefix: str) -> str | None:
    """The partial member when the text before the cursor ends in `self.`, `this.` or `cls.` (+ a partial word)."""
    match = _RECEIVER_ACCESS.search(prefix[-200:])
    return (match.group(1) or "") if match else None


def class_member_completions(index: WorkspaceIndex, uri: str, partial: str, line: int) -> list[lsp.CompletionItem]:
    """The members of the innermost class around `line` and of its bases that start with `partial`, without
    constructors (no member access reaches them) and without the definition being typed: the method (or field)
    of that class the cursor is in, or one named on its line."""
    chain = index.enclosing_definitions(uri, line)
    at = next((i for i in reversed(range(len(chain))) if chain[i].kind in CLASS_KINDS), None)
    if at is None:
        return []
    typed = chain[at + 1] if at + 1 < len(chain) else None
    path = uri_to_path(uri)
    return [
        class_member_item(member.definition, member.owner, member.depth)
        for member in index.class_members(uri, chain[at].name)
        if member.definition.name.startswith(partial)
        and member.definition.kind != "constructor"
        and member.definition.name != "constructor"
        and not (member.path == path and (member.definition == typed or member.definition.name_span.start_line == line))
    ]


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
