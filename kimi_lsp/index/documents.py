"""Open documents: their text and syntax tree, reparsed incrementally on every change.

Only open documents keep a syntax tree (trees cost ~28x the source in memory). A change is a list of LSP-style
content changes (a range in UTF-16 positions plus the new text, or a whole-document change); each is turned
into a tree-sitter edit, then one incremental reparse. If the edited text does not come out equal to the text
the editor sent, the document is reparsed from scratch. Not thread-safe: use from the event loop.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote, urlparse

from tree_sitter import Point, Tree

from kimi_lsp.index.extract import extract_outline, parse, references
from kimi_lsp.index.languages import LanguageSpec, spec_for_path, spec_named
from kimi_lsp.index.model import Outline, Span


class _Position(Protocol):
    @property
    def line(self) -> int: ...
    @property
    def character(self) -> int: ...


class _Range(Protocol):
    @property
    def start(self) -> _Position: ...
    @property
    def end(self) -> _Position: ...


@dataclass(slots=True, frozen=True)
class Pos:
    line: int
    character: int


@dataclass(slots=True, frozen=True)
class Range:
    start: Pos
    end: Pos


@dataclass(slots=True, frozen=True)
class ContentChange:
    """An LSP content change: `range` None means the whole document. lsprotocol's change events also fit."""

    text: str
    range: Range | None = None


# An open document longer than this is not parsed: no tree, outline, symbols or syntax diagnostics for it (its
# text still serves completions). A 50 MB generated file would otherwise hold the event loop for a minute and
# its tree some 28x its size in memory. Files on disk are indexed up to 1 MB (discovery.py).
MAX_PARSED_CHARS = 4_000_000


@dataclass(slots=True)
class OpenDocument:
    uri: str
    path: str
    spec: LanguageSpec
    source: bytes
    tree: Tree
    version: int
    _outline: Outline | None = field(default=None, repr=False)


def uri_to_path(uri: str) -> str:
    """A file:// URI (or a plain path) as a local path. Percent-escapes that are not UTF-8 (a file name in
    another encoding) decode to surrogate escapes, as os.fsdecode does: the inverse of Path.as_uri()."""
    if uri.startswith("file:"):
        return os.path.normpath(unquote(urlparse(uri).path, errors="surrogateescape"))
    return os.path.normpath(uri)


class OpenDocuments:
    def __init__(self) -> None:
        self._docs: dict[str, OpenDocument] = {}
        self.full_reparses = 0  # changes that could not be applied incrementally (a statistic, for tests)

    def __contains__(self, uri: str) -> bool:
        return uri in self._docs

    def __iter__(self) -> Iterator[OpenDocument]:
        return iter(list(self._docs.values()))

    def open(self, uri: str, text: str, version: int = 0, language_id: str | None = None) -> OpenDocument | None:
        """Start tracking a document; None when its language is not one we parse, or it is too long to parse."""
        path = uri_to_path(uri)
        spec = (spec_named(language_id) if language_id else None) or spec_for_path(path)
        if spec is None or len(text) > MAX_PARSED_CHARS:
            self._docs.pop(uri, None)
            return None
        source = text.encode("utf-8", "surrogatepass")
        doc = OpenDocument(uri, path, spec, source, parse(spec, source), version)
        self._docs[uri] = doc
        return doc

    def change(
        self,
        uri: str,
        new_text: str,
        changes: Sequence[object] = (),
        version: int | None = None,
        encoding: str = "utf-16",
    ) -> None:
        """Apply content changes (in order) and reparse incrementally; `new_text` is the full text after them.
        `encoding` is the negotiated LSP position encoding the change ranges are in."""
        doc = self._docs.get(uri)
        if doc is None or len(new_text) > MAX_PARSED_CHARS:
            self.open(uri, new_text, version or 0, doc.spec.name if doc is not None else None)
            return
        new_source = new_text.encode("utf-8", "surrogatepass")
        source, tree = doc.source, doc.tree
        incremental = bool(changes)
        for change in changes:
            rng: _Range | None = getattr(change, "range", None)
            if rng is None:
                incremental = False
                break
            text = str(getattr(change, "text"))  # noqa: B009 - a change is any object with a .text
            source = _apply(tree, source, rng, text, encoding)
        if incremental and source == new_source:
            doc.tree = parse(doc.spec, new_source, tree)
        else:
            self.full_reparses += 1
            doc.tree = parse(doc.spec, new_source)
        doc.source, doc._outline = new_source, None
        doc.version = version if version is not None else doc.version + 1

    def close(self, uri: str) -> None:
        self._docs.pop(uri, None)

    def get(self, uri: str) -> OpenDocument | None:
        return self._docs.get(uri)

    def tree(self, uri: str) -> Tree | None:
        doc = self._docs.get(uri)
        return doc.tree if doc is not None else None

    def outline(self, uri: str) -> Outline | None:
        """The outline of the current text (computed once per version)."""
        doc = self._docs.get(uri)
        if doc is None:
            return None
        if doc._outline is None:
            doc._outline = extract_outline(doc.spec, doc.tree, doc.source)
        return doc._outline

    def references(self, uri: str, name: str | None = None) -> tuple[tuple[str, Span], ...]:
        doc = self._docs.get(uri)
        return references(doc.spec, doc.tree, doc.source, name) if doc is not None else ()


def _apply(tree: Tree, source: bytes, rng: _Range, text: str, encoding: str) -> bytes:
    """Edit `tree` for one ranged change and return the source after it."""
    start, start_pt = _offset(source, rng.start.line, rng.start.character, encoding)
    end, end_pt = _offset(source, rng.end.line, rng.end.character, encoding)
    if end < start:
        start, end, start_pt, end_pt = end, start, end_pt, start_pt
    inserted = text.encode("utf-8", "surrogatepass")
    newlines = inserted.count(b"\n")
    if newlines:
        new_end_pt = Point(start_pt.row + newlines, len(inserted) - inserted.rfind(b"\n") - 1)
    else:
        new_end_pt = Point(start_pt.row, start_pt.column + len(inserted))
    tree.edit(start, end, start + len(inserted), start_pt, end_pt, new_end_pt)
    return source[:start] + inserted + source[end:]


def _offset(source: bytes, line: int, character: int, encoding: str = "utf-16") -> tuple[int, Point]:
    """Byte offset and tree-sitter point of an LSP position (character in `encoding` units); clamped."""
    head = source.split(b"\n", line)  # C-speed; the last item is the text from `line` on
    if len(head) <= line:
        return len(source), Point(len(head) - 1, len(head[-1]))
    line_start = len(source) - len(head[-1])
    line_end = source.find(b"\n", line_start)
    if line_end < 0:
        line_end = len(source)
    segment = source[line_start:line_end]
    if segment.isascii() or encoding == "utf-8":
        col = min(character, len(segment))
    elif encoding == "utf-32":
        col = len(segment.decode("utf-8", "replace")[:character].encode("utf-8"))
    else:
        col = len(_utf16_prefix(segment.decode("utf-8", "replace"), character).encode("utf-8"))
    return line_start + col, Point(line, col)


def _utf16_prefix(text: str, units: int) -> str:
    count = 0
    for i, ch in enumerate(text):
        if count >= units:
            return text[:i]
        count += 2 if ord(ch) > 0xFFFF else 1
    return text
