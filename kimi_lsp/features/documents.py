"""Document sync: pygls applies the edits; the index reparses incrementally; diagnostics are pushed to
clients that do not pull them. Changes on disk reported by the client feed the index."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..index.documents import uri_to_path
from ..index.model import FileEvent
from . import diagnostics, review

if TYPE_CHECKING:
    from ..server import KimiLanguageServer


_EVENT_KINDS = {
    lsp.FileChangeType.Created: "created",
    lsp.FileChangeType.Changed: "changed",
    lsp.FileChangeType.Deleted: "deleted",
}


def did_open(ls: KimiLanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
    item = params.text_document
    if ls.index is not None:
        ls.index.did_open(item.uri, ls.document(item.uri).source, item.version, item.language_id)
    review.opened(ls, item.uri)
    diagnostics.push(ls, item.uri)


def did_change(ls: KimiLanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    if ls.index is not None:
        ls.index.did_change(
            uri, ls.document(uri).source, params.content_changes, params.text_document.version, encoding=ls.encoding
        )
    diagnostics.push(ls, uri)
    review.changed(ls, uri)


def did_close(ls: KimiLanguageServer, params: lsp.DidCloseTextDocumentParams) -> None:
    review.closed(ls, params.text_document.uri)  # its review in flight is cancelled (the engine request aborted)
    ls.pipeline.forget(params.text_document.uri)
    if ls.index is not None:
        ls.index.did_close(params.text_document.uri)
    if not diagnostics.client_pulls(ls):
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


def did_change_watched_files(ls: KimiLanguageServer, params: lsp.DidChangeWatchedFilesParams) -> None:
    if ls.index is not None:
        ls.index.file_events([FileEvent(_EVENT_KINDS[c.type], uri_to_path(c.uri)) for c in params.changes])
