"""How the index is built: the cache opened, loaded (or rebuilt after an error), the roots walked and synced.

`IndexBuilder` decides what is indexed when: a sync walks the roots in a thread, reuses what the cache says is
unchanged and streams the rest, as the walk finds it, to its `Merger` (merge.py: jobs run and results folded
into the state), one sync at a time; its `Compactor` keeps the symbol table compact and saved. It must not
answer queries or follow open documents and disk events (answers.py, tracker.py).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from kimi_lsp.index.batches import Batches, Tally, unchanged
from kimi_lsp.index.compaction import Compactor
from kimi_lsp.index.core import IndexState, ProgressCallback
from kimi_lsp.index.discovery import FoundFile, IgnoreRules, walk
from kimi_lsp.index.jobs import Job, ThreadFeed, in_thread_settled, release_heap, start_pool
from kimi_lsp.index.merge import Merger
from kimi_lsp.index.store import FileRecord, IndexStore, default_cache_path, prune_caches
from kimi_lsp.index.symtable import Base, SymbolTable
from kimi_lsp.index.worker import packed_symbols_of_blob

log = logging.getLogger(__name__)
WALK_CHUNK = 512  # files the walk's thread hands over at a time


class IndexBuilder:
    def __init__(self, state: IndexState, *, seed: str | None = None) -> None:
        """seed: the cache file of another set of folders (the workspace before a folder was added or removed):
        a new cache takes the rows of this set's files from it, so they start warm."""
        self._state = state
        self._seed = seed
        self._syncing = asyncio.Lock()
        self.compactor = Compactor(state)
        self.merger = Merger(state, self.compactor)  # the tracker's disk changes are merged by it too

    async def start(self, progress: ProgressCallback | None) -> None:
        """Open the cache, load it, bring it up to date with the disk (again, should the rules change meanwhile),
        rebuild it should it fail; then mark the state loaded and ready."""
        state = self._state
        state.store = await in_thread_settled(self._open_store)
        try:
            walked = await self._sync(progress, load_cache=True)
            while walked is not state.rules:  # the settings changed while it ran: walk again with their rules
                walked = await self._sync(progress, load_cache=False)
        except sqlite3.DatabaseError as exc:
            await self._rebuild(progress, exc)
        finally:
            state.loaded.set()
        release_heap()
        state.ready.set()

    async def rewalk(self, progress: ProgressCallback | None = None) -> None:
        """Re-read the ignore rules, re-walk every root and index what changed; rebuild the cache should it fail."""
        self._state.rules = self._state.new_rules()
        try:
            await self._sync(progress, load_cache=False)
        except sqlite3.DatabaseError as exc:
            await self._rebuild(progress, exc)

    async def close(self) -> None:
        """Wait for the background work, save the symbol table (once ready), close the cache."""
        state = self._state
        if state.store is not None:
            await self.compactor.settle()
            if state.ready.is_set():
                await self.compactor.save()
            state.store.close()
            state.store = None

    def _open_store(self) -> IndexStore:
        roots, settings = self._state.roots, self._state.settings
        key = "\n".join(sorted(roots))
        cache = settings.cache_path or str(default_cache_path(roots))
        try:
            store = IndexStore(cache, key)
        except (OSError, sqlite3.Error) as exc:
            log.warning("cannot use the index cache %s (%s); indexing without one", cache, exc)
            store = IndexStore(":memory:", key)
        if settings.cache_path is None:
            pruned = prune_caches(Path(cache).parent, keep=store.path)
            if pruned:
                log.info("deleted %d index cache files unused for 30 days: %s", len(pruned), ", ".join(pruned))
        seed = self._seed
        if seed is not None and seed not in (":memory:", store.path) and store.is_empty():
            log.info("took the rows of %d files from the cache %s", store.import_files(seed, roots), seed)
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
        state = self._state
        assert state.store is not None
        await self.compactor.settle()
        state.store.reset(cache_path)
        state.files, state.by_fid, state.table, state.resolver = {}, {}, SymbolTable(), None
        self.merger.next_fid = 0
        await self._sync(progress, load_cache=False)

    async def _sync(self, progress: ProgressCallback | None, *, load_cache: bool) -> list[IgnoreRules]:
        """Walk the roots and index what the records do not know, streaming: the walk's thread hands files over
        in chunks while the pool indexes those already found, so neither core waits for the other. One sync at
        a time: a re-walk asked for meanwhile (new settings, the reindex command) runs after it. Returns the ignore
        rules it walked with."""
        async with self._syncing:
            rules = self._state.rules
            if self._state.store is not None:  # None: closed while this sync waited for the one before it
                await self._walk_and_index(progress, load_cache, rules)
            return rules

    async def _walk_and_index(
        self, progress: ProgressCallback | None, load_cache: bool, rules: list[IgnoreRules]
    ) -> None:
        state = self._state
        assert state.store is not None
        store, workers = state.store, state.settings.workers
        cold = not state.files and (not load_cache or store.is_empty())
        feed: ThreadFeed[FoundFile] | None = None
        pool: ProcessPoolExecutor | None = None
        try:
            if cold and workers > 0:
                # the walk's thread runs while this one starts the pool, which waits ~0.1 s for the forkserver
                # (on this thread: the forkserver dies with the thread that starts it, processes.die_with_parent)
                feed = ThreadFeed(partial(_walk_roots, rules), WALK_CHUNK)
                pool = start_pool(workers)
            if load_cache:  # not beside the walk: two threads taking turns at the GIL both run slower
                stored = await in_thread_settled(store.load_files)
                base = await in_thread_settled(store.load_symtab)
                await self._install_stored(stored, base)
            feed = feed or ThreadFeed(partial(_walk_roots, rules), WALK_CHUNK)
            state.loaded.set()
        except BaseException:  # until the merger's run_and_merge owns them, this does
            if feed is not None:
                feed.close()
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            raise
        tally = Tally()
        found: set[str] = set()
        try:
            with _collector_paused():
                await self.merger.run_and_merge(self._changed(feed.chunks(), found, tally), progress, tally, pool)
        finally:  # at once: should the sync end early, its walk's thread stops at its next chunk
            feed.close()
        self.merger.remove([r for p, r in state.files.items() if p not in found])
        self.compactor.save_later()  # the index is complete; its cache snapshot can follow

    async def _changed(
        self, chunks: AsyncIterator[list[FoundFile]], found: set[str], tally: Tally
    ) -> AsyncIterator[list[Job]]:
        """Batches of the walked files whose size or mtime the records do not match (the rest count as done),
        about BATCH_BYTES of source each; adds every walked path to `found`."""
        state, batches = self._state, Batches()
        async for files in chunks:
            for f in files:
                if f.path in found:  # a root inside another root: its files come twice
                    continue
                found.add(f.path)
                tally.total += 1
                record = state.files.get(f.path)
                if unchanged(record, f):
                    tally.done += 1
                    continue
                full = batches.add((f.path, record.digest if record is not None else None), f.size)
                if full is not None:
                    yield full
        tally.walking = False
        if batches.rest:
            yield batches.rest

    async def _install_stored(self, stored: list[FileRecord], base: Base | None) -> None:
        state = self._state
        state.files = {r.path: r for r in stored}
        state.by_fid = {r.fid: r for r in state.files.values()}
        self.merger.next_fid = max(state.by_fid, default=0)
        state.resolver = None
        if base is None and state.files:
            assert state.store is not None
            log.info("symbol table snapshot missing or stale; rebuilding it from %d outlines", len(state.files))
            base = await in_thread_settled(state.store.rebuild_symtab, packed_symbols_of_blob)
        state.table = SymbolTable(base) if base is not None else SymbolTable()
        self.compactor.loaded(base)


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


def _walk_roots(rules: Sequence[IgnoreRules]) -> Iterator[FoundFile]:
    for r in rules:
        yield from walk(r)
