"""The language server: typed state and ONE table of features.

`KimiLanguageServer` holds the settings, the workspace index, the engine host and the pipeline to the model;
it offers the few helpers every handler needs (snapshot a document at a position, tell the client something)
and is the `HostClient` through which the engine host reaches the editor. Handlers live in `features/`, one
module per feature, and are registered from `FEATURES` and `COMMANDS` below and nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.workspace import TextDocument

from . import __version__
from .features import (
    code_actions,
    commands,
    completion,
    diagnostics,
    documents,
    inline_completion,
    lifecycle,
    review,
    symbols,
)
from .index.documents import OpenDocument
from .index.workspace import WorkspaceIndex
from .model.host import EngineChoice, EngineHost, EngineStatus, Severity
from .pipeline import Pipeline, parsed_document
from .progress import ServerProgress
from .review import Reviews
from .settings import Settings
from .snapshot import UTF16, DocumentSnapshot, Position, PositionError, offset_at

log = logging.getLogger(__name__)

STATUS_NOTIFICATION = "kimi/status"


@dataclass(slots=True, frozen=True)
class Feature:
    method: str
    handler: Callable[..., Any]
    options: Any = None


FEATURES: tuple[Feature, ...] = (
    Feature(lsp.INITIALIZE, lifecycle.initialize),
    Feature(lsp.INITIALIZED, lifecycle.initialized),
    Feature(lsp.SHUTDOWN, lifecycle.shutdown),
    Feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION, lifecycle.did_change_configuration),
    Feature(lsp.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS, lifecycle.did_change_workspace_folders),
    Feature(lsp.TEXT_DOCUMENT_DID_OPEN, documents.did_open),
    Feature(lsp.TEXT_DOCUMENT_DID_CHANGE, documents.did_change),
    Feature(lsp.TEXT_DOCUMENT_DID_CLOSE, documents.did_close),
    Feature(lsp.TEXT_DOCUMENT_DID_SAVE, review.did_save, lsp.SaveOptions(include_text=False)),
    Feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES, documents.did_change_watched_files),
    Feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL, symbols.document_symbol),
    Feature(lsp.WORKSPACE_SYMBOL, symbols.workspace_symbols),
    Feature(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, inline_completion.inline_completion, lsp.InlineCompletionOptions()),
    Feature(lsp.TEXT_DOCUMENT_COMPLETION, completion.completion, completion.OPTIONS),
    Feature(lsp.TEXT_DOCUMENT_DIAGNOSTIC, diagnostics.pull_diagnostics, diagnostics.OPTIONS),
    Feature(lsp.TEXT_DOCUMENT_CODE_ACTION, code_actions.code_actions, code_actions.OPTIONS),
    Feature(lsp.CODE_ACTION_RESOLVE, code_actions.resolve_code_action),
)
COMMANDS: dict[str, Callable[..., Any]] = {"kimi.status": commands.status, "kimi.reindex": commands.reindex}
_SEVERITIES = {"error": lsp.MessageType.Error, "warning": lsp.MessageType.Warning, "info": lsp.MessageType.Info}


class _Unanswerable:
    """Stands in for a request we already answered with an error; pygls ignores it (unknown jsonrpc)."""

    jsonrpc = "ignored"


class KimiProtocol(LanguageServerProtocol):
    """pygls drops a request whose params do not match the schema without answering it, so the client waits
    forever. Answer it with InvalidParams instead, naming the method."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException:
            if "id" not in data or "method" not in data:
                raise
            error = JsonRpcInvalidParams(f"invalid params for {data['method']}")
            self._send_response(data["id"], error=error.to_response_error())
            return _Unanswerable()


class KimiLanguageServer(LanguageServer):
    def __init__(self, engine_choice: EngineChoice | None = None) -> None:
        super().__init__("kimi-lsp", __version__, protocol_cls=KimiProtocol)
        self.settings = Settings()
        self.engines = EngineHost(self, engine_choice)  # engine_choice None: engine.url, else embedded
        self.pipeline = Pipeline(self.engines, self.document_version)
        self.reviews = Reviews(lambda uri: review.review_document(self, uri))  # model review as diagnostics
        self.index: WorkspaceIndex | None = None  # made at initialize, when the workspace roots are known
        self.folder_change = asyncio.Lock()  # workspace folder changes apply one at a time
        self.client_watches_files = False  # the client's watcher feeds the index (registered once, at its start)
        self.background: set[asyncio.Task[None]] = set()  # tasks the server owns (indexing), kept until done

    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or UTF16)

    def document(self, uri: str) -> TextDocument:
        """An open document. Raises InvalidParams for a URI the client has not opened."""
        document: TextDocument | None = self.workspace.text_documents.get(uri)
        if document is None:
            raise JsonRpcInvalidParams(f"document not open: {uri}")
        return document

    def document_version(self, uri: str) -> int | None:
        """The open document's version now (None: not open)."""
        document: TextDocument | None = self.workspace.text_documents.get(uri)
        return None if document is None else document.version or 0

    def snapshot(self, uri: str, position: lsp.Position) -> DocumentSnapshot:
        """The document with the cursor at `position`. Raises InvalidParams for impossible positions."""
        document = self.document(uri)
        text = document.source
        try:
            offset = offset_at(text, Position(position.line, position.character), self.encoding)
        except PositionError as error:
            raise JsonRpcInvalidParams(f"{uri}: {error}") from None
        return DocumentSnapshot(uri, document.language_id or "", document.version or 0, text, offset)

    def parsed(self, uri: str, version: int) -> OpenDocument | None:
        """The open document's syntax tree at `version` (None: a language we do not parse, or a stale tree)."""
        return parsed_document(self.index, uri, version)

    def send_status(self, status: EngineStatus) -> None:
        if getattr(self.protocol, "writer", None) is not None:  # connected to a client
            self.protocol.notify(STATUS_NOTIFICATION, status.to_json())

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Errors outside any request (unreadable messages, failing notifications): log one clear line;
        pygls' default would also pop up "Error in server" in the editor for every bad message."""
        log.error("%s: %s", getattr(source, "__name__", source), error, exc_info=log.isEnabledFor(logging.DEBUG))

    def tell(self, message: str, severity: Severity = "warning") -> None:
        """Show the user one message (also in the client's log, and ours)."""
        log.log(logging.ERROR if severity == "error" else logging.WARNING, "%s", message)
        kind, text = _SEVERITIES[severity], f"kimi-lsp: {message}"
        self.window_show_message(lsp.ShowMessageParams(type=kind, message=text))
        self.window_log_message(lsp.LogMessageParams(type=kind, message=text))  # for clients that hide popups

    def with_progress(self, title: str) -> ServerProgress:
        """Work-done progress titled `title` (a no-op for clients that do not show it)."""
        return ServerProgress(self, title)


def build_server(engine_choice: EngineChoice | None = None) -> KimiLanguageServer:
    server = KimiLanguageServer(engine_choice)
    for feature in FEATURES:
        server.feature(feature.method, feature.options)(feature.handler)
    for name, handler in COMMANDS.items():
        server.command(name)(handler)
    return server
