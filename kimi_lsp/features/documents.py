"""Document sync: pygls applies the edits; we refresh the syntax tree and push diagnostics when needed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from . import diagnostics

if TYPE_CHECKING:
    from ..server import KimiLanguageServer


def did_open(ls: KimiLanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
    diagnostics.push(ls, params.text_document.uri)


def did_change(ls: KimiLanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
    diagnostics.push(ls, params.text_document.uri)


def did_close(ls: KimiLanguageServer, params: lsp.DidCloseTextDocumentParams) -> None:
    ls.trees.forget(params.text_document.uri)
    if not diagnostics.client_pulls(ls):
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))
