"""Following change after the first index: documents open in the editor, and files changed on disk.

`IndexTracker` keeps an open document's symbols in the table (its editor text, after a debounce; the disk's
again once it closes) and turns disk events (watchdog's, or the client's didChangeWatchedFiles) into debounced
batches: changed files indexed, deleted ones and folders forgotten, new folders walked, a changed ignore file
answered with a full re-walk. Indexing and merging are the builder's (builder.py, merge.py); this must not
walk the roots itself or answer queries.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import os
import sqlite3
import stat
from collections.abc import Iterable, Sequence

from kimi_lsp.index.batches import Batches, Tally, unchanged
from kimi_lsp.index.builder import IndexBuilder
from kimi_lsp.index.core import IndexState
from kimi_lsp.index.discovery import DEFAULT_EXCLUDED_DIRS, IGNORE_FILES, FoundFile, walk
from kimi_lsp.index.documents import uri_to_path
from kimi_lsp.index.jobs import in_thread_settled, listed
from kimi_lsp.index.model import FileEvent
from kimi_lsp.index.store import FileRecord
from kimi_lsp.index.symtable import pack_symbols
from kimi_lsp.index.watcher import Debouncer, FileWatcher
from kimi_lsp.index.worker import packed_symbols_of_blob, symbols_of

log = logging.getLogger(__name__)
_EXCLUDE_FILE = os.path.join(".git", "info", "exclude")


class IndexTracker:
    def __init__(self, state: IndexState, builder: IndexBuilder) -> None:
        """builder: merges what changed (its `merger`) and re-walks everything (`rewalk`)."""
        self._state = state
        self._builder = builder
        self._debouncer = Debouncer(state.settings.debounce_ms / 1000, self._apply_events)
        self._watcher: FileWatcher | None = None
        self.open_refresh: dict[str, asyncio.Task[None]] = {}  # per open document: its debounced table update

    async def watch(self) -> None:
        """Follow disk changes under the roots with watchdog (events wait for the first index to be ready)."""
        watcher = FileWatcher(self._state.roots, asyncio.get_running_loop(), self._on_watch_event)
        if await in_thread_settled(watcher.start):  # adds a watch per directory: off the loop
            self._watcher = watcher

    async def close(self) -> None:
        """Drop pending events and document refreshes; stop watching."""
        self._debouncer.cancel()
        for task in self.open_refresh.values():
            task.cancel()
        if self._watcher is not None:
            await asyncio.to_thread(self._watcher.stop)
            self._watcher = None

    # ---- open documents --------------------------------------------------------------------------------------

    def did_open(self, uri: str, text: str, version: int = 0, language_id: str | None = None) -> None:
        """Parse a newly opened document; its symbols reach the workspace table after a debounce."""
        if self._state.documents.open(uri, text, version, language_id) is not None:
            self._schedule_open_refresh(uri)

    def did_change(
        self,
        uri: str,
        new_text: str,
        changes: Sequence[object] = (),
        version: int | None = None,
        encoding: str = "utf-16",
    ) -> None:
        """Incremental reparse now; the document's symbols reach the workspace table after a debounce."""
        self._state.documents.change(uri, new_text, changes, version, encoding)
        self._schedule_open_refresh(uri)

    def did_close(self, uri: str) -> None:
        """Forget the document: the table takes the file's symbols as last indexed, then it is checked on disk."""
        state = self._state
        state.documents.close(uri)
        task = self.open_refresh.pop(uri, None)
        if task is not None:
            task.cancel()
        path = uri_to_path(uri)
        record = state.files.get(path)
        blob = state.store.outline(record.fid) if record is not None and state.store is not None else None
        if record is not None and blob is not None:  # the disk version is the truth again
            state.table.replace_file(record.fid, packed_symbols_of_blob(blob))
        self.file_events([FileEvent("changed", path)])

    def _schedule_open_refresh(self, uri: str) -> None:
        old = self.open_refresh.pop(uri, None)
        if old is not None:
            old.cancel()
        self.open_refresh[uri] = asyncio.get_running_loop().create_task(self._refresh_open(uri))

    async def _refresh_open(self, uri: str) -> None:
        state = self._state
        await asyncio.sleep(state.settings.debounce_ms / 1000)
        self.open_refresh.pop(uri, None)
        outline, record = state.documents.outline(uri), state.files.get(uri_to_path(uri))
        if outline is not None and record is not None:
            state.table.replace_file(record.fid, pack_symbols(symbols_of(outline)))

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
        await self._state.ready.wait()  # events that come during the first index wait for it
        if self._state.store is None:
            return
        try:
            await self._apply_batch(batch)
        except sqlite3.DatabaseError as exc:
            log.warning("index cache failed while applying file changes (%s); rebuilding it", exc)
            await self._builder.rewalk()

    async def _apply_batch(self, batch: list[FileEvent]) -> None:
        """Index the changed files, forget the deleted ones. A directory made, moved or removed may come as one
        event, not one per file in it (VS Code's watcher does that for a folder copied in or deleted): a new
        directory the walk would enter is walked, and a deleted one drops what was under it. A changed
        .gitignore, .kimiignore or exclude file re-walks everything."""
        state = self._state
        names = {os.path.basename(e.path) for e in batch}
        if any(_EXCLUDE_FILE in e.path for e in batch) or not names.isdisjoint(IGNORE_FILES):
            await self._builder.rewalk()
            return
        found = [(os.path.abspath(e.path), e.kind, _stat_of(e.path)) for e in batch]
        sizes: dict[str, int] = {}  # the files to index
        gone: list[FileRecord] = []
        vanished: list[str] = []  # not a file the index knows: a directory, if anything
        new_dirs: list[str] = []
        for path, kind, st in found:
            record = state.files.get(path)
            rules = state.rules_for(path)
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
            if not unchanged(state.files.get(f.path), f):
                sizes[f.path] = f.size
        # under a new directory: what its walk did not find is gone, or ignored now; under a vanished one: all
        merger = self._builder.merger
        merger.remove(gone + [r for r in self._records_under(new_dirs + vanished) if r.path not in walked])
        jobs = [
            ((path, record.digest if (record := state.files.get(path)) is not None else None), size)
            for path, size in sizes.items()
        ]
        await merger.run_and_merge(listed(Batches.cut(jobs)), None, Tally(len(jobs), walking=False))

    async def _walk_dirs(self, directories: list[str]) -> list[FoundFile]:
        """The indexable files under new directories, walked in a thread."""
        pairs = [(rules, d) for d in directories if (rules := self._state.rules_for(d)) is not None]
        if not pairs:
            return []
        return await in_thread_settled(lambda: [f for rules, d in pairs for f in walk(rules, start=d)])

    def _records_under(self, directories: list[str]) -> list[FileRecord]:
        if not directories:
            return []
        files = self._state.files
        paths = sorted(files)
        under = []
        for directory in directories:
            prefix = directory + os.sep
            i = bisect.bisect_left(paths, prefix)
            while i < len(paths) and paths[i].startswith(prefix):
                under.append(files[paths[i]])
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
