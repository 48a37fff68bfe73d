"""The language server: typed state and ONE table of features.

`KimiLanguageServer` holds the settings, the workspace index, the engine host and the pipeline to the model;
it offers the few helpers every handler needs (snapshot a document at a position, tell the client something)
and is the `HostClient` through which the engine host reaches the editor. Handlers live in `features/`, one
module per feature, and are registered from `FEATURES` and `COMMANDS` below and nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import unquote

from lsprotocol import types as lsp
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
    JsonRpcServerNotInitialized,
)
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
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
from .wire import LspWorkspace, RememberingReader, request_id

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
COMMANDS: dict[str, Callable[..., Any]] = {
    "kimi.status": commands.status,
    "kimi.reindex": commands.reindex,
    "kimi.explain": commands.explain,
    "kimi.rewrite": commands.rewrite,
}
_SEVERITIES = {"error": lsp.MessageType.Error, "warning": lsp.MessageType.Warning, "info": lsp.MessageType.Info}


class _Unanswerable:
    """Stands in for a request we already answered with an error; pygls ignores it (unknown jsonrpc)."""

    jsonrpc = "ignored"


class KimiProtocol(LanguageServerProtocol):
    """pygls leaves some requests unanswered, so the client waits forever: one whose params do not match the
    schema (answered here with InvalidParams, naming the method), one that arrives before initialize
    (ServerNotInitialized) or after shutdown (InvalidRequest), and one it cannot read at all (ParseError, see
    `answer_unreadable`). Notifications before initialize are dropped, as LSP says. Documents follow LSP's
    line rules (wire.py)."""

    def __init__(self, server: Any, converter: Any) -> None:
        self.initialize_seen = False
        self.reader: RememberingReader | None = None  # the input stream, over stdio
        super().__init__(server, converter)

    def handle_message(self, message: Any) -> None:
        method = getattr(message, "method", None)
        msg_id = getattr(message, "id", None)
        if isinstance(message, dict):  # no "jsonrpc" member: pygls cannot tell what it is
            self._refuse(message.get("id"), message.get("method"), JsonRpcInvalidRequest("not a JSON-RPC 2.0 message"))
            return
        if method == lsp.INITIALIZE:
            self.initialize_seen = True
        elif not self.initialize_seen and method != lsp.EXIT:
            self._refuse(msg_id, method, JsonRpcServerNotInitialized(f"{method} before initialize"))
            return
        elif self._shutdown and method != lsp.EXIT:
            self._refuse(msg_id, method, JsonRpcInvalidRequest(f"{method} after shutdown"))
            return
        super().handle_message(message)

    def _execute_handler(
        self,
        msg_id: Any,
        handler: Any,
        callback: Callable[[Any], None],
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        """pygls keeps the future of every notification handled by a generator or a coroutine (didOpen,
        didChange, didClose...) in `_request_futures` under a fresh id, and only a request's answer removes its
        own: about 1 KB a keystroke, for as long as the server runs. Every handler's entry goes once it is done.

        Whatever follows a handler (its entry leaving, pygls' answer, a generator's next step) runs on the
        event loop's next turn, never inside the call that finished the future: a generator handler's future is
        a concurrent Future, whose callbacks run inside `cancel()`, and pygls' shutdown cancels them while it
        iterates over `_request_futures`; a thread handler's callbacks would otherwise run on its worker."""
        loop = asyncio.get_running_loop()

        def finish(future: Any) -> None:
            if self._request_futures.get(msg_id) is future:
                del self._request_futures[msg_id]
            callback(future)

        def done(future: Any) -> None:
            loop.call_soon_threadsafe(finish, future)

        super()._execute_handler(msg_id, handler, done, args, kwargs)

    def _handle_response(self, msg_id: Any, result: Any | None = None, error: Any | None = None) -> None:
        """A client's answer to our request. One we stopped waiting for (its waiter was cancelled, which
        cancels the future) is dropped: pygls would raise InvalidStateError setting its result."""
        future = self._request_futures.get(msg_id)
        if future is not None and future.done():
            del self._request_futures[msg_id]
            return
        super()._handle_response(msg_id, result, error)

    def _refuse(self, msg_id: Any, method: Any, error: JsonRpcException) -> None:
        """Answer a request with `error`; a notification (or a response) gets nothing."""
        if method is not None and isinstance(msg_id, (int, str)):
            self._send_response(msg_id, error=error.to_response_error())

    def answer_unreadable(self, error: Exception) -> None:
        """pygls could not read the last message (not JSON, not UTF-8, nested too deep): if it was a request
        whose id can be found, answer it with ParseError."""
        msg_id = request_id(self.reader.last_body) if self.reader is not None else None
        if msg_id is not None:
            reason = f"{type(error).__name__}: {str(error)[:200]}"
            self._send_response(msg_id, error=JsonRpcParseError(f"unreadable request: {reason}").to_response_error())

    @lsp_method(lsp.INITIALIZE)
    def lsp_initialize(self, params: lsp.InitializeParams) -> Generator[Any, Any, lsp.InitializeResult]:
        result = yield from super().lsp_initialize(params)
        self._workspace.__class__ = LspWorkspace  # the same workspace, with documents that follow LSP's lines
        return result

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
        document: TextDocument | None = self.workspace.text_documents.get(unquote(uri))  # pygls' keys
        if document is None:
            raise JsonRpcInvalidParams(f"document not open: {uri}")
        return document

    def document_version(self, uri: str) -> int | None:
        """The open document's version now (None: not open)."""
        document: TextDocument | None = self.workspace.text_documents.get(unquote(uri))
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
        pygls' default would also pop up "Error in server" in the editor for every bad message. A request
        that could not be read is answered with an error (pygls reports those with source JsonRpcException)."""
        log.error("%s: %s", getattr(source, "__name__", source), error, exc_info=log.isEnabledFor(logging.DEBUG))
        if source is JsonRpcException and isinstance(self.protocol, KimiProtocol):
            self.protocol.answer_unreadable(error)

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve over stdio, remembering each message read (see KimiProtocol.answer_unreadable)."""
        reader = RememberingReader(stdin or sys.stdin.buffer)
        if isinstance(self.protocol, KimiProtocol):
            self.protocol.reader = reader
        super().start_io(reader, stdout)  # type: ignore[arg-type]

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
