"""The indexed state of a workspace and how it is built: files, symbol table, cache, merging of results.

`IndexCore` owns the in-memory records (one FileRecord per file; outlines stay in the SQLite cache), the
symbol table and the store, and the two ways they change: a sync (walk the roots, reuse what the cache says is
unchanged, index the rest in a pool or a thread, merge on the loop) and removals. `WorkspaceIndex` builds the
server-facing API on top. Everything runs on the event loop; the heavy parts are awaited in a pool or thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from kimi_lsp.index.discovery import DEFAULT_MAX_FILE_BYTES, FoundFile, IgnoreRules, walk_all
from kimi_lsp.index.documents import OpenDocuments
from kimi_lsp.index.jobs import Job, default_workers, in_thread_settled, run_jobs, start_pool
from kimi_lsp.index.model import Progress
from kimi_lsp.index.resolve import Resolver
from kimi_lsp.index.store import FileRecord, IndexStore, default_cache_path
from kimi_lsp.index.symtable import Base, SymbolTable, build_compacted
from kimi_lsp.index.worker import FileResult, packed_symbols_of_blob

log = logging.getLogger(__name__)
COMPACT_AFTER = 50_000  # overlay symbols (or the base size, if larger) before a fold into a new base
BATCH_BYTES = 256 * 1024  # source bytes per pool task
ProgressCallback = Callable[[Progress], None]


@dataclass(slots=True, frozen=True)
class IndexSettings:
    """exclude: gitignore-style globs relative to each root; cache_path: None = the user cache directory,
    ':memory:' = no file; workers: processes for cold indexing (0 = a thread)."""

    exclude: tuple[str, ...] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    cache_path: str | None = None
    workers: int = default_workers()
    debounce_ms: int = 200


class IndexCore:
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
        self._compacting = False

    def _open_store(self) -> IndexStore:
        key = "\n".join(sorted(self.roots))
        cache = self.settings.cache_path or str(default_cache_path(self.roots))
        try:
            return IndexStore(cache, key)
        except (OSError, sqlite3.Error) as exc:
            log.warning("cannot use the index cache %s (%s); indexing without one", cache, exc)
            return IndexStore(":memory:", key)

    async def _rebuild(self, progress: ProgressCallback | None, exc: Exception) -> None:
        log.warning("index cache failed (%s); rebuilding it", exc)
        assert self._store is not None
        self._store.reset()
        self.files, self._by_fid, self.table, self._next_fid, self._resolver = {}, {}, SymbolTable(), 0, None
        await self._sync(progress, load_cache=False)

    def _new_rules(self) -> list[IgnoreRules]:
        return [IgnoreRules(r, self.settings.exclude, self.settings.max_file_bytes) for r in self.roots]

    def _rules_for(self, path: str) -> IgnoreRules | None:
        matching = [r for r in self._rules if path.startswith(str(r.root) + os.sep)]
        return max(matching, key=lambda r: len(str(r.root)), default=None)

    async def _sync(self, progress: ProgressCallback | None, *, load_cache: bool) -> None:
        assert self._store is not None
        store = self._store
        cold = not self.files and (not load_cache or store.is_empty())
        walking: asyncio.Future[dict[str, FoundFile]] | None = None
        pool: ProcessPoolExecutor | None = None
        try:
            if cold and self.settings.workers > 0:
                # the walk's thread runs while this one starts the pool, which waits ~0.1 s for the forkserver
                # (on this thread: the forkserver dies with the thread that starts it, processes.die_with_parent)
                walking = asyncio.get_running_loop().run_in_executor(None, _walk_roots, self._rules)
                pool = start_pool(self.settings.workers)
            if load_cache:  # not beside the walk: two threads taking turns at the GIL both run slower
                stored = await in_thread_settled(store.load_files)
                base = await in_thread_settled(store.load_symtab)
                await self._install_stored(stored, base)
            found = await walking if walking is not None else await asyncio.to_thread(_walk_roots, self._rules)
            self._remove([r for p, r in self.files.items() if p not in found])
        except BaseException:  # until _run_and_merge owns the pool, this does
            if walking is not None:
                walking.cancel()
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            raise
        jobs: list[Job] = []
        for path, f in found.items():
            record = self.files.get(path)
            if record is None or record.size != f.size or record.mtime_ns != f.mtime_ns:
                jobs.append((path, record.digest if record is not None else None))
        jobs.sort(key=lambda j: -found[j[0]].size)  # big files first: the pool ends evenly
        mean_size = sum(found[path].size for path, _ in jobs) // max(len(jobs), 1)
        batch = max(16, min(256, BATCH_BYTES // max(mean_size, 1)))  # small files: fewer, bigger pool tasks
        await self._run_and_merge(jobs, progress, len(found) - len(jobs), self.settings.workers, pool, batch)
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
            base = await in_thread_settled(self._store.rebuild_symtab, packed_symbols_of_blob)
        self.table = SymbolTable(base) if base is not None else SymbolTable()
        self._saved_generation, self._saved_base = (0, base) if base is not None else (-1, None)

    async def _run_and_merge(self, jobs: list[Job], progress: ProgressCallback | None, done: int,
                             workers: int, pool: ProcessPoolExecutor | None = None, batch: int = 48) -> None:
        total = done + len(jobs)
        _report(progress, Progress(done, total))
        async for results in run_jobs(jobs, self.settings.max_file_bytes, workers, batch, pool):
            self._merge(results)
            done += len(results)
            _report(progress, Progress(done, total))
            if self.table.num_overlay_symbols > max(COMPACT_AFTER, len(self.table.base)) and not self._compacting:
                asyncio.get_running_loop().create_task(self._compact())
        if self._store is not None:
            self._store.flush()

    def _merge(self, results: list[FileResult]) -> None:
        assert self._store is not None
        indexed = [r for r in results if r.status == "indexed"]
        records = [FileRecord(self._fid_for(r.path), r.path, r.language, r.size, r.mtime_ns, r.digest, r.package)
                   for r in indexed]
        self._store.upsert([(record, r.outline) for record, r in zip(records, indexed)])
        open_paths = {d.path for d in self.documents}
        for record, r in zip(records, indexed):
            self._put(record)
            if r.path not in open_paths:
                self.table.replace_file(record.fid, r.symbols)
        touched = []
        for r in results:
            old = self.files.get(r.path)
            if r.status == "unchanged" and old is not None:
                self._put(FileRecord(old.fid, r.path, old.language, r.size, r.mtime_ns, old.digest, old.package))
                touched.append((old.fid, r.size, r.mtime_ns))
            elif r.status != "indexed":  # skipped or failed
                if r.error:
                    log.warning("could not index %s: %s", r.path, r.error)
                if old is not None:
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


def _walk_roots(rules: Sequence[IgnoreRules]) -> dict[str, FoundFile]:
    return {f.path: f for r in rules for f in walk_all(r)}


def _report(progress: ProgressCallback | None, value: Progress) -> None:
    if progress is None:
        return
    try:
        progress(value)
    except Exception:  # a broken progress display must not stop indexing
        log.exception("progress callback failed")
