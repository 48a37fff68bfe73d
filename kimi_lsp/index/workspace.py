"""WorkspaceIndex: the files of the workspace roots, their outlines, imports and one symbol table, kept fresh.

Lifecycle: `await start(progress)` walks the roots, reuses what the cache says is unchanged (stat, then hash)
and indexes the rest in a process pool, merging results on the loop, so queries answer (with what is known so
far) while it runs. Afterwards disk changes come in through `file_events` (watchdog or the client's
didChangeWatchedFiles) and editor changes through `did_open/did_change/did_close`. All methods are called on the
event loop; none blocks it for long. Closed files' outlines live in the SQLite cache, not in memory.
This module is the facade: it owns the shared `IndexState` and composes the parts that do the work (builder.py,
answers.py, tracker.py); it must not hold indexing, query or tracking logic of its own.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from kimi_lsp.index.answers import ClassMember, IndexQueries
from kimi_lsp.index.builder import IndexBuilder
from kimi_lsp.index.core import IndexSettings, IndexState, ProgressCallback
from kimi_lsp.index.documents import OpenDocuments
from kimi_lsp.index.model import Definition, FileEvent, Outline, ResolvedImport, Span, SymbolLocation
from kimi_lsp.index.resolve import Resolver
from kimi_lsp.index.store import FileRecord
from kimi_lsp.index.symtable import SymbolTable
from kimi_lsp.index.tracker import IndexTracker

__all__ = ["ClassMember", "IndexSettings", "ProgressCallback", "WorkspaceIndex"]


class WorkspaceIndex:
    def __init__(
        self, roots: Sequence[str | Path], settings: IndexSettings | None = None, *, seed: str | None = None
    ) -> None:
        """seed: the cache file of another set of folders (the workspace before a folder was added or removed):
        a new cache takes the rows of this set's files from it, so they start warm."""
        self._state = IndexState.of(roots, settings or IndexSettings())
        self._builder = IndexBuilder(self._state, seed=seed)
        self._tracker = IndexTracker(self._state, self._builder)
        self._queries = IndexQueries(self._state, self._tracker.file_events)
        self._start_task: asyncio.Task[object] | None = None

    # ---- state -----------------------------------------------------------------------------------------------

    @property
    def roots(self) -> tuple[str, ...]:
        """The workspace folders, resolved."""
        return self._state.roots

    @property
    def settings(self) -> IndexSettings:
        """The settings in force (`configure` changes them and re-walks)."""
        return self._state.settings

    @settings.setter
    def settings(self, settings: IndexSettings) -> None:
        self._state.settings = settings

    @property
    def files(self) -> dict[str, FileRecord]:
        """One record per indexed file, by path (read only: the builder changes it)."""
        return self._state.files

    @property
    def documents(self) -> OpenDocuments:
        """The documents open in the editor."""
        return self._state.documents

    @property
    def table(self) -> SymbolTable:
        """The symbol table (read only: the builder and the tracker change it)."""
        return self._state.table

    @property
    def cache_path(self) -> str | None:
        """The cache file in use: None before the start and after the close, ':memory:' for none."""
        store = self._state.store
        return store.path if store is not None else None

    # ---- lifecycle -------------------------------------------------------------------------------------------

    async def start(self, progress: ProgressCallback | None = None, *, watch: bool = False) -> None:
        """Load the cache, bring it up to date with the disk, then (watch=True) follow disk changes with watchdog.
        Returns when the first full index is done; run it as a task to serve queries meanwhile."""
        self._start_task = asyncio.current_task()
        if watch:  # before the walk, so that nothing written meanwhile is missed (events wait for readiness)
            await self._tracker.watch()
        await self._builder.start(progress)

    @property
    def ready(self) -> bool:
        """The first full index is done."""
        return self._state.ready.is_set()

    async def wait_ready(self) -> None:
        await self._state.ready.wait()

    async def wait_loaded(self) -> None:
        """Until the start has loaded the cache: from then on, queries answer for every file the cache knew
        (a warm start, or a new set of folders seeded from the old set's cache), while the walk checks them."""
        await self._state.loaded.wait()

    async def close(self) -> None:
        """Stop a start() still running, stop watching, save the symbol table, close the cache."""
        task = self._start_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait([task])
        await self._tracker.close()
        await self._builder.close()

    async def reindex(self, progress: ProgressCallback | None = None) -> None:
        """Re-walk every root (new ignore rules/settings) and index what changed (the kimi.reindex command)."""
        await self._builder.rewalk(progress)

    async def configure(self, exclude: Sequence[str], max_file_bytes: int | None = None) -> None:
        """New exclude globs / size cap from the settings; re-walks only if they changed. A change that comes
        during the first index is applied by `start()`, which walks again before it reports ready."""
        state = self._state
        new = replace(
            state.settings,
            exclude=tuple(exclude),
            max_file_bytes=max_file_bytes if max_file_bytes is not None else state.settings.max_file_bytes,
        )
        if new != state.settings:
            state.settings = new
            state.rules = state.new_rules()  # for the next walk; start() redoes one that is running now
            if self.ready and state.store is not None:
                await self.reindex()

    # ---- queries (answers.py) --------------------------------------------------------------------------------

    def document_symbols(self, path_or_uri: str) -> tuple[Definition, ...]:
        """The definitions in a file's outline; () for a file the index does not know."""
        return self._queries.document_symbols(path_or_uri)

    def outline(self, path_or_uri: str) -> Outline | None:
        """The outline of an open document (current text) or an indexed file (as last indexed)."""
        return self._queries.outline(path_or_uri)

    def workspace_symbols(self, query: str, limit: int = 100) -> list[SymbolLocation]:
        """Up to `limit` symbols whose names match `query` fuzzily, best first."""
        return self._queries.workspace_symbols(query, limit)

    def definitions_named(self, name: str) -> list[SymbolLocation]:
        """Every definition spelled exactly `name`."""
        return self._queries.definitions_named(name)

    def imports_of(self, path_or_uri: str) -> tuple[ResolvedImport, ...]:
        """A file's imports, each with the workspace files it resolves to."""
        return self._queries.imports_of(path_or_uri)

    def module_members(self, module: str, from_path: str | None = None) -> tuple[Definition, ...]:
        """Top-level definitions of a module given as a path, a dotted Python module, a Go import path, a Java
        package, or a name imported by `from_path` (completion after `module.`)."""
        return self._queries.module_members(module, from_path)

    def enclosing_definitions(self, path_or_uri: str, line: int) -> tuple[Definition, ...]:
        """The definitions of a file whose span holds `line`, outermost first."""
        return self._queries.enclosing_definitions(path_or_uri, line)

    def class_members(self, path_or_uri: str, class_name: str) -> tuple[ClassMember, ...]:
        """Members of the class `class_name` of a file and of its bases, found across files through imports,
        nearest first, each name once (completion after `self.`/`this.`)."""
        return self._queries.class_members(path_or_uri, class_name)

    def references(self, uri: str, name: str | None = None) -> tuple[tuple[str, Span], ...]:
        """Identifier references in an open document (all, or those spelled `name`)."""
        return self._queries.references(uri, name)

    def excluded(self, path: str) -> bool:
        """Is the file at `path` (or, through symlinks, the file it is) kept from the index and from the model by
        the ignore rules of the root that holds it? False outside every root."""
        for candidate in {os.path.abspath(path), os.path.realpath(path)}:
            rules = self._state.rules_for(candidate)
            if rules is not None and rules.excludes(candidate):
                return True
        return False

    def stats(self) -> dict[str, object]:
        """For status displays: {"ready", "files", "symbols" (approximate between compactions), "openDocuments"}."""
        return self._queries.stats()

    def resolver(self) -> Resolver:
        """The import resolver over the current set of files."""
        return self._queries.resolver()

    # ---- open documents and disk changes (tracker.py) --------------------------------------------------------

    def did_open(self, uri: str, text: str, version: int = 0, language_id: str | None = None) -> None:
        """Parse a newly opened document; its symbols reach the workspace table after a debounce."""
        self._tracker.did_open(uri, text, version, language_id)

    def did_change(
        self,
        uri: str,
        new_text: str,
        changes: Sequence[object] = (),
        version: int | None = None,
        encoding: str = "utf-16",
    ) -> None:
        """Incremental reparse now; the document's symbols reach the workspace table after a debounce."""
        self._tracker.did_change(uri, new_text, changes, version, encoding)

    def did_close(self, uri: str) -> None:
        """Forget the document: the file's symbols as last indexed count again, and it is checked on disk."""
        self._tracker.did_close(uri)

    def file_events(self, events: Iterable[FileEvent]) -> None:
        """Feed disk changes (from didChangeWatchedFiles); they are applied in one debounced batch."""
        self._tracker.file_events(events)

    async def flush_events(self) -> None:
        """Apply pending disk changes now."""
        await self._tracker.flush_events()
