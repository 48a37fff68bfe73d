"""Indexing results folded into the index: records, symbol table and cache rows, batch by batch, on the loop.

`Merger` runs jobs (jobs.run_jobs) and merges what they yield, hands out file ids, forgets removed files and
asks for a compaction when the table's overlay has grown. It is the one writer of the records, the table and
the store for the builder's syncs and the tracker's disk changes alike; it must not walk or decide what to index.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from concurrent.futures import Executor

from kimi_lsp.index.batches import Tally
from kimi_lsp.index.compaction import Compactor
from kimi_lsp.index.core import IndexState, ProgressCallback
from kimi_lsp.index.jobs import Job, run_jobs
from kimi_lsp.index.model import Progress
from kimi_lsp.index.store import FileRecord
from kimi_lsp.index.symtable import pack_symbols
from kimi_lsp.index.worker import FileResult, symbols_of

log = logging.getLogger(__name__)


class Merger:
    def __init__(self, state: IndexState, compactor: Compactor) -> None:
        self._state = state
        self._compactor = compactor
        self.next_fid = 0  # the last file id handed out; the builder sets it when it loads or drops the records

    async def run_and_merge(
        self,
        batches: AsyncIterator[list[Job]],
        progress: ProgressCallback | None,
        tally: Tally,
        pool: Executor | None = None,
    ) -> None:
        """Index the jobs in `batches` (in `pool`, a new one, or a thread: jobs.run_jobs) and merge each batch of
        results as it comes, counting it in `tally` and reporting `progress`; then flush the cache's writes."""
        state = self._state
        _report(progress, Progress(tally.done, tally.total, tally.walking))
        async for results in run_jobs(batches, state.settings.max_file_bytes, state.settings.workers, pool):
            self._merge(results)
            tally.done += len(results)
            _report(progress, Progress(tally.done, tally.total, tally.walking))
            self._compactor.compact_if_due()
        if state.store is not None:
            state.store.flush()
        _report(progress, Progress(tally.done, tally.total, tally.walking))

    def _merge(self, results: list[FileResult]) -> None:
        """Fold one batch of results into the records, the symbol table and the cache. Open documents' files get
        the symbols of their editor text (documents.py), also when they were opened before the walk reached
        them; their records and cached outlines follow the disk."""
        state = self._state
        assert state.store is not None
        files, by_fid, table = state.files, state.by_fid, state.table
        open_uris = {d.path: d.uri for d in state.documents}
        rows: list[tuple[FileRecord, bytes]] = []
        touched: list[tuple[int, int, int]] = []
        gone: list[FileRecord] = []
        for r in results:
            old = files.get(r.path)
            if r.status == "indexed":
                if old is None:
                    self.next_fid += 1
                    state.resolver = None
                record = FileRecord(
                    self.next_fid if old is None else old.fid,
                    r.path,
                    r.language,
                    r.size,
                    r.mtime_ns,
                    r.digest,
                    r.package,
                )
                files[r.path] = by_fid[record.fid] = record
                rows.append((record, r.outline))
                symbols = r.symbols
                if r.path in open_uris:  # opened before its record existed: the editor's text counts
                    outline = state.documents.outline(open_uris[r.path])
                    symbols = pack_symbols(symbols_of(outline)) if outline is not None else symbols
                if old is None:
                    table.add_file(record.fid, symbols)
                else:
                    table.replace_file(record.fid, symbols)
            elif r.status == "unchanged" and old is not None:
                files[r.path] = by_fid[old.fid] = old._replace(size=r.size, mtime_ns=r.mtime_ns)
                touched.append((old.fid, r.size, r.mtime_ns))
            else:  # skipped or failed
                if r.error:
                    log.warning("could not index %s: %s", r.path, r.error)
                if old is not None:
                    gone.append(old)
        state.store.upsert(rows)
        if touched:
            state.store.touch(touched)
        self.remove(gone)

    def remove(self, records: list[FileRecord]) -> None:
        """Forget these files: their records, their symbols, their cache rows."""
        if not records:
            return
        state = self._state
        for record in records:
            state.files.pop(record.path, None)
            state.by_fid.pop(record.fid, None)
            state.table.remove_file(record.fid)
        assert state.store is not None
        state.store.delete(r.fid for r in records)
        state.resolver = None


def _report(progress: ProgressCallback | None, value: Progress) -> None:
    if progress is None:
        return
    try:
        progress(value)
    except Exception:  # a broken progress display must not stop indexing
        log.exception("progress callback failed")
