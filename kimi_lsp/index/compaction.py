"""Upkeep of the symbol table: folding its overlay into a new base, and its snapshot in the cache.

`Compactor` runs both as background tasks on the loop (the fold itself in a thread) and knows which table the
cache already holds, so that an unchanged table is not written again. It must not change the records or the
set of files: it only rebuilds the table's base and writes it out; the builder decides when.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Coroutine

from kimi_lsp.index.core import IndexState
from kimi_lsp.index.symtable import Base, build_compacted

log = logging.getLogger(__name__)
COMPACT_AFTER = 50_000  # overlay symbols (or the base size, if larger) before a fold into a new base


class Compactor:
    def __init__(self, state: IndexState) -> None:
        self._state = state
        self._compacting = False
        self._background: set[asyncio.Task[None]] = set()  # compactions and snapshots in flight
        self._saved_generation = -1  # the symbol table as last written to the cache
        self._saved_base: Base | None = None

    def loaded(self, base: Base | None) -> None:
        """The table was just made from `base`, as read from the cache (None: no snapshot there)."""
        self._saved_generation, self._saved_base = (0, base) if base is not None else (-1, None)

    def compact_if_due(self) -> None:
        """Start a fold in the background once the overlay outgrows COMPACT_AFTER and the base."""
        table = self._state.table
        if table.num_overlay_symbols > max(COMPACT_AFTER, len(table.base)) and not self._compacting:
            self.in_background(self.compact())

    def save_later(self) -> None:
        """Compact and snapshot the table in the background (the index is complete)."""
        self.in_background(self.save())

    def in_background(self, work: Coroutine[None, None, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def settle(self) -> None:
        """Wait for the compactions and snapshots running in the background."""
        while self._background:
            await asyncio.wait(set(self._background))

    async def save(self) -> None:
        """Compact the symbol table and write its snapshot to the cache, unless it is already there. A failed
        write is logged: the next warm start rebuilds the table from the outlines."""
        try:
            await self._write()
        except sqlite3.Error as exc:
            log.warning("could not save the symbol table to the index cache: %s", exc)

    async def _write(self) -> None:
        state = self._state
        if state.table.generation == self._saved_generation and state.table.base is self._saved_base:
            return
        await self.compact()
        table = state.table
        if state.store is not None and not table.overlay and not table.dead:
            state.store.save_symtab(table.base)
            self._saved_generation, self._saved_base = table.generation, table.base

    async def compact(self) -> None:
        """Fold the table's overlay and dead entries into a new base, built in a thread; one fold at a time."""
        table = self._state.table  # the one to fold into, even should a rebuild replace it meanwhile
        if self._compacting or (not table.overlay and not table.dead):
            return
        self._compacting = True
        try:
            snapshot = table.compaction_input()
            table.install_base(await asyncio.to_thread(build_compacted, snapshot))
        finally:
            self._compacting = False
