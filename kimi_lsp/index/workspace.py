"""WorkspaceIndex: the files of the workspace roots, their outlines, imports and one symbol table, kept fresh.

Lifecycle: `await start(progress)` walks the roots, reuses what the cache says is unchanged (stat, then hash)
and indexes the rest in a process pool, merging results on the loop, so queries answer (with what is known so
far) while it runs. Afterwards disk changes come in through `file_events` (watchdog or the client's
didChangeWatchedFiles) and editor changes through `did_open/did_change/did_close`. All methods are called on the
event loop; none blocks it for long. Closed files' outlines live in the SQLite cache, not in memory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from kimi_lsp.index.discovery import DEFAULT_MAX_FILE_BYTES, FoundFile, IgnoreRules, walk_all
from kimi_lsp.index.documents import OpenDocuments, uri_to_path
from kimi_lsp.index.jobs import Job, default_workers, release_heap, run_jobs, start_pool
from kimi_lsp.index.model import (
    KINDS, Definition, FileEvent, Outline, Progress, ResolvedImport, SymbolLocation, decode_outline,
)
from kimi_lsp.index.resolve import Resolver
from kimi_lsp.index.store import FileRecord, FileRow, IndexStore, default_cache_path
from kimi_lsp.index.symtable import Base, Hit, SymbolTable, build_compacted, pack_symbols
from kimi_lsp.index.watcher import Debouncer, FileWatcher
from kimi_lsp.index.worker import FileResult, packed_symbols_of_blob, symbols_of

log = logging.getLogger(__name__)
COMPACT_AFTER = 50_000  # overlay symbols before the table is folded into a new base


@dataclass(slots=True, frozen=True)
class IndexSettings:
    """exclude: gitignore-style globs relative to each root; cache_path: None = the user cache directory,
    ':memory:' = no file; workers: processes for cold indexing (0 = a thread)."""

    exclude: tuple[str, ...] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    cache_path: str | None = None
    workers: int = default_workers()
    debounce_ms: int = 200


ProgressCallback = Callable[[Progress], None]


class WorkspaceIndex:
    def __init__(self, roots: Sequence[str | Path], settings: IndexSettings | None = None) -> None:
        self.settings = settings or IndexSettings()
        self.roots = tuple(str(Path(r).resolve()) for r in roots)
        self.documents = OpenDocuments()
        self.files: dict[str, FileRecord] = {}
        self.table = SymbolTable()
        self._rules = self._new_rules()
        self._store: IndexStore | None = None
        self._by_fid: dict[int, FileRecord] = {}
        self._next_fid = 0
        self._saved_generation = -1  # the symbol table as last written to the cache
        self._saved_base: Base | None = None
        self._resolver: Resolver | None = None
        self._debouncer = Debouncer(self.settings.debounce_ms / 1000, self._apply_events)
        self._watcher: FileWatcher | None = None
        self._ready = asyncio.Event()
        self._compacting = False
        self._open_refresh: dict[str, asyncio.Task[None]] = {}

    # ---- lifecycle -------------------------------------------------------------------------------------------

    async def start(self, progress: ProgressCallback | None = None, *, watch: bool = False) -> None:
        """Load the cache, bring it up to date with the disk, then (watch=True) follow disk changes with watchdog.
        Returns when the first full index is done; run it as a task to serve queries meanwhile."""
        cache = self.settings.cache_path or str(default_cache_path(self.roots))
        self._store = await asyncio.to_thread(IndexStore, cache, "\n".join(sorted(self.roots)))
        try:
            await self._sync(progress, load_cache=True)
        except sqlite3.DatabaseError as exc:
            log.warning("index cache unreadable (%s); rebuilding it", exc)
            self._store.reset()
            self.files, self._by_fid, self.table, self._next_fid = {}, {}, SymbolTable(), 0
            await self._sync(progress, load_cache=False)
        release_heap()
        if watch:
            self._watcher = FileWatcher(self.roots, asyncio.get_running_loop(), self._on_watch_event)
            self._watcher.start()
        self._ready.set()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def close(self) -> None:
        """Stop watching, save the symbol table, close the cache."""
        self._debouncer.cancel()
        for task in self._open_refresh.values():
            task.cancel()
        if self._watcher is not None:
            await asyncio.to_thread(self._watcher.stop)
            self._watcher = None
        if self._store is not None:
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
            log.warning("index cache failed (%s); rebuilding it", exc)
            assert self._store is not None
            self._store.reset()
            self.files, self._by_fid, self.table, self._next_fid = {}, {}, SymbolTable(), 0
            self._resolver = None
            await self._sync(progress, load_cache=False)

    async def configure(self, exclude: Sequence[str], max_file_bytes: int | None = None) -> None:
        """New exclude globs / size cap from the settings; re-walks only if they changed."""
        new = replace(self.settings, exclude=tuple(exclude),
                      max_file_bytes=max_file_bytes if max_file_bytes is not None else self.settings.max_file_bytes)
        if new != self.settings:
            self.settings = new
            if self._store is not None:
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
            self._debouncer.add(event)

    async def flush_events(self) -> None:
        """Apply pending disk changes now."""
        await self._debouncer.drain()

    def _on_watch_event(self, event: FileEvent, is_dir: bool) -> None:
        self._debouncer.add(FileEvent("rescan", event.path) if is_dir else event)

    async def _apply_events(self, batch: list[FileEvent]) -> None:
        if self._store is None:
            return
        try:
            await self._apply_batch(batch)
        except sqlite3.DatabaseError as exc:
            log.warning("index cache failed while applying file changes (%s); rebuilding it", exc)
            await self.reindex()

    async def _apply_batch(self, batch: list[FileEvent]) -> None:
        names = {os.path.basename(e.path) for e in batch}
        if any(e.kind == "rescan" for e in batch) or ".gitignore" in names or "exclude" in names:
            await self.reindex()
            return
        jobs: list[Job] = []
        for event in batch:
            path = os.path.abspath(event.path)
            record = self.files.get(path)
            rules = self._rules_for(path)
            if rules is not None and rules.accepts(path) and os.path.isfile(path):
                jobs.append((path, record.digest if record is not None else None))
            elif record is not None:
                self._remove([record])
        await self._run_and_merge(jobs, None, 0, workers=0)

    # ---- indexing --------------------------------------------------------------------------------------------

    def _new_rules(self) -> list[IgnoreRules]:
        return [IgnoreRules(r, self.settings.exclude, self.settings.max_file_bytes) for r in self.roots]

    def _rules_for(self, path: str) -> IgnoreRules | None:
        matching = [r for r in self._rules if path.startswith(str(r.root) + os.sep)]
        return max(matching, key=lambda r: len(str(r.root)), default=None)

    async def _sync(self, progress: ProgressCallback | None, *, load_cache: bool) -> None:
        assert self._store is not None
        store = self._store
        cold = not self.files and (not load_cache or store.is_empty())
        pool = start_pool(self.settings.workers) if cold and self.settings.workers > 0 else None
        if load_cache:
            stored = await asyncio.to_thread(store.load_files)
            base = await asyncio.to_thread(store.load_symtab)
            await self._install_stored(stored, base)
        found: dict[str, FoundFile] = {}
        for rules in self._rules:
            found.update((f.path, f) for f in await asyncio.to_thread(walk_all, rules))
        self._remove([r for p, r in self.files.items() if p not in found])
        jobs: list[Job] = []
        for path, f in found.items():
            record = self.files.get(path)
            if record is None or record.size != f.size or record.mtime_ns != f.mtime_ns:
                jobs.append((path, record.digest if record is not None else None))
        jobs.sort(key=lambda j: -found[j[0]].size)  # big files first: the pool ends evenly
        await self._run_and_merge(jobs, progress, len(found) - len(jobs), self.settings.workers, pool)
        await self._save_symtab()

    async def _save_symtab(self) -> None:
        if self.table.generation == self._saved_generation and self.table.base is self._saved_base:
            return
        await self._compact()
        if self._store is not None and not self.table.overlay and not self.table.dead:
            self._store.save_symtab(self.table.base)
            self._saved_generation, self._saved_base = self.table.generation, self.table.base

    async def _install_stored(self, stored: list[FileRecord], base: Base | None) -> None:
        self.files = {r.path: r for r in stored}
        self._by_fid = {r.fid: r for r in self.files.values()}
        self._next_fid = max(self._by_fid, default=0)
        self._resolver = None
        if base is None and self.files:
            assert self._store is not None
            log.info("symbol table snapshot missing or stale; rebuilding it from %d outlines", len(self.files))
            base = await asyncio.to_thread(self._store.rebuild_symtab, packed_symbols_of_blob)
        self.table = SymbolTable(base) if base is not None else SymbolTable()
        self._saved_generation, self._saved_base = (0, base) if base is not None else (-1, None)

    async def _run_and_merge(self, jobs: list[Job], progress: ProgressCallback | None, done: int,
                             workers: int, pool: ProcessPoolExecutor | None = None) -> None:
        total = done + len(jobs)
        if progress is not None:
            progress(Progress(done, total))
        async for results in run_jobs(jobs, self.settings.max_file_bytes, workers, pool=pool):
            self._merge(results)
            done += len(results)
            if progress is not None:
                progress(Progress(done, total))
            if self.table.num_overlay_symbols > COMPACT_AFTER and not self._compacting:
                asyncio.get_running_loop().create_task(self._compact())
        if self._store is not None:
            self._store.flush()

    def _merge(self, results: list[FileResult]) -> None:
        assert self._store is not None
        indexed = [r for r in results if r.status == "indexed"]
        ids = [self._fid_for(r.path) for r in indexed]
        self._store.upsert([FileRow(fid, r.path, r.language, r.size, r.mtime_ns, r.digest, r.package, r.outline)
                            for fid, r in zip(ids, indexed)])
        open_paths = {d.path for d in self.documents}
        for fid, r in zip(ids, indexed):
            self._put(FileRecord(fid, r.path, r.language, r.size, r.mtime_ns, r.digest, r.package))
            if r.path not in open_paths:
                self.table.replace_file(fid, r.symbols)
        touched = []
        for r in results:
            old = self.files.get(r.path)
            if r.status == "unchanged" and old is not None:
                self._put(FileRecord(old.fid, r.path, old.language, r.size, r.mtime_ns, old.digest, old.package))
                touched.append((old.fid, r.size, r.mtime_ns))
            elif r.status == "skipped" and old is not None:
                self._remove([old])
        if touched:
            self._store.touch(touched)

    def _fid_for(self, path: str) -> int:
        record = self.files.get(path)
        if record is not None:
            return record.fid
        self._next_fid += 1
        return self._next_fid

    def _put(self, record: FileRecord) -> None:
        if record.path not in self.files:
            self._resolver = None
        self.files[record.path] = record
        self._by_fid[record.fid] = record

    def _remove(self, records: list[FileRecord]) -> None:
        if not records:
            return
        for record in records:
            self.files.pop(record.path, None)
            self._by_fid.pop(record.fid, None)
            self.table.remove_file(record.fid)
        assert self._store is not None
        self._store.delete(r.fid for r in records)
        self._resolver = None

    async def _compact(self) -> None:
        if self._compacting or (not self.table.overlay and not self.table.dead):
            return
        self._compacting = True
        try:
            snapshot = self.table.compaction_input()
            self.table.install_base(await asyncio.to_thread(build_compacted, snapshot))
        finally:
            self._compacting = False
