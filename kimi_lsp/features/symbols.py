"""textDocument/documentSymbol, workspace/symbol and `module.` member completions, from the workspace index.

Pure converters (index types -> lsprotocol types) and handler bodies that only read the index: snapshot,
compute, convert, return. Positions from the index are 0-based lines and UTF-16 columns; for a client that
negotiated another encoding, columns on non-ASCII lines are converted with the line's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from lsprotocol import types as lsp

from ..index.documents import uri_to_path
from ..index.model import Definition, Span, SymbolLocation
from ..index.workspace import WorkspaceIndex
from ..snapshot import UTF16, units

Recode = Callable[[int, int], int]  # (line, UTF-16 column) -> column in the client's encoding

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
    """What the handlers need from the server: the workspace index (None until the workspace is known) and
    the negotiated position encoding."""

    @property
    def index(self) -> WorkspaceIndex | None: ...

    @property
    def encoding(self) -> str: ...


# ---- converters (pure) ---------------------------------------------------------------------------------------


def _same(line: int, col: int) -> int:
    return col


def recoder(source: bytes, encoding: str) -> Recode:
    """Converts UTF-16 columns of `source` (UTF-8 bytes, lines split at \\n as tree-sitter counts them) to
    `encoding` columns. Identity for UTF-16 clients and on ASCII lines."""
    if encoding == UTF16 or source.isascii():  # most source files: no line to split
        return _same
    lines = source.split(b"\n")

    def recode(line: int, col: int) -> int:
        if not 0 <= line < len(lines) or lines[line].isascii():
            return col
        text, seen = lines[line].decode("utf-8", "replace"), 0
        for i, ch in enumerate(text):
            if seen >= col:
                return units(text[:i], encoding)
            seen += 2 if ord(ch) > 0xFFFF else 1
        return units(text, encoding)

    return recode


def lsp_range(span: Span, recode: Recode = _same) -> lsp.Range:
    return lsp.Range(start=lsp.Position(line=span.start_line, character=recode(span.start_line, span.start_col)),
                     end=lsp.Position(line=span.end_line, character=recode(span.end_line, span.end_col)))


def document_symbol_tree(definitions: Sequence[Definition], recode: Recode = _same) -> list[lsp.DocumentSymbol]:
    """The outline as nested DocumentSymbols (children under their parent definition)."""
    children: list[list[lsp.DocumentSymbol]] = [[] for _ in definitions]
    symbols = [
        lsp.DocumentSymbol(name=d.name, kind=SYMBOL_KINDS.get(d.kind, lsp.SymbolKind.Variable),
                           range=lsp_range(d.span, recode), selection_range=lsp_range(d.name_span, recode),
                           detail=d.signature or None, children=kids)
        for d, kids in zip(definitions, children)
    ]
    roots: list[lsp.DocumentSymbol] = []
    for d, symbol in zip(definitions, symbols):
        (children[d.parent] if 0 <= d.parent < len(symbols) else roots).append(symbol)
    return roots


def workspace_symbol(location: SymbolLocation, recode: Recode = _same) -> lsp.WorkspaceSymbol:
    end_col = location.col + len(location.name.encode("utf-16-le")) // 2
    start = lsp.Position(line=location.line, character=recode(location.line, location.col))
    end = lsp.Position(line=location.line, character=recode(location.line, end_col))
    uri, name = _uri_and_name(location.path)
    return lsp.WorkspaceSymbol(
        name=location.name, kind=SYMBOL_KINDS.get(location.kind, lsp.SymbolKind.Variable),
        location=lsp.Location(uri=uri, range=lsp.Range(start=start, end=end)), container_name=name,
    )


@lru_cache(maxsize=4096)
def _uri_and_name(path: str) -> tuple[str, str]:
    """A file's URI and name: a results list names the same file many times, and a Path costs 10 us."""
    p = Path(path)
    return p.as_uri(), p.name


def member_item(definition: Definition) -> lsp.CompletionItem:
    doc = lsp.MarkupContent(kind=lsp.MarkupKind.PlainText, value=definition.doc) if definition.doc else None
    return lsp.CompletionItem(label=definition.name, kind=COMPLETION_KINDS.get(definition.kind),
                              detail=definition.signature or None, documentation=doc, sort_text="1" + definition.name)


def member_access(prefix: str) -> tuple[str, str] | None:
    """(module expression, partial member) when the text before the cursor ends in `module.` or `mod::`."""
    match = _MEMBER_ACCESS.search(prefix[-300:])
    return (match.group(1), match.group(2) or "") if match else None


# ---- handler bodies (register in server.FEATURES) -----------------------------------------------------------


def _recoder_for(index: WorkspaceIndex, uri_or_path: str, encoding: str) -> Recode:
    """A recoder over the open document's text, else the file on disk (UTF-16 clients: no text needed)."""
    if encoding == UTF16:
        return _same
    path = uri_to_path(uri_or_path)
    document = index.documents.get(uri_or_path) or index.documents.get(_uri_and_name(path)[0])
    if document is not None:
        return recoder(document.source, encoding)
    try:
        with open(path, "rb") as file:
            return recoder(file.read(), encoding)
    except OSError:
        return _same


async def document_symbol(ls: HasIndex, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol] | None:
    if ls.index is None:
        return None
    uri = params.text_document.uri
    definitions = ls.index.document_symbols(uri)
    return document_symbol_tree(definitions, _recoder_for(ls.index, uri, ls.encoding) if definitions else _same)


async def workspace_symbols(ls: HasIndex, params: lsp.WorkspaceSymbolParams) -> list[lsp.WorkspaceSymbol] | None:
    index = ls.index
    if index is None:
        return None
    recoders: dict[str, Recode] = {}
    symbols = []
    for hit in index.workspace_symbols(params.query, WORKSPACE_SYMBOL_LIMIT):
        if hit.path not in recoders:
            recoders[hit.path] = _recoder_for(index, hit.path, ls.encoding)
        symbols.append(workspace_symbol(hit, recoders[hit.path]))
    return symbols


def member_completions(index: WorkspaceIndex | None, uri: str, prefix: str) -> list[lsp.CompletionItem]:
    """Completion items after `module.`: the top-level definitions of that module (for completion.py)."""
    access = member_access(prefix)
    if index is None or access is None:
        return []
    module, partial = access
    members = index.module_members(module.replace("::", "."), from_path=uri)
    return [member_item(d) for d in members if d.name.startswith(partial)]
