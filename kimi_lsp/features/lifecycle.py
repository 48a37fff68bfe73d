"""initialize / initialized / shutdown, settings and workspace folder changes; starting the index.

The engine's life is `EngineHost`'s (model/host.py): these handlers only tell it when to start and stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

from .. import config_file
from ..index.documents import uri_to_path
from ..index.model import Progress
from ..index.workspace import IndexSettings, WorkspaceIndex
from ..settings import parse_settings

if TYPE_CHECKING:
    from ..server import KimiLanguageServer

log = logging.getLogger(__name__)


def apply_settings(ls: KimiLanguageServer, raw: Any) -> None:
    """Parse `raw` over the current settings; name every invalid value once, in one message."""
    result = parse_settings(raw, ls.settings)
    ls.settings = result.settings
    if result.invalid:
        ls.tell(f"invalid setting(s) {', '.join(result.invalid)}: using the default(s)")


def workspace_roots(params: lsp.InitializeParams) -> list[str]:
    """Local folders of the workspace: its folders, else the root URI, else none (single files)."""
    uris = [folder.uri for folder in params.workspace_folders or []] or ([params.root_uri] if params.root_uri else [])
    return [uri_to_path(uri) for uri in uris if uri.startswith("file:")]


def initialize(ls: KimiLanguageServer, params: lsp.InitializeParams) -> None:
    ls.settings = config_file.startup().settings  # defaults < config file < environment (config_file.py)
    apply_settings(ls, params.initialization_options)  # < the client's settings
    ls.index = WorkspaceIndex(workspace_roots(params), IndexSettings(exclude=ls.settings.exclude))


async def initialized(ls: KimiLanguageServer, params: lsp.InitializedParams) -> None:
    await ls.engines.start(ls.settings.engine, ls.index.roots if ls.index is not None else ())
    _in_background(ls, start_index(ls, ls.index))


async def shutdown(ls: KimiLanguageServer, params: None) -> None:
    await ls.engines.stop()
    async with ls.folder_change:  # a new set of folders being loaded is swapped in first
        if ls.index is not None:
            await ls.index.close()


async def did_change_configuration(ls: KimiLanguageServer, params: lsp.DidChangeConfigurationParams) -> None:
    old_engine = ls.settings.engine
    apply_settings(ls, params.settings)
    ls.engines.configure(ls.settings.engine)  # the deadline applies at once, whichever engine
    if ls.settings.engine != old_engine and ls.engines.follows_settings():
        await ls.engines.stop()
        await ls.engines.start(ls.settings.engine, ls.index.roots if ls.index is not None else ())
    if ls.index is not None:  # during the first index too: that index walks again with it before it is ready
        await ls.index.configure(ls.settings.exclude)


def _in_background(ls: KimiLanguageServer, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    task = asyncio.create_task(work)
    ls.background.add(task)
    task.add_done_callback(ls.background.discard)
    return task


def _client_watches_files(ls: KimiLanguageServer) -> bool:
    workspace = ls.client_capabilities.workspace
    watched = workspace.did_change_watched_files if workspace is not None else None
    return bool(watched is not None and watched.dynamic_registration)


async def _register_file_watcher(ls: KimiLanguageServer) -> bool:
    """Ask the client to watch the workspace for us; False if it refuses."""
    watcher = lsp.DidChangeWatchedFilesRegistrationOptions(watchers=[lsp.FileSystemWatcher(glob_pattern="**/*")])
    registration = lsp.Registration(
        id="kimi-watched-files", method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES, register_options=watcher
    )
    try:
        await ls.client_register_capability_async(lsp.RegistrationParams(registrations=[registration]))
    except JsonRpcException as error:
        log.info("client did not register the file watcher (%s): watching with watchdog", error)
        return False
    return True


async def start_index(ls: KimiLanguageServer, index: WorkspaceIndex | None) -> None:
    """Index the workspace off the loop, with progress; follow disk changes through the client's file watcher
    when it offers one (dynamic registration, asked for once), else through watchdog - never both."""
    if index is None or not index.roots:
        return
    if not ls.client_watches_files:
        ls.client_watches_files = _client_watches_files(ls) and await _register_file_watcher(ls)
    async with ls.with_progress("Indexing") as progress:

        def report(step: Progress) -> None:
            progress.report(step.message, step.percentage)

        await index.start(report, watch=not ls.client_watches_files)
    log.info("index ready: %d files", len(index.files))


async def did_change_workspace_folders(ls: KimiLanguageServer, params: lsp.DidChangeWorkspaceFoldersParams) -> None:
    """Index the new set of folders with a new index. The old one answers until the new one has loaded its
    cache; then the open documents move over and the old one closes. The cache is per set of folders: a new
    set's cache takes the rows of the folders it keeps from the old one, so only an added folder is parsed.
    Changes apply one at a time, each to the set of folders the one before left."""
    async with ls.folder_change:
        old = ls.index
        if old is None:
            return
        removed = {_resolved(f.uri) for f in params.event.removed if f.uri.startswith("file:")}
        roots = [r for r in old.roots if r not in removed]
        added = (_resolved(f.uri) for f in params.event.added if f.uri.startswith("file:"))
        roots += [r for r in added if r not in roots]
        if roots == list(old.roots):
            return
        new = WorkspaceIndex(roots, old.settings, seed=old.cache_path)
        started = _in_background(ls, start_index(ls, new))
        loaded = asyncio.ensure_future(new.wait_loaded())
        await asyncio.wait([loaded, started], return_when=asyncio.FIRST_COMPLETED)
        loaded.cancel()
        ls.index = new
        for document in ls.workspace.text_documents.values():  # keyed by unquoted URI: use the document's
            new.did_open(document.uri, document.source, document.version or 0, document.language_id)
        await old.close()


def _resolved(uri: str) -> str:
    return str(Path(uri_to_path(uri)).resolve())
