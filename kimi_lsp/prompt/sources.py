"""Where cross-file context comes from, and how much each piece is worth at this cursor.

Candidates, each a piece of text the model could be shown, with a tier (what kind of source) and a score:
- tier 0, definitions the document takes from other workspace files: every top-level definition of a file it
  imports whose name the document uses (`from x import y`, `import x as m` then `m.y`, `use a::b`, Go's
  `pkg.Name`, ...: one rule for every language), following re-exports (a name imported from a package whose
  `__init__`, `index.ts` or `mod.rs` imports it from elsewhere). Scored by how often and how near the cursor the name is used;
  the base classes of the class around the cursor count double, four times after `self.` or `this.`;
- tier 1, code like the lines before the cursor in other open documents (identifier overlap of 20-line
  windows), for what imports do not reach;
- tier 2, the outlines of the imported files (a repo map).
And one `scope` candidate, always first: the headers of the class and function around the cursor when the
prefix window no longer shows them. Pure: the index is read through `IndexView`; no I/O of its own.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..index.model import Definition, Outline, ResolvedImport
from ..index.secrets import is_secret_path
from ..index.signature import base_names
from .render import INDENT, definition_text, outline_text

_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")
_NEWLINE = re.compile("\n")
_CONTAINERS = frozenset({"class", "interface", "struct", "enum", "trait", "impl"})
_SCOPES = _CONTAINERS | {"function", "method", "constructor"}
_ALIAS = re.compile(r"\bas\s+([A-Za-z_$][\w$]*)")
_MEMBER_ACCESS = re.compile(r"\b(?:self|this|cls)\.\w*$")
MAP_WEIGHT = 0.5  # a module's map against one definition used as often
NEAR_LINES = 150
FAR_WEIGHT = 1.0 / (1.0 + NEAR_LINES / 10.0)
SIMILAR_WINDOW_LINES = 20
SIMILAR_QUERY_LINES = 10
SIMILAR_MIN_OVERLAP = 0.3
REEXPORT_DEPTH = 2


class IndexView(Protocol):
    """What the sources read from the workspace index."""

    def outline(self, path_or_uri: str) -> Outline | None: ...

    def imports_of(self, path_or_uri: str) -> tuple[ResolvedImport, ...]: ...


@dataclass(slots=True, frozen=True)
class Document:
    """The document being completed: its path, text, cursor offset, outline and resolved imports."""

    path: str
    text: str
    cursor: int
    outline: Outline | None
    imports: tuple[ResolvedImport, ...]


@dataclass(slots=True, frozen=True)
class Candidate:
    """A piece of context. `key` names it across keystrokes (its place in the prompt follows the key)."""

    key: str
    path: str  # as the model is shown it
    text: str
    tier: int  # -1 scope, 0 definitions, 1 similar code, 2 repo map
    score: float


def candidates(
    document: Document,
    index: IndexView,
    show: Callable[[str], str],
    first_shown_line: int,
    others: Sequence[tuple[str, str]] = (),
) -> list[Candidate]:
    """Every candidate for `document`. `show` turns a path into what the model sees; `first_shown_line` is the
    first line of the document the prompt's prefix window keeps; `others` are (path, text) of other open
    documents that may be shown."""
    starts = _line_starts(document.text)
    cursor_line = bisect.bisect_right(starts, document.cursor) - 1
    targets = _targets(document)
    outlines = {t: o for t in targets if (o := index.outline(t)) is not None}
    imported = frozenset(n for r in document.imports for n in r.ref.names)
    wanted = {d.name for o in outlines.values() for d in o.definitions if d.parent == -1} | imported
    usage = _usage(document.text, starts, cursor_line)
    uses = _uses(usage, wanted, imported)
    bases = _bases(document.outline, cursor_line)
    boost = 4.0 if _MEMBER_ACCESS.search(document.text[max(0, document.cursor - 80) : document.cursor]) else 2.0
    found: list[Candidate] = []
    show = functools.cache(show)
    for name, path, outline, at in _imported_definitions(uses, outlines, document.imports, index):
        score = uses[name] * (boost if name in bases else 1.0)
        found.append(Candidate(f"def:{path}:{name}", show(path), definition_text(outline, at), 0, score))
    qualifiers = _qualifiers(document, starts)
    module_uses = _uses(usage, set(qualifiers.values()), frozenset(qualifiers.values()))
    for path, outline in outlines.items():
        qualifier_score = module_uses.get(qualifiers.get(path, ""), 0.0)
        if outline.definitions:  # a module used as `m.name`: its map may hold the name about to be written
            tier, score = (0, MAP_WEIGHT * qualifier_score) if qualifier_score else (2, 0.0)
            found.append(Candidate(f"map:{path}", show(path), outline_text(outline), tier, score))
    found += _similar(document.text, starts, cursor_line, others, show)
    scope = _scope(document, cursor_line, first_shown_line, show)
    return ([scope] if scope is not None else []) + found


def _line_starts(text: str) -> list[int]:
    """Offsets at which each line begins, lines ended by "\n" alone: the rows of the outline's spans, which come
    from tree-sitter, count "\n" only (snapshot.line_starts, for LSP positions, also breaks at a lone "\r")."""
    return [0, *(m.end() for m in _NEWLINE.finditer(text))]


@dataclass(frozen=True)
class _Usage:
    """The identifiers of a document as `_uses` weighs them, read once per build."""

    counts: Counter[str]  # every identifier in the text, how often
    near: tuple[tuple[float, frozenset[str]], ...]  # each line within NEAR_LINES of the cursor: weight, identifiers


def _usage(text: str, starts: list[int], cursor_line: int) -> _Usage:
    first = max(0, cursor_line - NEAR_LINES)
    last = min(len(starts) - 1, cursor_line + NEAR_LINES)
    end = starts[last + 1] if last + 1 < len(starts) else len(text)
    near = tuple(
        (1.0 / (1.0 + abs(number - cursor_line) / 10.0), frozenset(_IDENTIFIER.findall(line)))
        for number, line in enumerate(text[starts[first] : end].split("\n"), start=first)
    )
    return _Usage(Counter(_IDENTIFIER.findall(text)), near)


def _uses(usage: _Usage, wanted: set[str], imported: frozenset[str] = frozenset()) -> dict[str, float]:
    """How much each wanted identifier the text uses matters here: every use counts 1 / (1 + d / 10) for a
    distance of d lines from the cursor (a line once); uses more than NEAR_LINES away count FAR_WEIGHT each (they
    add little, and finding their lines would cost more than the rest of the build in a large file). A name
    imported by name and used nowhere else yet counts as if used at the cursor: it was imported to be used."""
    scores = {name: 0.0 for name in wanted if name in usage.counts}
    near = Counter[str]()
    for weight, names in usage.near:
        for name in scores.keys() & names:
            scores[name] += weight
            near[name] += 1
    for name in scores:
        count = usage.counts[name]
        scores[name] += FAR_WEIGHT * (count - near[name]) + (1.0 if count == 1 and name in imported else 0.0)
    return scores


def _qualifiers(document: Document, starts: list[int]) -> dict[str, str]:
    """target path -> the name the document reaches it by as a module (`import a.b as m` -> m, `import a.b`
    -> b, `from . import mod` -> mod, Go's `import "x/y"` -> y)."""
    qualifiers: dict[str, str] = {}
    for resolved in document.imports:
        line = resolved.ref.line
        text = (
            document.text[starts[line] : starts[line + 1] if line + 1 < len(starts) else None]
            if line < len(starts)
            else ""
        )
        alias = _ALIAS.search(text)
        for target in resolved.targets:
            stem = target.rpartition("/")[2].partition(".")[0]
            if not resolved.ref.names:
                qualifiers[target] = alias.group(1) if alias else re.split(r"[./:]+", resolved.ref.spec.strip("./"))[-1]
            elif stem in resolved.ref.names:
                qualifiers[target] = alias.group(1) if alias and len(resolved.ref.names) == 1 else stem
    return qualifiers


def _targets(document: Document) -> list[str]:
    """The workspace files the document imports, in import order, without itself and secret files."""
    targets: dict[str, None] = {}
    for resolved in document.imports:
        for target in resolved.targets:
            if target != document.path and not is_secret_path(target):
                targets.setdefault(target)
    return list(targets)


def _imported_definitions(
    uses: dict[str, float],
    outlines: dict[str, Outline],
    imports: Iterable[ResolvedImport],
    index: IndexView,
) -> Iterable[tuple[str, str, Outline, int]]:
    """(name, path, outline, definition index) of every top-level definition in the imported files whose name
    the document uses; for a name imported by name but not defined where it is imported from, the files a
    package re-exports it from."""
    top: dict[str, list[tuple[str, int]]] = {}
    for path, outline in outlines.items():
        for at, definition in enumerate(outline.definitions):
            if definition.parent == -1:
                top.setdefault(definition.name, []).append((path, at))
    for name in uses.keys() & top.keys():
        for path, at in top[name]:
            yield name, path, outlines[path], at
    for resolved in imports:
        for name in resolved.ref.names:
            if name not in top and name in uses:
                for path, outline, at in _reexported(name, list(resolved.targets), index, REEXPORT_DEPTH):
                    yield name, path, outline, at


def _reexported(name: str, packages: list[str], index: IndexView, depth: int) -> list[tuple[str, Outline, int]]:
    """Where the files in `packages` import `name` from, followed `depth` files deep."""
    if depth == 0:
        return []
    sources = [t for p in packages for r in index.imports_of(p) if name in r.ref.names for t in r.targets]
    hits = []
    for path in dict.fromkeys(s for s in sources if not is_secret_path(s)):
        outline = index.outline(path)
        for at, definition in enumerate(outline.definitions if outline is not None else ()):
            if definition.parent == -1 and definition.name == name and outline is not None:
                hits.append((path, outline, at))
                break
    return hits or _reexported(name, list(dict.fromkeys(sources)), index, depth - 1)


def _enclosing(outline: Outline | None, line: int, kinds: frozenset[str]) -> list[Definition]:
    """The definitions of `kinds` whose span holds `line`, outermost first."""
    if outline is None:
        return []
    return [d for d in outline.definitions if d.kind in kinds and d.span.start_line < line <= d.span.end_line]


def _bases(outline: Outline | None, cursor_line: int) -> frozenset[str]:
    """Names of the base classes of the innermost class around the cursor (last segment of dotted names)."""
    classes = _enclosing(outline, cursor_line, _CONTAINERS)
    if outline is None or not classes:
        return frozenset()
    return frozenset(name.rpartition(".")[2] for name in base_names(outline.language, classes[-1].signature))


def _scope(document: Document, cursor_line: int, first_shown_line: int, show: Callable[[str], str]) -> Candidate | None:
    """The headers of the definitions around the cursor that start before the prefix window does."""
    cut = [d for d in _enclosing(document.outline, cursor_line, _SCOPES) if d.span.start_line < first_shown_line]
    if not cut:
        return None
    text = "\n".join(INDENT * depth + (d.signature.strip() or d.name) for depth, d in enumerate(cut))
    return Candidate(f"scope:{document.path}", show(document.path), text, -1, float("inf"))


def _similar(
    text: str, starts: list[int], cursor_line: int, others: Sequence[tuple[str, str]], show: Callable[[str], str]
) -> list[Candidate]:
    """The best window of each other open document whose identifiers overlap the lines before the cursor."""
    first = starts[max(0, cursor_line - SIMILAR_QUERY_LINES)]
    query = set(_IDENTIFIER.findall(text[first : starts[cursor_line]]))
    if len(query) < 3:
        return []
    found = []
    for path, other in others:
        lines = other.splitlines()
        best, best_at = 0.0, 0
        for at in range(0, max(1, len(lines) - SIMILAR_WINDOW_LINES // 2), SIMILAR_WINDOW_LINES // 2):
            window = set(_IDENTIFIER.findall("\n".join(lines[at : at + SIMILAR_WINDOW_LINES])))
            overlap = len(query & window) / len(query | window) if window else 0.0
            if overlap > best:
                best, best_at = overlap, at
        if best >= SIMILAR_MIN_OVERLAP:
            snippet = "\n".join(lines[best_at : best_at + SIMILAR_WINDOW_LINES])
            found.append(Candidate(f"similar:{path}:{best_at}", show(path), snippet, 1, best))
    return found
