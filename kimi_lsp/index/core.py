"""The indexed state of a workspace and how it is built: files, symbol table, cache, merging of results.

`IndexCore` owns the in-memory records (one FileRecord per file; outlines stay in the SQLite cache), the
symbol table and the store, and the two ways they change: a sync (walk the roots in a thread, reuse what the
cache says is unchanged, index the rest in a pool or a thread as the walk finds it, merge on the loop) and
removals. `WorkspaceIndex` builds the
server-facing API on top. Everything runs on the event loop; the heavy parts are awaited in a pool or thread.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from kimi_lsp.index.discovery import DEFAULT_MAX_FILE_BYTES, FoundFile, IgnoreRules, walk
from kimi_lsp.index.documents import OpenDocuments
from kimi_lsp.index.jobs import Job, ThreadFeed, default_workers, in_thread_settled, run_jobs, start_pool
from kimi_lsp.index.model import Progress
from kimi_lsp.index.resolve import Resolver
from kimi_lsp.index.store import FileRecord, IndexStore, default_cache_path, prune_caches
from kimi_lsp.index.symtable import Base, SymbolTable, build_compacted
from kimi_lsp.index.worker import FileResult, packed_symbols_of_blob

log = logging.getLogger(__name__)
COMPACT_AFTER = 50_000  # overlay symbols (or the base size, if larger) before a fold into a new base
BATCH_BYTES = 256 * 1024  # source bytes per pool task
MAX_BATCH = 256  # files per pool task
WALK_CHUNK = 512  # files the walk's thread hands over at a time
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
    def __init__(self, roots: Sequence[str | Path], settings: IndexSettings | None = None, *,
                 seed: str | None = None) -> None:
        """seed: the cache file of another set of folders (the workspace before a folder was added or removed):
        a new cache takes the rows of this set's files from it, so they start warm."""
        self.settings = settings or IndexSettings()
        self._seed = seed
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
        self._background: set[asyncio.Task[None]] = set()  # compactions and snapshots in flight
        self._syncing = asyncio.Lock()
        self._loaded = asyncio.Event()  # the cache's records and symbol table are in memory

    @property
    def cache_path(self) -> str | None:
        """The cache file in use: None before the start and after the close, ':memory:' for none."""
        return self._store.path if self._store is not None else None

    def _open_store(self) -> IndexStore:
        key = "\n".join(sorted(self.roots))
        cache = self.settings.cache_path or str(default_cache_path(self.roots))
        try:
            store = IndexStore(cache, key)
        except (OSError, sqlite3.Error) as exc:
            log.warning("cannot use the index cache %s (%s); indexing without one", cache, exc)
            store = IndexStore(":memory:", key)
        if self.settings.cache_path is None:
            pruned = prune_caches(Path(cache).parent, keep=store.path)
            if pruned:
                log.info("deleted %d index cache files unused for 30 days: %s", len(pruned), ", ".join(pruned))
        seed = self._seed
        if seed is not None and seed not in (":memory:", store.path) and store.is_empty():
            log.info("took the rows of %d files from the cache %s", store.import_files(seed, self.roots), seed)
        return store

    async def _rebuild(self, progress: ProgressCallback | None, exc: Exception) -> None:
        """After a cache error: start the cache afresh and index everything again. Should the new cache fail
        too (a full disk, a read-only directory), index into one in memory for the rest of the session."""
        log.warning("index cache failed (%s); rebuilding it", exc)
        try:
            await self._reindex_into(progress, None)
        except sqlite3.DatabaseError as again:
            log.warning("index cache failed again (%s); indexing without a cache file", again)
            await self._reindex_into(progress, ":memory:")

    async def _reindex_into(self, progress: ProgressCallback | None, cache_path: str | None) -> None:
        assert self._store is not None
        await self._settle()
        self._store.reset(cache_path)
        self.files, self._by_fid, self.table, self._next_fid, self._resolver = {}, {}, SymbolTable(), 0, None
        await self._sync(progress, load_cache=False)

    def _new_rules(self) -> list[IgnoreRules]:
        return [IgnoreRules(r, self.settings.exclude, self.settings.max_file_bytes) for r in self.roots]

    def _rules_for(self, path: str) -> IgnoreRules | None:
        matching = [r for r in self._rules if path.startswith(str(r.root) + os.sep)]
        return max(matching, key=lambda r: len(str(r.root)), default=None)

    async def _sync(self, progress: ProgressCallback | None, *, load_cache: bool) -> list[IgnoreRules]:
        """Walk the roots and index what the records do not know, streaming: the walk's thread hands files over
        in chunks while the pool indexes those already found, so neither core waits for the other. One sync at
        a time: a re-walk asked for meanwhile (new settings, the reindex command) runs after it. Returns the ignore
        rules it walked with."""
        async with self._syncing:
            rules = self._rules
            if self._store is not None:  # None: closed while this sync waited for the one before it
                await self._walk_and_index(progress, load_cache, rules)
            return rules

    async def _walk_and_index(self, progress: ProgressCallback | None, load_cache: bool,
                              rules: list[IgnoreRules]) -> None:
        assert self._store is not None
        store = self._store
        cold = not self.files and (not load_cache or store.is_empty())
        walk: ThreadFeed[FoundFile] | None = None
        pool: ProcessPoolExecutor | None = None
        try:
            if cold and self.settings.workers > 0:
                # the walk's thread runs while this one starts the pool, which waits ~0.1 s for the forkserver
                # (on this thread: the forkserver dies with the thread that starts it, processes.die_with_parent)
                walk = ThreadFeed(partial(_walk_roots, rules), WALK_CHUNK)
                pool = start_pool(self.settings.workers)
            if load_cache:  # not beside the walk: two threads taking turns at the GIL both run slower
                stored = await in_thread_settled(store.load_files)
                base = await in_thread_settled(store.load_symtab)
                await self._install_stored(stored, base)
            walk = walk or ThreadFeed(partial(_walk_roots, rules), WALK_CHUNK)
            self._loaded.set()
        except BaseException:  # until _run_and_merge owns them, this does
            if walk is not None:
                walk.close()
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            raise
        tally = Tally()
        found: set[str] = set()
        try:
            with _collector_paused():
                await self._run_and_merge(self._changed(walk.chunks(), found, tally), progress, tally,
                                          self.settings.workers, pool)
        finally:  # at once: should the sync end early, its walk's thread stops at its next chunk
            walk.close()
        self._remove([r for p, r in self.files.items() if p not in found])
        self._in_background(self._save_symtab())  # the index is complete; its cache snapshot can follow

    async def _changed(self, chunks: AsyncIterator[list[FoundFile]], found: set[str],
                       tally: Tally) -> AsyncIterator[list[Job]]:
        """Batches of the walked files whose size or mtime the records do not match (the rest count as done),
        about BATCH_BYTES of source each; adds every walked path to `found`."""
        batches = Batches()
        async for files in chunks:
            for f in files:
                if f.path in found:  # a root inside another root: its files come twice
                    continue
                found.add(f.path)
                tally.total += 1
                record = self.files.get(f.path)
                if unchanged(record, f):
                    tally.done += 1
                    continue
                full = batches.add((f.path, record.digest if record is not None else None), f.size)
                if full is not None:
                    yield full
        tally.walking = False
        if batches.rest:
            yield batches.rest

    def _in_background(self, work: Coroutine[None, None, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _settle(self) -> None:
        """Wait for the compactions and snapshots running in the background."""
        while self._background:
            await asyncio.wait(set(self._background))

    async def _save_symtab(self) -> None:
        """Compact the symbol table and write its snapshot to the cache, unless it is already there. A failed
        write is logged: the next warm start rebuilds the table from the outlines."""
        try:
            await self._write_symtab()
        except sqlite3.Error as exc:
            log.warning("could not save the symbol table to the index cache: %s", exc)

    async def _write_symtab(self) -> None:
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

    async def _run_and_merge(self, batches: AsyncIterator[list[Job]], progress: ProgressCallback | None,
                             tally: Tally, workers: int, pool: Executor | None = None) -> None:
        _report(progress, Progress(tally.done, tally.total, tally.walking))
        async for results in run_jobs(batches, self.settings.max_file_bytes, workers, pool):
            self._merge(results)
            tally.done += len(results)
            _report(progress, Progress(tally.done, tally.total, tally.walking))
            if self.table.num_overlay_symbols > max(COMPACT_AFTER, len(self.table.base)) and not self._compacting:
                self._in_background(self._compact())
        if self._store is not None:
            self._store.flush()
        _report(progress, Progress(tally.done, tally.total, tally.walking))

    def _merge(self, results: list[FileResult]) -> None:
        """Fold one batch of results into the records, the symbol table and the cache. Open documents keep the
        symbols of their editor text (documents.py); their files' records and outlines still update."""
        assert self._store is not None
        files, by_fid, table = self.files, self._by_fid, self.table
        open_paths = {d.path for d in self.documents}
        rows: list[tuple[FileRecord, bytes]] = []
        touched: list[tuple[int, int, int]] = []
        gone: list[FileRecord] = []
        for r in results:
            old = files.get(r.path)
            if r.status == "indexed":
                if old is None:
                    self._next_fid += 1
                    self._resolver = None
                record = FileRecord(self._next_fid if old is None else old.fid, r.path, r.language, r.size,
                                    r.mtime_ns, r.digest, r.package)
                files[r.path] = by_fid[record.fid] = record
                rows.append((record, r.outline))
                if r.path in open_paths:
                    continue
                if old is None:
                    table.add_file(record.fid, r.symbols)
                else:
                    table.replace_file(record.fid, r.symbols)
            elif r.status == "unchanged" and old is not None:
                files[r.path] = by_fid[old.fid] = old._replace(size=r.size, mtime_ns=r.mtime_ns)
                touched.append((old.fid, r.size, r.mtime_ns))
            else:  # skipped or failed
                if r.error:
                    log.warning("could not index %s: %s", r.path, r.error)
                if old is not None:
                    gone.append(old)
        self._store.upsert(rows)
        if touched:
            self._store.touch(touched)
        self._remove(gone)

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
            table = self.table  # the one to fold into, even should a rebuild replace it meanwhile
            snapshot = table.compaction_input()
            table.install_base(await asyncio.to_thread(build_compacted, snapshot))
        finally:
            self._compacting = False


class Batches:
    """Cuts jobs into pool tasks of about BATCH_BYTES of source, at most MAX_BATCH files: even work for the
    workers whether the files are small or big."""

    def __init__(self) -> None:
        self.rest: list[Job] = []
        self._bytes = 0

    def add(self, job: Job, size: int) -> list[Job] | None:
        """Queue a job; returns a full batch when this one completes it."""
        self.rest.append(job)
        self._bytes += size
        if self._bytes < BATCH_BYTES and len(self.rest) < MAX_BATCH:
            return None
        full, self.rest, self._bytes = self.rest, [], 0
        return full

    @staticmethod
    def cut(sized: Iterable[tuple[Job, int]]) -> list[list[Job]]:
        """Every one of the (job, source bytes) pairs, in batches."""
        batches = Batches()
        full = [batch for job, size in sized if (batch := batches.add(job, size)) is not None]
        return full + [batches.rest] if batches.rest else full


@dataclass(slots=True)
class Tally:
    """Files walked so far, how many of them are done (indexed, or unchanged since the cache), and whether the
    walk still goes on."""

    total: int = 0
    done: int = 0
    walking: bool = True


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile. Indexing allocates a million objects that live on (records,
    symbols); the collector's passes over them found nothing and took a quarter of the loop's CPU. At the end
    they go straight to the oldest generation (freeze + unfreeze moves them there without a pass), instead of
    one pass over all of them as young objects the moment collection resumes (60-80 ms for 50,000 files)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()


def unchanged(record: FileRecord | None, found: FoundFile) -> bool:
    """Does the record still describe the walked file (same size and mtime)? Then it is not read again."""
    return record is not None and record.size == found.size and record.mtime_ns == found.mtime_ns


def _walk_roots(rules: Sequence[IgnoreRules]) -> Iterator[FoundFile]:
    for r in rules:
        yield from walk(r)


def _report(progress: ProgressCallback | None, value: Progress) -> None:
    if progress is None:
        return
    try:
        progress(value)
    except Exception:  # a broken progress display must not stop indexing
        log.exception("progress callback failed")
