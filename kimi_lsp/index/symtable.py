"""The workspace-wide symbol table: name -> (file id, line, column, kind), compact enough for 50,000 files.

A sorted, immutable base (symbase.py) plus a small overlay of files changed since the base was built. Lookups
and fuzzy search read both and skip base entries of files the overlay replaced. `compaction_input` +
`build_compacted` (pure, may run in a thread) + `install_base` fold the overlay into a new base. Owns the
overlay and the searches; must not build or lay out a base itself (symbase.py does). Not thread-safe: mutate and
query from the event loop only.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate

# re-exported (`X as X`): the index imports the base's names from here, and test_symtable.py and
# test_no_native.py reach the private ones here
from kimi_lsp.index.native import _symtab as _symtab
from kimi_lsp.index.symbase import EMPTY_BASE as EMPTY_BASE
from kimi_lsp.index.symbase import Base as Base
from kimi_lsp.index.symbase import CompactionInput as CompactionInput
from kimi_lsp.index.symbase import FileSymbols as FileSymbols
from kimi_lsp.index.symbase import Hit as Hit
from kimi_lsp.index.symbase import _build_columns as _build_columns
from kimi_lsp.index.symbase import _build_columns_python as _build_columns_python
from kimi_lsp.index.symbase import _compacted_by_sort as _compacted_by_sort
from kimi_lsp.index.symbase import _overlay_columns as _overlay_columns
from kimi_lsp.index.symbase import base_from_blobs as base_from_blobs
from kimi_lsp.index.symbase import build_base as build_base
from kimi_lsp.index.symbase import build_compacted as build_compacted
from kimi_lsp.index.symbase import fold


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
        return _OverlayText(
            before.folded + folded, before.starts[:-1] + starts, before.file_ends + file_ends, before.fids + fids
        )

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
