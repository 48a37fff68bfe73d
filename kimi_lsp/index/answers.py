"""Answers from the index: outlines, symbols by name or fuzzy query, resolved imports, module members, the
members of a class and of its bases across files.

`IndexQueries` reads `IndexState` on the loop and answers with what is known so far (during the first index
too); an open document answers from its editor text, a closed file from its outline in the cache. It must not
change the records, the table or the store: a damaged cache entry is handed to `refresh` to be indexed again.
The one thing it writes is the state's resolver, which it builds on demand.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

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
from kimi_lsp.index.signature import base_names
from kimi_lsp.index.symtable import Hit

log = logging.getLogger(__name__)
CLASS_KINDS = frozenset({"class", "interface", "struct", "enum", "trait"})
MAX_BASE_DEPTH = 8  # bases of bases followed this far (and never in a cycle)
# the name methods reach their instance by, where attributes are assigned in methods rather than declared
_RECEIVERS = {"python": "self", "javascript": "this", "typescript": "this", "typescriptreact": "this"}
_ASSIGNMENT = re.compile(r"([^=]+?)\s*(?://|\*\*|>>|<<|[-+*/%&|^@])?=(?!=)")


@dataclass(slots=True, frozen=True)
class ClassMember:
    """A member of a class: the file and class that define it, how many bases away (0: the class asked for)."""

    path: str
    owner: str
    depth: int
    definition: Definition


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

    def enclosing_definitions(self, path_or_uri: str, line: int) -> tuple[Definition, ...]:
        """The definitions of a file whose span holds `line`, outermost first (the class and method around a
        cursor)."""
        return tuple(d for d in self.document_symbols(path_or_uri) if d.span.start_line <= line <= d.span.end_line)

    def class_members(self, path_or_uri: str, class_name: str) -> tuple[ClassMember, ...]:
        """The members of the class `class_name` defined in a file, then those of its bases, nearest first and
        each name once (a subclass's definition hides its base's): methods, fields, nested classes and, in
        Python, JavaScript and TypeScript, the attributes its methods assign (`self.x = ...`). A base is found
        in the same file, through the file's imports (`from m import Base`, `m.Base`, `import {Base}`), or as
        the one class of its name in the workspace; bases of bases too, up to MAX_BASE_DEPTH."""
        out: dict[str, ClassMember] = {}
        seen: set[tuple[str, str]] = set()

        def visit(path: str, name: str, depth: int) -> None:
            found = self._class_named(path, name)
            if found is None or (path, name) in seen or depth > MAX_BASE_DEPTH:
                return
            seen.add((path, name))
            outline, index = found
            members = [d for d in outline.definitions if d.parent == index]
            for definition in [*members, *self._assigned_attributes(path, outline, index)]:
                out.setdefault(definition.name, ClassMember(path, name, depth, definition))
            for base in base_names(outline.language, outline.definitions[index].signature):
                for target, base_class in self._base_classes(path, name, base):
                    visit(target, base_class, depth + 1)

        visit(uri_to_path(path_or_uri), class_name, 0)
        return tuple(out.values())

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

    def _class_named(self, path: str, name: str) -> tuple[Outline, int] | None:
        """The outline of a file and the index in it of its class `name` (a top-level one first)."""
        outline = self.outline(path)
        if outline is None:
            return None
        found = [i for i, d in enumerate(outline.definitions) if d.name == name and d.kind in CLASS_KINDS]
        found.sort(key=lambda i: outline.definitions[i].parent >= 0)
        return (outline, found[0]) if found else None

    def _base_classes(self, path: str, subclass: str, base: str) -> list[tuple[str, str]]:
        """(file, class name) of a base as written in the class `subclass` of `path`."""
        module, _, name = base.rpartition(".")
        if module:
            return [(f, name) for f in self._module_files(module, path) if self._class_named(f, name)]
        if name != subclass and self._class_named(path, name) is not None:
            return [(path, name)]
        for imp in self.imports_of(path):
            names = imp.ref.names
            if name in names or "*" in names or not names:
                hits = [(target, name) for target in imp.targets if self._class_named(target, name)]
                if hits:
                    return hits[:1]
        located = {loc.path for loc in self.definitions_named(name) if loc.kind in CLASS_KINDS} - {path}
        return [(located.pop(), name)] if len(located) == 1 else []

    def _assigned_attributes(self, path: str, outline: Outline, index: int) -> list[Definition]:
        """The attributes the methods of the class at `index` assign on their instance, as fields."""
        receiver = _RECEIVERS.get(outline.language)
        methods = [d for d in outline.definitions if d.parent == index and d.kind in ("method", "constructor")]
        lines = self._lines(path) if receiver is not None and methods else None
        if receiver is None or lines is None:
            return []
        out: list[Definition] = []
        for method in methods:
            for number in range(method.span.start_line, min(method.span.end_line + 1, len(lines))):
                line = lines[number]
                for name, col in assigned_attributes(line, receiver):
                    at = Span(number, col, number, col + len(name))
                    out.append(Definition(name, "field", at, at, line.strip()[:200], "", index))
        return out

    def _lines(self, path: str) -> list[str] | None:
        """A file's text by lines: an open document's current text, else the file on disk (as the index
        allows: a file it knows, within the size limit)."""
        doc = self._open_doc(path)
        document = self._state.documents.get(doc) if doc is not None else None
        if document is not None:
            return document.source.decode("utf-8", "replace").split("\n")
        record = self._state.files.get(path)
        if record is None or record.size > self._state.settings.max_file_bytes:
            return None
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read().split("\n")
        except OSError:
            return None

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


def assigned_attributes(line: str, receiver: str) -> list[tuple[str, int]]:
    """The attributes a line of code assigns on `receiver` (`self.x = 1`, `self.x: int = 1`, `self.a, self.b =
    ...`, `self.n += 1`; not `self.x[0] = 1` nor `self.x.y = 1`): each name and its column."""
    body = line.lstrip()
    match = _ASSIGNMENT.match(body)
    if match is None:
        return []
    targets, indent = match.group(1), len(line) - len(body)
    out = []
    for found in re.finditer(rf"(?<![\w$.]){re.escape(receiver)}\.([A-Za-z_$][\w$]*)", targets):
        if targets[found.end() :].lstrip()[:1] in ("", ",", ")", "]", ":"):
            out.append((found.group(1), indent + found.start(1)))
    return out
