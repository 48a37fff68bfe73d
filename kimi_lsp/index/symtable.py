"""The workspace-wide symbol table: name -> (file id, line, column, kind), compact enough for 50,000 files.

A sorted, immutable base (one string of names, typed arrays for the rest: about 30 bytes per symbol) plus a
small overlay of files changed since the base was built. Lookups and fuzzy search read both and skip base
entries of files the overlay replaced. `compaction_input` + `build_base` (pure, may run in a thread) +
`install_base` fold the overlay into a new base. Not thread-safe: mutate and query from the event loop only.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, compress, islice
from typing import NamedTuple

from kimi_lsp.index.extract import native_enabled

# the C extension: unused when KIMI_LSP_NO_NATIVE=1 (see extract.py), and where an "I" array is not 32-bit (it
# writes 32-bit columns)
if native_enabled() and array("I").itemsize == 4:
    try:
        from kimi_lsp.index import _symtab
    except ImportError:  # built without the C extension
        _symtab = None  # type: ignore[assignment]
else:
    _symtab = None  # type: ignore[assignment]

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
        return self.names[self.offsets[i]:self.offsets[i + 1] - 1]

    def folded_name(self, i: int) -> str:
        return self.folded[self.offsets[i]:self.offsets[i + 1] - 1]

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


def _build_columns(names: Sequence[str], fids: Sequence[int], lines: Sequence[int],
                   colkinds: Sequence[int]) -> Base:
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


def _build_columns_python(names: Sequence[str], fids: Sequence[int], lines: Sequence[int],
                          colkinds: Sequence[int]) -> Base:
    """The reference: C-speed maps and string sort keys, not a tuple and a key call per symbol."""
    folded = fold("\0".join(names)).split("\0")
    if len(folded) != len(names):  # a name with a NUL in it: fold one by one
        folded = [fold(name) for name in names]
    keys = list(map("\0".join, zip(folded, names)))
    order = sorted(range(len(names)), key=keys.__getitem__)
    sorted_names = list(map(names.__getitem__, order))
    text = "".join([name + "\n" for name in sorted_names])
    offsets = array("I", accumulate(map(len, sorted_names), lambda end, n: end + n + 1, initial=0))
    return Base(text, fold(text), offsets, array("I", map(fids.__getitem__, order)),
                array("I", map(lines.__getitem__, order)), array("I", map(colkinds.__getitem__, order)))


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
        merged = base_from_blobs(*_symtab.merge(base.names, base.folded, base.offsets, base.fids, base.lines,
                                                base.colkinds, keep, names, fids, lines, colkinds, fold))
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
    names = [text[start:end - 1] for start, end in zip(starts, islice(starts, 1, None))]
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


@dataclass(slots=True, frozen=True)
class _OverlayText:
    """The overlay's names folded, each ended by '\\n', for fuzzy search: name k starts at starts[k]; the first
    j + 1 files hold file_ends[j] names; fids[j] is the j-th file."""

    folded: str
    starts: list[int]
    file_ends: list[int]
    fids: list[int]

    @staticmethod
    def of(overlay: dict[int, FileSymbols], fids: list[int], before: _OverlayText | None = None) -> _OverlayText:
        """The text of the files `fids`, after `before` (the text of files added earlier) if given."""
        names = [name for fid in fids for name, _, _ in overlay[fid]]
        folded = fold("".join([name + "\n" for name in names]))
        offset, count = (len(before.folded), before.file_ends[-1] if before.file_ends else 0) if before else (0, 0)
        starts = list(accumulate(map(len, names), lambda end, n: end + n + 1, initial=offset))
        file_ends = list(accumulate((len(overlay[fid]) for fid in fids), initial=count))[1:]
        if before is None:
            return _OverlayText(folded, starts, file_ends, fids)
        return _OverlayText(before.folded + folded, before.starts[:-1] + starts, before.file_ends + file_ends,
                            before.fids + fids)

    def hit(self, overlay: dict[int, FileSymbols], k: int) -> Hit:
        j = bisect_right(self.file_ends, k)
        fid = self.fids[j]
        name, line, ck = overlay[fid][k - (self.file_ends[j - 1] if j else 0)]
        return Hit(name, fid, line, ck >> 5, ck & 31)


class SymbolTable:
    def __init__(self, base: Base = EMPTY_BASE) -> None:
        self.base = base
        self.overlay: dict[int, FileSymbols] = {}
        self.dead: set[int] = set()  # files whose base entries are stale
        self._by_name: dict[str, list[int]] | None = {}  # overlay name -> fids, rebuilt lazily after changes
        self._scan_text: _OverlayText | None = None  # the overlay's names for fuzzy search, rebuilt lazily
        self._scan_added: list[int] = []  # files added to the overlay since _scan_text was built
        self._touched: set[int] = set()
        self.num_overlay_symbols = 0
        self.generation = 0  # bumped by every change: tells whether a saved snapshot is still current

    def replace_file(self, fid: int, symbols: FileSymbols) -> None:
        self.remove_file(fid)  # hides the file's base entries
        self.add_file(fid, symbols)

    def add_file(self, fid: int, symbols: FileSymbols) -> None:
        """replace_file for a file id the table has never held: nothing of it in the base to hide."""
        self.overlay[fid] = symbols
        self.num_overlay_symbols += len(symbols)
        self._by_name = None
        if self._scan_text is not None:  # a cold index only adds: the search text grows, not rebuilt
            self._scan_added.append(fid)
        self.generation += 1
        self._touched.add(fid)

    def remove_file(self, fid: int) -> None:
        if fid in self.overlay:
            self.num_overlay_symbols -= len(self.overlay.pop(fid))
            self._by_name = self._scan_text = None
            self._scan_added = []
        self.generation += 1
        self.dead.add(fid)
        self._touched.add(fid)

    def _overlay_index(self) -> dict[str, list[int]]:
        if self._by_name is None:
            index: dict[str, list[int]] = {}
            for fid, symbols in self.overlay.items():
                for name, _, _ in symbols:
                    fids = index.setdefault(name, [])
                    if not fids or fids[-1] != fid:
                        fids.append(fid)
            self._by_name = index
        return self._by_name

    def lookup(self, name: str) -> list[Hit]:
        """Every definition spelled exactly `name`."""
        out: list[Hit] = []
        base, key = self.base, fold(name)
        i = base.first_at_least(key)
        while i < len(base) and base.folded_name(i) == key:
            if base.name(i) == name and base.fids[i] not in self.dead:
                out.append(base.hit(i))
            i += 1
        for fid in sorted(self._overlay_index().get(name, ())):
            out.extend(Hit(n, fid, line, ck >> 5, ck & 31) for n, line, ck in self.overlay[fid] if n == name)
        return out

    def search(self, query: str, limit: int) -> list[Hit]:
        """Fuzzy, case-insensitive: exact, then prefix, then substring, then subsequence matches; shorter first.
        Prefix matches come from a binary search (the base is sorted by folded name); substring and subsequence
        matches from C-speed scans of the folded names; each tier is capped, the better tiers go first."""
        q = fold(query)
        cap = max(limit * 4, 400)
        seen: set[int] = set()
        scored = [(_score(self.base.folded_name(i), q), i) for i in self._prefixed(q, cap, seen)]
        if len(scored) < limit and q:
            for pattern in (re.compile(re.escape(q)), _subsequence(q)):
                scored.extend((_score(self.base.folded_name(i), q), i) for i in self._scan(pattern, cap, seen))
                if len(scored) >= limit:
                    break
        hits = [(tier, self.base.hit(i)) for tier, i in scored]
        hits += self._overlay_matches(q, limit, cap)
        hits.sort(key=lambda h: (h[0], len(h[1].name), h[1].name))
        return [h[1] for h in hits[:limit]]

    def _overlay_matches(self, q: str, limit: int, cap: int) -> list[tuple[int, Hit]]:
        """search's tiers over the overlay: C-speed scans of its folded names (prefix, then substring, then
        subsequence, each capped), as over the base. A cold index holds up to half its symbols here."""
        text = self._overlay_text()
        patterns = [re.compile("^" + re.escape(q), re.MULTILINE)]
        if q:
            patterns += [re.compile(re.escape(q)), _subsequence(q)]
        seen: set[int] = set()
        out: list[tuple[int, Hit]] = []
        for pattern in patterns:
            count, pos, end = 0, 0, len(text.folded)
            while count < cap and (m := pattern.search(text.folded, pos, end)) is not None and m.start() < end:
                k = bisect_right(text.starts, m.start()) - 1
                pos = text.starts[k + 1]
                if k not in seen:
                    seen.add(k)
                    count += 1
                    hit = text.hit(self.overlay, k)
                    out.append((_score(fold(hit.name), q), hit))
            if len(out) >= limit:
                break
        return out

    def _overlay_text(self) -> _OverlayText:
        if self._scan_text is None:
            self._scan_text = _OverlayText.of(self.overlay, list(self.overlay))
        elif self._scan_added:
            self._scan_text = _OverlayText.of(self.overlay, self._scan_added, self._scan_text)
        self._scan_added = []
        return self._scan_text

    def _prefixed(self, q: str, cap: int, seen: set[int]) -> Iterator[int]:
        base, count = self.base, 0
        i = base.first_at_least(q)
        while i < len(base) and count < cap and base.folded_name(i).startswith(q):
            if base.fids[i] not in self.dead:
                seen.add(i)
                count += 1
                yield i
            i += 1

    def _scan(self, pattern: re.Pattern[str], cap: int, seen: set[int]) -> Iterator[int]:
        """Indices of live base names whose folded form matches `pattern`, at most `cap`, skipping `seen`."""
        base, count, pos = self.base, 0, 0
        text = base.folded
        while count < cap:
            m = pattern.search(text, pos)
            if m is None:
                return
            i = bisect_right(base.offsets, m.start()) - 1
            pos = base.offsets[i + 1]
            if i not in seen and base.fids[i] not in self.dead:
                seen.add(i)
                count += 1
                yield i

    def all_entries(self) -> Iterator[tuple[str, int, int, int]]:
        """Every live (name, fid, line, colkind), base and overlay."""
        base = self.base
        for i in range(len(base)):
            if base.fids[i] not in self.dead:
                yield base.name(i), base.fids[i], base.lines[i], base.colkinds[i]
        for fid, symbols in self.overlay.items():
            for name, line, ck in symbols:
                yield name, fid, line, ck

    def compaction_input(self) -> CompactionInput:
        """Start a compaction: a cheap snapshot. Pass it to build_compacted (in a thread), then install_base."""
        self._touched = set()
        return CompactionInput(self.base, dict(self.overlay), frozenset(self.dead))

    def install_base(self, base: Base) -> None:
        """Finish a compaction: files touched since compaction_input stay in the overlay; the rest fold in."""
        touched = self._touched
        keep = {fid: symbols for fid, symbols in self.overlay.items() if fid in touched}
        self.base, self.overlay, self._by_name, self._scan_text, self.num_overlay_symbols = base, {}, None, None, 0
        self._scan_added = []
        for fid, symbols in keep.items():
            self.replace_file(fid, symbols)
        self.dead, self._touched = set(touched), set()


def _subsequence(q: str) -> re.Pattern[str]:
    """c1[^c2\\n]*c2[^c3\\n]*c3...: a subsequence within one name, leftmost-greedy, no backtracking."""
    return re.compile(re.escape(q[0]) + "".join(f"[^{re.escape(c)}\n]*{re.escape(c)}" for c in q[1:]))


def _score(name: str, q: str) -> int:
    """exact 0, prefix 1, substring 2, subsequence 3."""
    if name == q or not q:
        return 0
    if name.startswith(q):
        return 1
    if q in name:
        return 2
    return 3


def pack_symbols(items: Sequence[tuple[str, int, int, int]]) -> FileSymbols:
    """(name, line, col, kind code) -> the table's per-file form."""
    return tuple((name, line, col << 5 | kind) for name, line, col, kind in items)
