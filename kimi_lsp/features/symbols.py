"""textDocument/documentSymbol and workspace/symbol, from the workspace index.

Handlers only read the index and convert (convert.py). A client that negotiated an encoding other than UTF-16
needs the text of each file named in the result to convert columns: open documents are read on the loop,
files on disk in a thread, never on the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Protocol

from lsprotocol import types as lsp

from ..convert import Recode, document_symbol_tree, recoder, uri_and_name, workspace_symbol
from ..index.documents import uri_to_path
from ..index.workspace import WorkspaceIndex
from ..snapshot import UTF16

WORKSPACE_SYMBOL_LIMIT = 256


class HasIndex(Protocol):
    """What the handlers need from the server: the workspace index (None until the workspace is known) and
    the negotiated position encoding."""

    @property
    def index(self) -> WorkspaceIndex | None: ...

    @property
    def encoding(self) -> str: ...


async def document_symbol(ls: HasIndex, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol] | None:
    if ls.index is None:
        return None
    uri = params.text_document.uri
    definitions = ls.index.document_symbols(uri)
    if not definitions or ls.encoding == UTF16:
        return document_symbol_tree(definitions)
    document = ls.index.documents.get(uri)
    if document is not None:
        return document_symbol_tree(definitions, recoder(document.source, ls.encoding))
    path = uri_to_path(uri)
    return document_symbol_tree(definitions, (await _recoders(ls.index, [path], ls.encoding))[path])


async def workspace_symbols(ls: HasIndex, params: lsp.WorkspaceSymbolParams) -> list[lsp.WorkspaceSymbol] | None:
    if ls.index is None:
        return None
    hits = ls.index.workspace_symbols(params.query, WORKSPACE_SYMBOL_LIMIT)
    if ls.encoding == UTF16:
        return [workspace_symbol(hit) for hit in hits]
    recoders = await _recoders(ls.index, {hit.path for hit in hits}, ls.encoding)
    return [workspace_symbol(hit, recoders[hit.path]) for hit in hits]


async def _recoders(index: WorkspaceIndex, paths: Iterable[str], encoding: str) -> Mapping[str, Recode]:
    """A recoder per path: over the open document's text, else the file on disk (read in a thread)."""
    sources: dict[str, bytes | None] = {}
    for path in paths:
        document = index.documents.get(uri_and_name(path)[0])
        sources[path] = document.source if document is not None else None
    if any(source is None for source in sources.values()):
        await asyncio.to_thread(_read_missing, sources)
    return {path: recoder(source or b"", encoding) for path, source in sources.items()}


def _read_missing(sources: dict[str, bytes | None]) -> None:
    for path, source in sources.items():
        if source is None:
            try:
                with open(path, "rb") as file:
                    sources[path] = file.read()
            except OSError:
                sources[path] = b""  # gone: columns stay as the index has them
