"""A symbol-table base: every symbol sorted case-insensitively, in one string of names and four typed arrays.

Owns the base's layout (about 30 bytes per symbol), `fold`, and the pure functions that make a base: from
entries (`build_base`), from the cache's blobs (`base_from_blobs`), and from a snapshot of a table
(`build_compacted`: the base with the overlay folded in). They run in C when the `_symtab` extension may be used
(native.py), else in Python, which is the reference. It must not hold a live table (symtable.py's SymbolTable,
with the overlay and the searches, does): everything here is immutable, so it is safe to run in a thread.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, compress, islice
from typing import NamedTuple

from kimi_lsp.index.native import _symtab

# (name, line, col << 5 | kind code) for one file
FileSymbols = tuple[tuple[str, int, int], ...]


class Hit(NamedTuple):
    name: str
    fid: int
    line: int
    col: int
    kind: int


@dataclass(slots=True, frozen=True)
class Base:
    """Symbols sorted case-insensitively. names: '\\n'-joined; folded: the same lowercased (same length, so the
    same offsets); offsets: start of each name (+ end); then one array per field."""

    names: str
    folded: str
    offsets: array[int]
    fids: array[int]
    lines: array[int]
    colkinds: array[int]

    def __len__(self) -> int:
        return len(self.fids)

    def name(self, i: int) -> str:
        return self.names[self.offsets[i] : self.offsets[i + 1] - 1]

    def folded_name(self, i: int) -> str:
        return self.folded[self.offsets[i] : self.offsets[i + 1] - 1]

    def first_at_least(self, folded_key: str) -> int:
        """Index of the first name whose folded form sorts at or after `folded_key`."""
        return bisect_left(range(len(self)), folded_key, key=self.folded_name)

    def hit(self, i: int) -> Hit:
        ck = self.colkinds[i]
        return Hit(self.name(i), self.fids[i], self.lines[i], ck >> 5, ck & 31)


def fold(text: str) -> str:
    """Lowercase without changing the length, so offsets into the names string stay valid."""
    if text.isascii():
        return text.lower()
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


EMPTY_BASE = Base("", "", array("I", [0]), array("I"), array("I"), array("I"))


def build_base(entries: Iterable[tuple[str, int, int, int]]) -> Base:
    """A base from (name, fid, line, colkind) entries (pure; safe to run in a thread). Equal names keep the
    order they came in."""
    rows = list(entries)
    return _build_columns(*zip(*rows)) if rows else EMPTY_BASE


def _build_columns(names: Sequence[str], fids: Sequence[int], lines: Sequence[int], colkinds: Sequence[int]) -> Base:
    """build_base on columns: in C when the `_symtab` extension is built, else `_build_columns_python`."""
    if _symtab is None:
        return _build_columns_python(names, fids, lines, colkinds)
    return base_from_blobs(*_symtab.build(names, fids, lines, colkinds, fold))


def base_from_blobs(text: str, *blobs: bytes) -> Base:
    """A Base from its names and its four columns as bytes of native uint32 (offsets, fids, lines, colkinds):
    the form the extension returns and the cache stores."""
    arrays = [array("I") for _ in range(4)]
    for arr, blob in zip(arrays, blobs):
        arr.frombytes(blob)
    return Base(text, fold(text), *arrays)


def _build_columns_python(
    names: Sequence[str], fids: Sequence[int], lines: Sequence[int], colkinds: Sequence[int]
) -> Base:
    """The reference: C-speed maps and string sort keys, not a tuple and a key call per symbol."""
    folded = fold("\0".join(names)).split("\0")
    if len(folded) != len(names):  # a name with a NUL in it: fold one by one
        folded = [fold(name) for name in names]
    keys = list(map("\0".join, zip(folded, names)))
    order = sorted(range(len(names)), key=keys.__getitem__)
    sorted_names = list(map(names.__getitem__, order))
    text = "".join([name + "\n" for name in sorted_names])
    offsets = array("I", accumulate(map(len, sorted_names), lambda end, n: end + n + 1, initial=0))
    return Base(
        text,
        fold(text),
        offsets,
        array("I", map(fids.__getitem__, order)),
        array("I", map(lines.__getitem__, order)),
        array("I", map(colkinds.__getitem__, order)),
    )


class CompactionInput(NamedTuple):
    base: Base
    overlay: dict[int, FileSymbols]
    dead: frozenset[int]


def build_compacted(inp: CompactionInput) -> Base:
    """The live entries of a snapshot, as a new base (pure; safe to run in a thread). With the extension and an
    ASCII base (the common case), only the overlay is sorted and merged into the base, in C."""
    base, dead = inp.base, inp.dead
    if _symtab is not None and base.names.isascii():
        names, fids, lines, colkinds = _overlay_columns(inp.overlay)
        keep = bytes([fid not in dead for fid in base.fids]) if dead else None
        merged = base_from_blobs(
            *_symtab.merge(
                base.names,
                base.folded,
                base.offsets,
                base.fids,
                base.lines,
                base.colkinds,
                keep,
                names,
                fids,
                lines,
                colkinds,
                fold,
            )
        )
        return merged if len(merged) else EMPTY_BASE
    return _compacted_by_sort(inp)


def _overlay_columns(overlay: dict[int, FileSymbols]) -> tuple[list[str], list[int], list[int], list[int]]:
    names: list[str] = []
    fids: list[int] = []
    lines: list[int] = []
    colkinds: list[int] = []
    for fid, symbols in overlay.items():
        for name, line, colkind in symbols:
            names.append(name)
            fids.append(fid)
            lines.append(line)
            colkinds.append(colkind)
    return names, fids, lines, colkinds


def _compacted_by_sort(inp: CompactionInput) -> Base:
    """build_compacted by sorting everything again: the reference, and the way for non-ASCII bases."""
    base, dead = inp.base, inp.dead
    starts, text = base.offsets, base.names
    names = [text[start : end - 1] for start, end in zip(starts, islice(starts, 1, None))]
    fids, lines, colkinds = list(base.fids), list(base.lines), list(base.colkinds)
    if dead:
        live = [fid not in dead for fid in fids]
        names = list(compress(names, live))
        fids, lines, colkinds = list(compress(fids, live)), list(compress(lines, live)), list(compress(colkinds, live))
    more = _overlay_columns(inp.overlay)
    names += more[0]
    fids += more[1]
    lines += more[2]
    colkinds += more[3]
    return _build_columns(names, fids, lines, colkinds) if names else EMPTY_BASE
