"""WorkspaceIndex: the files of the workspace roots, their outlines, imports and one symbol table, kept fresh.

Lifecycle: `await start(progress)` walks the roots, reuses what the cache says is unchanged (stat, then hash)
and indexes the rest in a process pool, merging results on the loop, so queries answer (with what is known so
far) while it runs. Afterwards disk changes come in through `file_events` (watchdog or the client's
didChangeWatchedFiles) and editor changes through `did_open/did_change/did_close`. All methods are called on the
event loop; none blocks it for long. Closed files' outlines live in the SQLite cache, not in memory.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import os
import sqlite3
import stat
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from kimi_lsp.index.core import Batches, IndexCore, IndexSettings, ProgressCallback, Tally, unchanged
from kimi_lsp.index.discovery import DEFAULT_EXCLUDED_DIRS, FoundFile, walk
from kimi_lsp.index.documents import uri_to_path
from kimi_lsp.index.jobs import Job, in_thread_settled, listed, release_heap
from kimi_lsp.index.model import (
    KINDS, Definition, FileEvent, Outline, ResolvedImport, Span, SymbolLocation, decode_outline,
)
from kimi_lsp.index.resolve import Resolver
from kimi_lsp.index.store import FileRecord
from kimi_lsp.index.symtable import Hit, pack_symbols
from kimi_lsp.index.watcher import Debouncer, FileWatcher
from kimi_lsp.index.worker import packed_symbols_of_blob, symbols_of

__all__ = ["IndexSettings", "ProgressCallback", "WorkspaceIndex"]
log = logging.getLogger(__name__)
_EXCLUDE_FILE = os.path.join(".git", "info", "exclude")


class WorkspaceIndex(IndexCore):
    def __init__(self, roots: Sequence[str | Path], settings: IndexSettings | None = None, *,
                 seed: str | None = None) -> None:
        super().__init__(roots, settings, seed=seed)
        self._debouncer = Debouncer(self.settings.debounce_ms / 1000, self._apply_events)
        self._watcher: FileWatcher | None = None
        self._ready = asyncio.Event()
        self._open_refresh: dict[str, asyncio.Task[None]] = {}
        self._start_task: asyncio.Task[object] | None = None

    # ---- lifecycle -------------------------------------------------------------------------------------------

    async def start(self, progress: ProgressCallback | None = None, *, watch: bool = False) -> None:
        """Load the cache, bring it up to date with the disk, then (watch=True) follow disk changes with watchdog.
        Returns when the first full index is done; run it as a task to serve queries meanwhile."""
        self._start_task = asyncio.current_task()
        if watch:  # before the walk, so that nothing written meanwhile is missed (events wait for readiness)
            watcher = FileWatcher(self.roots, asyncio.get_running_loop(), self._on_watch_event)
            if await in_thread_settled(watcher.start):  # adds a watch per directory: off the loop
                self._watcher = watcher
        self._store = await in_thread_settled(self._open_store)
        try:
            walked = await self._sync(progress, load_cache=True)
            while walked is not self._rules:  # the settings changed while it ran: walk again with their rules
                walked = await self._sync(progress, load_cache=False)
        except sqlite3.DatabaseError as exc:
            await self._rebuild(progress, exc)
        finally:
            self._loaded.set()
        release_heap()
        self._ready.set()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def wait_loaded(self) -> None:
        """Until the start has loaded the cache: from then on, queries answer for every file the cache knew
        (a warm start, or a new set of folders seeded from the old set's cache), while the walk checks them."""
        await self._loaded.wait()

    async def close(self) -> None:
        """Stop a start() still running, stop watching, save the symbol table, close the cache."""
        task = self._start_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait([task])
        self._debouncer.cancel()
        for task in self._open_refresh.values():
            task.cancel()
        if self._watcher is not None:
            await asyncio.to_thread(self._watcher.stop)
            self._watcher = None
        if self._store is not None:
            await self._settle()
            if self.ready:
                await self._save_symtab()
            self._store.close()
            self._store = None

    async def reindex(self, progress: ProgressCallback | None = None) -> None:
        """Re-walk every root (new ignore rules/settings) and index what changed (the kimi.reindex command)."""
        self._rules = self._new_rules()
        try:
            await self._sync(progress, load_cache=False)
        except sqlite3.DatabaseError as exc:
            await self._rebuild(progress, exc)

    async def configure(self, exclude: Sequence[str], max_file_bytes: int | None = None) -> None:
        """New exclude globs / size cap from the settings; re-walks only if they changed. A change that comes
        during the first index is applied by `start()`, which walks again before it reports ready."""
        new = replace(self.settings, exclude=tuple(exclude),
                      max_file_bytes=max_file_bytes if max_file_bytes is not None else self.settings.max_file_bytes)
        if new != self.settings:
            self.settings = new
            self._rules = self._new_rules()  # for the next walk; start() redoes one that is running now
            if self.ready and self._store is not None:
                await self.reindex()

    # ---- queries (loop thread) -------------------------------------------------------------------------------

    def document_symbols(self, path_or_uri: str) -> tuple[Definition, ...]:
        outline = self.outline(path_or_uri)
        return outline.definitions if outline is not None else ()

    def outline(self, path_or_uri: str) -> Outline | None:
        """The outline of an open document (current text) or an indexed file (as last indexed)."""
        doc = self._open_doc(path_or_uri)
        if doc is not None:
            return self.documents.outline(doc)
        record = self.files.get(uri_to_path(path_or_uri))
        if record is None or self._store is None:
            return None
        blob = self._store.outline(record.fid)
        try:
            return decode_outline(blob) if blob is not None else None
        except ValueError:
            log.warning("damaged cache entry for %s; re-indexing it", record.path)
            self.file_events([FileEvent("changed", record.path)])
            return None

    def workspace_symbols(self, query: str, limit: int = 100) -> list[SymbolLocation]:
        return [loc for hit in self.table.search(query, limit) if (loc := self._location(hit)) is not None]

    def definitions_named(self, name: str) -> list[SymbolLocation]:
        return [loc for hit in self.table.lookup(name) if (loc := self._location(hit)) is not None]

    def imports_of(self, path_or_uri: str) -> tuple[ResolvedImport, ...]:
        outline = self.outline(path_or_uri)
        if outline is None:
            return ()
        path, resolver = uri_to_path(path_or_uri), self.resolver()
        return tuple(ResolvedImport(ref, resolver.resolve(path, outline.language, ref)) for ref in outline.imports)

    def module_members(self, module: str, from_path: str | None = None) -> tuple[Definition, ...]:
        """Top-level definitions of a module given as a path, a dotted Python module, a Go import path, a Java
        package, or a name imported by `from_path` (completion after `module.`)."""
        out: list[Definition] = []
        for path in self._module_files(module, from_path):
            outline = self.outline(path)
            if outline is not None:
                out.extend(d for d in outline.definitions if d.parent < 0)
        return tuple(out)

    def references(self, uri: str, name: str | None = None) -> tuple[tuple[str, Span], ...]:
        """Identifier references in an open document (all, or those spelled `name`)."""
        return self.documents.references(uri, name)

    def stats(self) -> dict[str, object]:
        """For status displays: {"ready", "files", "symbols" (approximate between compactions), "openDocuments"}."""
        return {"ready": self.ready, "files": len(self.files),
                "symbols": len(self.table.base) + self.table.num_overlay_symbols,
                "openDocuments": sum(1 for _ in self.documents)}

    def resolver(self) -> Resolver:
        if self._resolver is None:
            packages = {p: r.package for p, r in self.files.items() if r.package}
            self._resolver = Resolver(self.roots, self.files.keys(), packages)
        return self._resolver

    def _module_files(self, module: str, from_path: str | None) -> list[str]:
        path = uri_to_path(module) if module.startswith("file:") else module
        if os.path.isabs(path):
            return [path] if path in self.files else []
        imports = self.imports_of(from_path) if from_path is not None else ()
        return self.resolver().module_files(module, imports)

    def _location(self, hit: Hit) -> SymbolLocation | None:
        record = self._by_fid.get(hit.fid)
        return SymbolLocation(hit.name, KINDS[hit.kind], record.path, hit.line, hit.col) if record else None

    # ---- open documents --------------------------------------------------------------------------------------

    def did_open(self, uri: str, text: str, version: int = 0, language_id: str | None = None) -> None:
        if self.documents.open(uri, text, version, language_id) is not None:
            self._schedule_open_refresh(uri)

    def did_change(self, uri: str, new_text: str, changes: Sequence[object] = (), version: int | None = None,
                   encoding: str = "utf-16") -> None:
        """Incremental reparse now; the document's symbols reach the workspace table after a debounce."""
        self.documents.change(uri, new_text, changes, version, encoding)
        self._schedule_open_refresh(uri)

    def did_close(self, uri: str) -> None:
        self.documents.close(uri)
        task = self._open_refresh.pop(uri, None)
        if task is not None:
            task.cancel()
        path = uri_to_path(uri)
        record = self.files.get(path)
        blob = self._store.outline(record.fid) if record is not None and self._store is not None else None
        if record is not None and blob is not None:  # the disk version is the truth again
            self.table.replace_file(record.fid, packed_symbols_of_blob(blob))
        self.file_events([FileEvent("changed", path)])

    def _open_doc(self, path_or_uri: str) -> str | None:
        if path_or_uri in self.documents:
            return path_or_uri
        path = uri_to_path(path_or_uri)
        return next((d.uri for d in self.documents if d.path == path), None)

    def _schedule_open_refresh(self, uri: str) -> None:
        old = self._open_refresh.pop(uri, None)
        if old is not None:
            old.cancel()
        self._open_refresh[uri] = asyncio.get_running_loop().create_task(self._refresh_open(uri))

    async def _refresh_open(self, uri: str) -> None:
        await asyncio.sleep(self.settings.debounce_ms / 1000)
        self._open_refresh.pop(uri, None)
        outline, record = self.documents.outline(uri), self.files.get(uri_to_path(uri))
        if outline is not None and record is not None:
            self.table.replace_file(record.fid, pack_symbols(symbols_of(outline)))

    # ---- disk changes ----------------------------------------------------------------------------------------

    def file_events(self, events: Iterable[FileEvent]) -> None:
        """Feed disk changes (from didChangeWatchedFiles); they are applied in one debounced batch."""
        for event in events:
            if _ours(event.path):
                self._debouncer.add(event)

    async def flush_events(self) -> None:
        """Apply pending disk changes now."""
        await self._debouncer.drain()

    def _on_watch_event(self, event: FileEvent) -> None:
        if _ours(event.path):
            self._debouncer.add(event)

    async def _apply_events(self, batch: list[FileEvent]) -> None:
        await self._ready.wait()  # events that come during the first index wait for it
        if self._store is None:
            return
        try:
            await self._apply_batch(batch)
        except sqlite3.DatabaseError as exc:
            log.warning("index cache failed while applying file changes (%s); rebuilding it", exc)
            await self.reindex()

    async def _apply_batch(self, batch: list[FileEvent]) -> None:
        """Index the changed files, forget the deleted ones. A directory made, moved or removed may come as one
        event, not one per file in it (VS Code's watcher does that for a folder copied in or deleted): a new
        directory the walk would enter is walked, and a deleted one drops what was under it. A changed
        .gitignore or exclude file re-walks everything."""
        names = {os.path.basename(e.path) for e in batch}
        if any(_EXCLUDE_FILE in e.path for e in batch) or ".gitignore" in names:
            await self.reindex()
            return
        found = [(os.path.abspath(e.path), e.kind, _stat_of(e.path)) for e in batch]
        sizes: dict[str, int] = {}  # the files to index
        gone: list[FileRecord] = []
        vanished: list[str] = []  # not a file the index knows: a directory, if anything
        new_dirs: list[str] = []
        for path, kind, st in found:
            record = self.files.get(path)
            rules = self._rules_for(path)
            if st is not None and stat.S_ISREG(st.st_mode) and rules is not None and rules.accepts(path):
                sizes[path] = st.st_size
            elif st is not None and stat.S_ISDIR(st.st_mode) and kind == "created":
                if rules is not None and rules.walks_into(path):
                    new_dirs.append(path)
            elif record is not None:
                gone.append(record)
            elif st is None:
                vanished.append(path)
        walked = {f.path: f for f in await self._walk_dirs(new_dirs)}
        for f in walked.values():
            if not unchanged(self.files.get(f.path), f):
                sizes[f.path] = f.size
        # under a new directory: what its walk did not find is gone, or ignored now; under a vanished one: all
        self._remove(gone + [r for r in self._records_under(new_dirs + vanished) if r.path not in walked])
        jobs = [((path, record.digest if (record := self.files.get(path)) is not None else None), size)
                for path, size in sizes.items()]
        batches = listed(Batches.cut(jobs))
        await self._run_and_merge(batches, None, Tally(len(jobs), walking=False), self.settings.workers)

    async def _walk_dirs(self, directories: list[str]) -> list[FoundFile]:
        """The indexable files under new directories, walked in a thread."""
        pairs = [(rules, d) for d in directories if (rules := self._rules_for(d)) is not None]
        if not pairs:
            return []
        return await in_thread_settled(lambda: [f for rules, d in pairs for f in walk(rules, start=d)])

    def _records_under(self, directories: list[str]) -> list[FileRecord]:
        if not directories:
            return []
        paths = sorted(self.files)
        under = []
        for directory in directories:
            prefix = directory + os.sep
            i = bisect.bisect_left(paths, prefix)
            while i < len(paths) and paths[i].startswith(prefix):
                under.append(self.files[paths[i]])
                i += 1
        return under


def _ours(path: str) -> bool:
    """Not git's own writes, node_modules churn or the like (the built-in excluded directories), except git's
    exclude file."""
    return _EXCLUDE_FILE in path or not DEFAULT_EXCLUDED_DIRS.intersection(path.split(os.sep))


def _stat_of(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None
