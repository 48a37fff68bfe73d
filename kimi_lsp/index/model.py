"""The index's data: what one file contributes (an outline) and what queries return.

Everything here is immutable and cheap to pickle (it crosses the process pool). Positions are 0-based lines and
UTF-16 columns, as LSP wants them. This module does no I/O; the compact byte encoding used for the cache and for
keeping closed files' outlines out of memory lives here too, next to the types it encodes.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import NamedTuple

KINDS: tuple[str, ...] = (
    "module", "namespace", "class", "interface", "struct", "enum", "trait", "impl", "type", "function",
    "method", "constructor", "field", "variable", "constant", "macro",
)
KIND_CODE = {kind: code for code, kind in enumerate(KINDS)}
CONTAINER_KINDS = frozenset({"module", "namespace", "class", "interface", "struct", "enum", "trait", "impl"})


@dataclass(slots=True, frozen=True)
class Span:
    """A range: start and end line (0-based) and UTF-16 column."""

    start_line: int
    start_col: int
    end_line: int
    end_col: int


@dataclass(slots=True, frozen=True)
class Definition:
    """One definition in a file's outline. `parent` is the index of the enclosing definition, or -1."""

    name: str
    kind: str
    span: Span
    name_span: Span
    signature: str
    doc: str
    parent: int


@dataclass(slots=True, frozen=True)
class ImportRef:
    """An import as written. `spec` is the module/path text; `names` are the imported names (Python `from`);
    `level` counts leading dots of a relative Python import; `line` is where it is."""

    spec: str
    names: tuple[str, ...]
    level: int
    line: int


@dataclass(slots=True, frozen=True)
class Outline:
    """What extraction finds in one file. `package` is the Go/Java package declaration, else ''."""

    language: str
    package: str
    definitions: tuple[Definition, ...]
    imports: tuple[ImportRef, ...]


class SymbolLocation(NamedTuple):
    """A workspace-wide symbol hit: where a definition's name is."""

    name: str
    kind: str
    path: str
    line: int
    col: int


class ResolvedImport(NamedTuple):
    """An import with the workspace files it resolves to (empty when it is external or not found)."""

    ref: ImportRef
    targets: tuple[str, ...]


class Progress(NamedTuple):
    """Cold-indexing progress, reported on the event loop."""

    done: int
    total: int

    @property
    def message(self) -> str:
        return f"Indexing {self.done:,}/{self.total:,}"


class FileEvent(NamedTuple):
    """A change on disk. kind: 'created' | 'changed' | 'deleted'. A rename is a delete plus a create."""

    kind: str
    path: str


def encode_outline(outline: Outline) -> bytes:
    """A compact, versioned byte form of an outline (zlib-compressed JSON)."""
    defs = [
        [d.name, KIND_CODE[d.kind], *_span_list(d.span), *_span_list(d.name_span), d.signature, d.doc, d.parent]
        for d in outline.definitions
    ]
    imports = [[i.spec, list(i.names), i.level, i.line] for i in outline.imports]
    payload = [1, outline.language, outline.package, defs, imports]
    return zlib.compress(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(), 1)


def decode_outline(blob: bytes) -> Outline:
    """The inverse of encode_outline. Raises ValueError on a blob it does not understand."""
    try:
        version, language, package, defs, imports = json.loads(zlib.decompress(blob))
    except (zlib.error, json.JSONDecodeError, TypeError) as exc:
        raise ValueError("bad outline blob") from exc
    if version != 1:
        raise ValueError(f"outline version {version}")
    definitions = tuple(
        Definition(d[0], KINDS[d[1]], Span(*d[2:6]), Span(*d[6:10]), d[10], d[11], d[12]) for d in defs
    )
    refs = tuple(ImportRef(i[0], tuple(i[1]), i[2], i[3]) for i in imports)
    return Outline(language, package, definitions, refs)


def _span_list(span: Span) -> list[int]:
    return [span.start_line, span.start_col, span.end_line, span.end_col]
