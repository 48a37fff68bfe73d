"""Syntax errors from tree-sitter trees, and what a suggestion would do to them.

Pure functions over a parsed tree (no parsing state, no LSP types): `syntax_problems` finds ERROR and MISSING
nodes (outermost only, capped), `count_errors` and `errors_with_insertion` score text for
post-processing and quick fixes. Positions are tree-sitter points: (row, utf-8 byte column).
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node, Tree

from .index.languages import LanguageSpec, new_parser

MAX_PROBLEMS = 50


@dataclass(slots=True, frozen=True)
class SyntaxProblem:
    start: tuple[int, int]
    end: tuple[int, int]
    message: str


def parse(spec: LanguageSpec, text: str) -> Tree:
    return new_parser(spec).parse(text.encode("utf-8", "surrogatepass"))


def _describe(node: Node) -> str:
    if node.is_missing:
        return f"Syntax error: missing {node.type!r}"
    snippet = (node.text or b"").decode("utf-8", "replace").strip().splitlines()
    near = f" near {snippet[0][:40]!r}" if snippet else ""
    return f"Syntax error: unexpected input{near}"


def syntax_problems(tree: Tree, limit: int = MAX_PROBLEMS) -> tuple[SyntaxProblem, ...]:
    """ERROR and MISSING nodes in document order; nested errors are reported once, by the outermost."""
    if not tree.root_node.has_error:
        return ()
    problems: list[SyntaxProblem] = []
    stack = [tree.root_node]
    while stack and len(problems) < limit:
        node = stack.pop()
        if node.is_error or node.is_missing:
            problems.append(SyntaxProblem(node.start_point, node.end_point, _describe(node)))
            continue
        if node.has_error:
            stack.extend(reversed(node.children))
    return tuple(problems)


def count_errors(spec: LanguageSpec, text: str) -> int:
    return len(syntax_problems(parse(spec, text)))


def _end_point(start: tuple[int, int], inserted: bytes) -> tuple[int, int]:
    newlines = inserted.count(b"\n")
    if newlines == 0:
        return start[0], start[1] + len(inserted)
    return start[0] + newlines, len(inserted) - inserted.rfind(b"\n") - 1


def errors_with_insertion(spec: LanguageSpec, tree: Tree, source: bytes, byte_offset: int, insertion: str) -> int:
    """Syntax errors in `source` (the text `tree` was parsed from) with `insertion` at `byte_offset`.

    Reparses incrementally from a copy of `tree`: the cost is proportional to the edit, not the file. Nothing
    inserted is `tree`'s own count (post-processing's baseline, on every suggestion): no parse at all."""
    if not insertion:
        return len(syntax_problems(tree))
    inserted = insertion.encode("utf-8", "surrogatepass")
    line_start = source.rfind(b"\n", 0, byte_offset) + 1
    start = (source.count(b"\n", 0, byte_offset), byte_offset - line_start)
    edited = tree.copy()
    edited.edit(
        start_byte=byte_offset,
        old_end_byte=byte_offset,
        new_end_byte=byte_offset + len(inserted),
        start_point=start,
        old_end_point=start,
        new_end_point=_end_point(start, inserted),
    )
    new_source = source[:byte_offset] + inserted + source[byte_offset:]
    return len(syntax_problems(new_parser(spec).parse(new_source, edited)))
