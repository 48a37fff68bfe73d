"""The index's data: what one file contributes (an outline) and what queries return.

Everything here is immutable and cheap to pickle (it crosses the process pool). Positions are 0-based lines and
UTF-16 columns, as LSP wants them. This module does no I/O; the compact byte encoding used for the cache and for
keeping closed files' outlines out of memory lives here too, next to the types it encodes.
"""

from __future__ import annotations

import marshal
import zlib
from dataclasses import dataclass
from typing import NamedTuple

KINDS: tuple[str, ...] = (
    "module",
    "namespace",
    "class",
    "interface",
    "struct",
    "enum",
    "trait",
    "impl",
    "type",
    "function",
    "method",
    "constructor",
    "field",
    "variable",
    "constant",
    "macro",
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
    """Cold-indexing progress, reported on the event loop. counting: the walk still finds files, so `total`
    is a lower bound and a percentage would fall back as it grows."""

    done: int
    total: int
    counting: bool = False

    @property
    def message(self) -> str:
        return f"Indexing {self.done:,}/{self.total:,}{'+' if self.counting else ''}"

    @property
    def percentage(self) -> int | None:
        return 100 * self.done // self.total if self.total and not self.counting else None


class FileEvent(NamedTuple):
    """A change on disk. kind: 'created' | 'changed' | 'deleted'. A rename is a delete plus a create."""

    kind: str
    path: str


# The raw form extraction produces and the cache stores: plain tuples, no objects per definition.
# definition: (name, kind code, 4 x span, 4 x name span, signature, doc, parent); import: (spec, names, level, line)
RawDefinition = tuple[str, int, int, int, int, int, int, int, int, int, str, str, int]
RawImport = tuple[str, tuple[str, ...], int, int]
RawOutline = tuple[str, str, list[RawDefinition], list[RawImport]]
_BLOB_VERSION = b"K1"


def encode_raw(raw: RawOutline) -> bytes:
    """Bytes for the cache: version tag, CRC-32, then marshal (checked before it is ever unmarshalled)."""
    body = marshal.dumps(raw, 4)
    return _BLOB_VERSION + zlib.crc32(body).to_bytes(4, "little") + body


def decode_raw(blob: bytes) -> RawOutline:
    """The inverse of encode_raw. Raises ValueError on a blob it does not understand or that is damaged."""
    body = blob[6:]
    if blob[:2] != _BLOB_VERSION or zlib.crc32(body).to_bytes(4, "little") != blob[2:6]:
        raise ValueError("bad outline blob")
    raw = marshal.loads(body)
    if not isinstance(raw, tuple) or len(raw) != 4:
        raise ValueError("bad outline blob")
    return raw


def outline_from_raw(raw: RawOutline) -> Outline:
    language, package, defs, imports = raw
    definitions = tuple(
        Definition(d[0], KINDS[d[1]], Span(d[2], d[3], d[4], d[5]), Span(d[6], d[7], d[8], d[9]), d[10], d[11], d[12])
        for d in defs
    )
    return Outline(language, package, definitions, tuple(ImportRef(i[0], tuple(i[1]), i[2], i[3]) for i in imports))


def encode_outline(outline: Outline) -> bytes:
    defs: list[RawDefinition] = [
        (d.name, KIND_CODE[d.kind], *_span4(d.span), *_span4(d.name_span), d.signature, d.doc, d.parent)
        for d in outline.definitions
    ]
    imports: list[RawImport] = [(i.spec, i.names, i.level, i.line) for i in outline.imports]
    return encode_raw((outline.language, outline.package, defs, imports))


def decode_outline(blob: bytes) -> Outline:
    return outline_from_raw(decode_raw(blob))


def _span4(span: Span) -> tuple[int, int, int, int]:
    return span.start_line, span.start_col, span.end_line, span.end_col
