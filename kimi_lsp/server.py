"""The language server: typed state and ONE table of features.

`KimiLanguageServer` holds the settings, the engine host and the open documents' trees; it offers the few
helpers every handler needs (snapshot a document at a position, tell the client something). Handlers live in
`features/`, one module per feature, and are registered from `FEATURES` below and nowhere else.
"""

from __future__ import annotations

import asyncio
import inspect
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
from .engine_host import EngineChoice, EngineHost, EngineStatus
from .features import (
    code_actions, commands, completion, diagnostics, documents, inline_completion, lifecycle, symbols,
)
from .index.documents import OpenDocument
from .index.workspace import WorkspaceIndex
from .settings import Settings
from .snapshot import UTF16, DocumentSnapshot, Position, PositionError, offset_at
from .templates import Snippet

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
    Feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES, documents.did_change_watched_files),
    Feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL, symbols.document_symbol),
    Feature(lsp.WORKSPACE_SYMBOL, symbols.workspace_symbols),
    Feature(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, inline_completion.inline_completion, lsp.InlineCompletionOptions()),
    Feature(lsp.TEXT_DOCUMENT_COMPLETION, completion.completion, completion.OPTIONS),
    Feature(lsp.TEXT_DOCUMENT_DIAGNOSTIC, diagnostics.pull_diagnostics, diagnostics.OPTIONS),
    Feature(lsp.TEXT_DOCUMENT_CODE_ACTION, code_actions.code_actions, code_actions.OPTIONS),
    Feature(lsp.CODE_ACTION_RESOLVE, code_actions.resolve_code_action),
)


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
        self.engine_choice = engine_choice  # None: from settings (engine.url), else embedded
        self.settings = Settings()
        self.engines = EngineHost(self.send_status)
        self.index: WorkspaceIndex | None = None  # made at initialize, when the workspace roots are known
        self.folder_change = asyncio.Lock()  # workspace folder changes apply one at a time
        self.client_watches_files = False  # the client's watcher feeds the index (registered once, at its start)
        self.background: set[Any] = set()  # tasks the server owns (engine boot, indexing), kept until done
        self.engine_boot: Any = None  # the embedded engine's boot task while it runs
        self.snippet_cache: dict[str, tuple[float, tuple[Snippet, ...]]] = {}  # uri -> (expires, snippets)
        self.embedded_process: Any = None  # engine.launch.EngineProcess of the embedded engine, when one runs

    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or UTF16)

    def document(self, uri: str) -> TextDocument:
        """An open document. Raises InvalidParams for a URI the client has not opened."""
        document: TextDocument | None = self.workspace.text_documents.get(uri)
        if document is None:
            raise JsonRpcInvalidParams(f"document not open: {uri}")
        return document

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
        document = self.index.documents.get(uri) if self.index is not None else None
        return document if document is not None and document.version == version else None

    def send_status(self, status: EngineStatus) -> None:
        if getattr(self.protocol, "writer", None) is not None:  # connected to a client
            self.protocol.notify(STATUS_NOTIFICATION, status.to_json())

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Errors outside any request (unreadable messages, failing notifications): log one clear line;
        pygls' default would also pop up "Error in server" in the editor for every bad message."""
        log.error("%s: %s", getattr(source, "__name__", source), error, exc_info=log.isEnabledFor(logging.DEBUG))

    def tell(self, message: str, kind: lsp.MessageType = lsp.MessageType.Warning) -> None:
        log.log(logging.ERROR if kind == lsp.MessageType.Error else logging.WARNING, "%s", message)
        self.window_show_message(lsp.ShowMessageParams(type=kind, message=f"kimi-lsp: {message}"))


def build_server(engine_choice: EngineChoice | None = None) -> KimiLanguageServer:
    server = KimiLanguageServer(engine_choice)
    for feature in FEATURES:
        server.feature(feature.method, feature.options)(feature.handler)
    for name, handler in commands.COMMANDS.items():
        server.command(name)(_without_annotations(handler))
    return server


def _without_annotations(handler: Callable[..., Any]) -> Callable[..., Any]:
    """pygls resolves a command handler's type hints to convert its arguments; ours name the server class,
    which the feature modules import only for type checking. Commands take no typed arguments."""

    if inspect.iscoroutinefunction(handler):

        async def run_async(ls: Any, *args: Any) -> Any:
            return await handler(ls, *args)

        return run_async

    def run(ls: Any, *args: Any) -> Any:
        return handler(ls, *args)

    return run
