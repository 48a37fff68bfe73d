"""The shared state of a workspace index: its settings, roots, records, symbol table, cache and readiness.

`IndexState` is the one object the builder, the queries and the tracker share (the `WorkspaceIndex` facade
owns it); it is plain data plus the making and lookup of the roots' ignore rules. It must not open the store,
start tasks or change the records itself: the builder does that. `IndexSettings` lives here: every part reads it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kimi_lsp.index.discovery import DEFAULT_MAX_FILE_BYTES, IgnoreRules
from kimi_lsp.index.documents import OpenDocuments
from kimi_lsp.index.jobs import default_workers
from kimi_lsp.index.model import Progress
from kimi_lsp.index.resolve import Resolver
from kimi_lsp.index.store import FileRecord, IndexStore
from kimi_lsp.index.symtable import SymbolTable

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


@dataclass(slots=True, eq=False)
class IndexState:
    """files: one FileRecord per indexed path (outlines stay in the store); by_fid: the same records by file id;
    table: every closed file's symbols (an open document's come from its editor text); store: the cache, None
    before the start and after the close; rules: the ignore rules of the next walk, one per root; resolver: built
    on demand by the queries, dropped (None) by the builder whenever the set of files changes; loaded: the cache
    is in memory; ready: the first full index is done."""

    settings: IndexSettings
    roots: tuple[str, ...]
    documents: OpenDocuments = field(default_factory=OpenDocuments)
    files: dict[str, FileRecord] = field(default_factory=dict)
    by_fid: dict[int, FileRecord] = field(default_factory=dict)
    table: SymbolTable = field(default_factory=SymbolTable)
    store: IndexStore | None = None
    rules: list[IgnoreRules] = field(default_factory=list)
    resolver: Resolver | None = None
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def of(cls, roots: Sequence[str | Path], settings: IndexSettings) -> IndexState:
        """The state of a new index over `roots` (resolved), with nothing indexed yet."""
        state = cls(settings, tuple(str(Path(r).resolve()) for r in roots))
        state.rules = state.new_rules()
        return state

    def new_rules(self) -> list[IgnoreRules]:
        """Fresh ignore rules for every root under the current settings (their .gitignore files read anew)."""
        return [IgnoreRules(r, self.settings.exclude, self.settings.max_file_bytes) for r in self.roots]

    def rules_for(self, path: str) -> IgnoreRules | None:
        """The rules of the innermost root that holds `path`; None outside every root."""
        matching = [r for r in self.rules if path.startswith(str(r.root) + os.sep)]
        return max(matching, key=lambda r: len(str(r.root)), default=None)
