"""textDocument/completion: the names the current file defines (tree-sitter) plus one model item."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..convert import definition_item, model_item
from ..snapshot import LineIndex
from ..syntax import local_definitions
from .suggest import suggest

if TYPE_CHECKING:
    from ..server import KimiLanguageServer

OPTIONS = lsp.CompletionOptions(trigger_characters=[".", ":", ">", "(", " "], resolve_provider=False)
_WORD_BEFORE = re.compile(r"[A-Za-z_$][\w$]*$")
MODEL_TOKENS = 24


async def completion(ls: KimiLanguageServer, params: lsp.CompletionParams) -> lsp.CompletionList | None:
    if not ls.settings.features.completion:
        return None
    snapshot = ls.snapshot(params.text_document.uri, params.position)
    parsed = ls.trees.get(snapshot.uri, snapshot.language_id, snapshot.version, snapshot.text)
    seen: dict[str, lsp.CompletionItem] = {}
    for definition in local_definitions(parsed.tree) if parsed else ():
        seen.setdefault(definition.name, definition_item(definition))
    items = list(seen.values())
    word = match.group(0) if (match := _WORD_BEFORE.search(snapshot.prefix[-200:])) else ""
    text = await suggest(ls, snapshot, key=f"{snapshot.uri}#completion", single_line=True, max_tokens=MODEL_TOKENS)
    if text:
        word_start = LineIndex.of(snapshot.text, ls.encoding).position(snapshot.offset - len(word))
        start = lsp.Position(line=word_start.line, character=word_start.character)
        items.insert(0, model_item(word, text, start, params.position))
    return lsp.CompletionList(is_incomplete=bool(text), items=items)
