"""Answers from the index: outlines, symbols by name or fuzzy query, resolved imports, module members.

`IndexQueries` reads `IndexState` on the loop and answers with what is known so far (during the first index
too); an open document answers from its editor text, a closed file from its outline in the cache. It must not
change the records, the table or the store: a damaged cache entry is handed to `refresh` to be indexed again.
The one thing it writes is the state's resolver, which it builds on demand.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable

from kimi_lsp.index.core import IndexState
from kimi_lsp.index.documents import uri_to_path
from kimi_lsp.index.model import (
    KINDS,
    Definition,
    FileEvent,
    Outline,
    ResolvedImport,
    Span,
    SymbolLocation,
    decode_outline,
)
from kimi_lsp.index.resolve import Resolver
from kimi_lsp.index.symtable import Hit

log = logging.getLogger(__name__)


class IndexQueries:
    def __init__(self, state: IndexState, refresh: Callable[[Iterable[FileEvent]], None]) -> None:
        """refresh: takes disk events for files to index again (the tracker's `file_events`)."""
        self._state = state
        self._refresh = refresh

    def document_symbols(self, path_or_uri: str) -> tuple[Definition, ...]:
        """The definitions in a file's outline (see `outline`); () for a file the index does not know."""
        outline = self.outline(path_or_uri)
        return outline.definitions if outline is not None else ()

    def outline(self, path_or_uri: str) -> Outline | None:
        """The outline of an open document (current text) or an indexed file (as last indexed)."""
        state = self._state
        doc = self._open_doc(path_or_uri)
        if doc is not None:
            return state.documents.outline(doc)
        record = state.files.get(uri_to_path(path_or_uri))
        if record is None or state.store is None:
            return None
        blob = state.store.outline(record.fid)
        try:
            return decode_outline(blob) if blob is not None else None
        except ValueError:
            log.warning("damaged cache entry for %s; re-indexing it", record.path)
            self._refresh([FileEvent("changed", record.path)])
            return None

    def workspace_symbols(self, query: str, limit: int = 100) -> list[SymbolLocation]:
        """Up to `limit` symbols whose names match `query` (symtable.SymbolTable.search), best first."""
        return self._located(self._state.table.search(query, limit))

    def definitions_named(self, name: str) -> list[SymbolLocation]:
        """Every definition spelled exactly `name`."""
        return self._located(self._state.table.lookup(name))

    def imports_of(self, path_or_uri: str) -> tuple[ResolvedImport, ...]:
        """A file's imports, each with the workspace files it resolves to."""
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
        return self._state.documents.references(uri, name)

    def stats(self) -> dict[str, object]:
        """For status displays: {"ready", "files", "symbols" (approximate between compactions), "openDocuments"}."""
        state = self._state
        return {
            "ready": state.ready.is_set(),
            "files": len(state.files),
            "symbols": len(state.table.base) + state.table.num_overlay_symbols,
            "openDocuments": sum(1 for _ in state.documents),
        }

    def resolver(self) -> Resolver:
        """The import resolver over the current set of files (built again once the builder drops it)."""
        state = self._state
        if state.resolver is None:
            packages = {p: r.package for p, r in state.files.items() if r.package}
            state.resolver = Resolver(state.roots, state.files.keys(), packages)
        return state.resolver

    def _module_files(self, module: str, from_path: str | None) -> list[str]:
        path = uri_to_path(module) if module.startswith("file:") else module
        if os.path.isabs(path):
            return [path] if path in self._state.files else []
        imports = self.imports_of(from_path) if from_path is not None else ()
        return self.resolver().module_files(module, imports)

    def _located(self, hits: Iterable[Hit]) -> list[SymbolLocation]:
        """The hits whose files the index still knows, as locations."""
        by_fid, out = self._state.by_fid, []
        for hit in hits:
            record = by_fid.get(hit.fid)
            if record is not None:
                out.append(SymbolLocation(hit.name, KINDS[hit.kind], record.path, hit.line, hit.col))
        return out

    def _open_doc(self, path_or_uri: str) -> str | None:
        documents = self._state.documents
        if path_or_uri in documents:
            return path_or_uri
        path = uri_to_path(path_or_uri)
        return next((d.uri for d in documents if d.path == path), None)
