"""textDocument/documentSymbol, workspace/symbol and `module.` member completions, from the workspace index.

Pure converters (index types -> lsprotocol types) and handler bodies that only read the index: snapshot,
compute, convert, return. Positions from the index are 0-based lines and UTF-16 columns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from lsprotocol import types as lsp

from ..index.model import Definition, Span, SymbolLocation
from ..index.workspace import WorkspaceIndex

WORKSPACE_SYMBOL_LIMIT = 256
_MEMBER_ACCESS = re.compile(r"([A-Za-z_$][\w$]*(?:(?:\.|::)[A-Za-z_$][\w$]*)*)(?:\.|::)([A-Za-z_$][\w$]*)?$")

SYMBOL_KINDS: dict[str, lsp.SymbolKind] = {
    "module": lsp.SymbolKind.Module, "namespace": lsp.SymbolKind.Namespace, "class": lsp.SymbolKind.Class,
    "interface": lsp.SymbolKind.Interface, "struct": lsp.SymbolKind.Struct, "enum": lsp.SymbolKind.Enum,
    "trait": lsp.SymbolKind.Interface, "impl": lsp.SymbolKind.Object, "type": lsp.SymbolKind.TypeParameter,
    "function": lsp.SymbolKind.Function, "method": lsp.SymbolKind.Method,
    "constructor": lsp.SymbolKind.Constructor, "field": lsp.SymbolKind.Field, "variable": lsp.SymbolKind.Variable,
    "constant": lsp.SymbolKind.Constant, "macro": lsp.SymbolKind.Function,
}
COMPLETION_KINDS: dict[str, lsp.CompletionItemKind] = {
    "module": lsp.CompletionItemKind.Module, "namespace": lsp.CompletionItemKind.Module,
    "class": lsp.CompletionItemKind.Class, "interface": lsp.CompletionItemKind.Interface,
    "struct": lsp.CompletionItemKind.Struct, "enum": lsp.CompletionItemKind.Enum,
    "trait": lsp.CompletionItemKind.Interface, "impl": lsp.CompletionItemKind.Class,
    "type": lsp.CompletionItemKind.Class, "function": lsp.CompletionItemKind.Function,
    "method": lsp.CompletionItemKind.Method, "constructor": lsp.CompletionItemKind.Constructor,
    "field": lsp.CompletionItemKind.Field, "variable": lsp.CompletionItemKind.Variable,
    "constant": lsp.CompletionItemKind.Constant, "macro": lsp.CompletionItemKind.Function,
}


class HasIndex(Protocol):
    """What the handlers need from the server: the workspace index (None until the workspace is known)."""

    @property
    def index(self) -> WorkspaceIndex | None: ...


# ---- converters (pure) ---------------------------------------------------------------------------------------


def lsp_range(span: Span) -> lsp.Range:
    return lsp.Range(start=lsp.Position(line=span.start_line, character=span.start_col),
                     end=lsp.Position(line=span.end_line, character=span.end_col))


def document_symbol_tree(definitions: Sequence[Definition]) -> list[lsp.DocumentSymbol]:
    """The outline as nested DocumentSymbols (children under their parent definition)."""
    children: list[list[lsp.DocumentSymbol]] = [[] for _ in definitions]
    symbols = [
        lsp.DocumentSymbol(name=d.name, kind=SYMBOL_KINDS.get(d.kind, lsp.SymbolKind.Variable),
                           range=lsp_range(d.span), selection_range=lsp_range(d.name_span),
                           detail=d.signature or None, children=kids)
        for d, kids in zip(definitions, children)
    ]
    roots: list[lsp.DocumentSymbol] = []
    for d, symbol in zip(definitions, symbols):
        (children[d.parent] if 0 <= d.parent < len(symbols) else roots).append(symbol)
    return roots


def workspace_symbol(location: SymbolLocation) -> lsp.WorkspaceSymbol:
    start = lsp.Position(line=location.line, character=location.col)
    end = lsp.Position(line=location.line, character=location.col + len(location.name.encode("utf-16-le")) // 2)
    return lsp.WorkspaceSymbol(
        name=location.name, kind=SYMBOL_KINDS.get(location.kind, lsp.SymbolKind.Variable),
        location=lsp.Location(uri=Path(location.path).as_uri(), range=lsp.Range(start=start, end=end)),
        container_name=Path(location.path).name,
    )


def member_item(definition: Definition) -> lsp.CompletionItem:
    doc = lsp.MarkupContent(kind=lsp.MarkupKind.PlainText, value=definition.doc) if definition.doc else None
    return lsp.CompletionItem(label=definition.name, kind=COMPLETION_KINDS.get(definition.kind),
                              detail=definition.signature or None, documentation=doc, sort_text="1" + definition.name)


def member_access(prefix: str) -> tuple[str, str] | None:
    """(module expression, partial member) when the text before the cursor ends in `module.` or `mod::`."""
    match = _MEMBER_ACCESS.search(prefix[-300:])
    return (match.group(1), match.group(2) or "") if match else None


# ---- handler bodies (register in server.FEATURES) -----------------------------------------------------------


async def document_symbol(ls: HasIndex, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol] | None:
    if ls.index is None:
        return None
    return document_symbol_tree(ls.index.document_symbols(params.text_document.uri))


async def workspace_symbols(ls: HasIndex, params: lsp.WorkspaceSymbolParams) -> list[lsp.WorkspaceSymbol] | None:
    if ls.index is None:
        return None
    return [workspace_symbol(hit) for hit in ls.index.workspace_symbols(params.query, WORKSPACE_SYMBOL_LIMIT)]


def member_completions(index: WorkspaceIndex | None, uri: str, prefix: str) -> list[lsp.CompletionItem]:
    """Completion items after `module.`: the top-level definitions of that module (for completion.py)."""
    access = member_access(prefix)
    if index is None or access is None:
        return []
    module, partial = access
    members = index.module_members(module.replace("::", "."), from_path=uri)
    return [member_item(d) for d in members if d.name.startswith(partial)]
