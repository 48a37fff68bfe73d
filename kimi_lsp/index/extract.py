"""Extraction entry points: (language, syntax tree, source bytes) -> Outline, and identifier references.

Owns the per-language query files in queries/ (loading, compiling, how deep a match may start), this thread's
parsers, running the definitions query, and which extractor serves a file. It must not read files, touch the
cache or know about the workspace: callers hand it bytes and trees. What the captures become is
outline_rules.py's; whether the C extensions may be used is native.py's.

The cold indexer's path, source bytes -> raw outline, runs in C when the optional `_outline` extension is
built (`_outline.c`: the same query and rules, no Python object per node); the Python extractor here and in
outline_rules.py is the reference it is tested against, serves open documents (whose trees are edited
incrementally), and is the fallback: without the extension, for a language whose compiled extractor cannot be
made (its grammar's ABI, its query: logged once per process, the other languages keep the C path), and when
KIMI_LSP_NO_NATIVE=1 (native.py).
"""

from __future__ import annotations

import logging
import re
import threading
from functools import cache, partial
from importlib import resources

from tree_sitter import Node, Parser, Query, QueryCursor, Tree

from kimi_lsp.index.languages import LanguageSpec, grammar, grammar_capsule, new_parser
from kimi_lsp.index.model import KINDS, Outline, RawImport, RawOutline, Span, outline_from_raw
from kimi_lsp.index.native import NO_NATIVE_ENV as NO_NATIVE_ENV  # re-exported: tests read the switch here
from kimi_lsp.index.native import _outline
from kimi_lsp.index.native import native_enabled as native_enabled  # re-exported, as NO_NATIVE_ENV
from kimi_lsp.index.outline_rules import (
    METHOD_PARENTS,
    NODE_TYPES,
    capture_imports,
    clean_comment,
    definitions,
    docstring_text,
    node_span,
    node_text,
    text_imports,
)

log = logging.getLogger(__name__)

_QUERY_FILE = {"typescriptreact": "typescript"}
# How deep a pattern may start: bounds the tree walk (the query engine otherwise visits every node, which costs
# 40% of a parse). Deep enough for class members, nested modules/namespaces and imports in function bodies.
_MAX_START_DEPTH = {
    "python": 4,
    "javascript": 4,
    "typescript": 4,
    "typescriptreact": 4,
    "go": 3,
    "rust": 5,
    "java": 5,
    "c": 3,
    "cpp": 6,
}
_local = threading.local()


@cache
def definitions_query(spec: LanguageSpec) -> Query:
    """The compiled definitions + imports query of a language (queries/<lang>.scm)."""
    return Query(grammar(spec), _query_text(spec, ""))


@cache
def references_query(spec: LanguageSpec) -> Query:
    """The compiled identifier-references query of a language (queries/<lang>-refs.scm)."""
    return Query(grammar(spec), _query_text(spec, "-refs"))


def _query_text(spec: LanguageSpec, suffix: str) -> str:
    name = _QUERY_FILE.get(spec.name, spec.name)
    return resources.files("kimi_lsp.index").joinpath("queries", f"{name}{suffix}.scm").read_text("utf-8")


def parse(spec: LanguageSpec, source: bytes, old_tree: Tree | None = None) -> Tree:
    """Parse with this thread's cached parser for the language."""
    parsers: dict[str, Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(spec.name)
    if parser is None:
        parser = parsers[spec.name] = new_parser(spec)
    return parser.parse(source, old_tree) if old_tree is not None else parser.parse(source)


def raw_outline_of_source(spec: LanguageSpec, source: bytes) -> RawOutline:
    """Parse and extract in one go (what the cold indexer does per file): in C when the extension is built."""
    extractor = native_extractor(spec)
    if extractor is not None:
        return extractor.extract(source)
    return extract_raw(spec, parse(spec, source), source)


def native_extractor(spec: LanguageSpec) -> _outline.Extractor | None:
    """This thread's compiled extractor for the language, or None: without the `_outline` extension, or when
    making the language's extractor failed in this process (logged once; the language then runs in Python)."""
    if _outline is None:
        return None
    extractors: dict[str, _outline.Extractor] | None = getattr(_local, "extractors", None)
    if extractors is None:
        extractors = _local.extractors = {}
    extractor = extractors.get(spec.name)
    if extractor is None:
        if spec.name in _native_failed:
            return None
        try:
            extractor = _outline.Extractor(
                grammar_capsule(spec),
                _query_text(spec, "").encode("utf-8"),
                spec.name,
                _MAX_START_DEPTH.get(spec.name, 4),
                KINDS,
                METHOD_PARENTS,
                NODE_TYPES,
                partial(text_imports, spec.name),
                clean_comment,
                docstring_text,
            )
        except Exception as exc:  # e.g. a grammar ABI this runtime lacks, a query the C rules cannot run
            _native_failure(spec, exc)
            return None
        extractors[spec.name] = extractor
    return extractor


_native_failed: set[str] = set()  # languages whose compiled extractor could not be made, in this process
_native_failed_lock = threading.Lock()


def _native_failure(spec: LanguageSpec, exc: Exception) -> None:
    with _native_failed_lock:
        if spec.name in _native_failed:
            return
        _native_failed.add(spec.name)
    log.warning(
        "the compiled extractor for %s could not be made (%s: %s); its files are indexed by the Python "
        "extractor instead",
        spec.name,
        type(exc).__name__,
        exc,
    )


def extract_outline(spec: LanguageSpec, tree: Tree, source: bytes) -> Outline:
    """The outline of a parsed file: definitions sorted by position with parents, imports, package."""
    return outline_from_raw(extract_raw(spec, tree, source))


def extract_raw(spec: LanguageSpec, tree: Tree, source: bytes) -> RawOutline:
    """extract_outline in the raw tuple form (cheaper: no object per definition)."""
    found: dict[int, tuple[Node, Node, str]] = {}
    imports: list[RawImport] = []
    package = ""
    cursor = QueryCursor(definitions_query(spec))
    cursor.set_max_start_depth(_MAX_START_DEPTH.get(spec.name, 4))
    roles = _pattern_roles(spec)
    for pattern, caps in cursor.matches(tree.root_node):
        role, cap = roles[pattern]
        if role == "definition":
            name_node = caps["name"][0]
            key = name_node.start_byte
            if key not in found:
                found[key] = (caps[cap][0], name_node, cap[11:])
        elif role == "import":
            imports.extend(capture_imports(spec.name, cap, caps[cap][0]))
        else:
            package = node_text(caps[cap][0])
    return spec.name, package, definitions(spec.name, found.values(), source), imports


@cache
def _pattern_roles(spec: LanguageSpec) -> tuple[tuple[str, str], ...]:
    """What each pattern of the definitions query captures: ("definition", "definition.<kind>"), ("import",
    "import" | "import.mod") or ("package", "package"), read once from the query's own text."""
    query, text = definitions_query(spec), _query_text(spec, "").encode("utf-8")
    roles = []
    for i in range(query.pattern_count):
        captures = _CAPTURE.findall(text, query.start_byte_for_pattern(i), query.end_byte_for_pattern(i))
        role = next(c.decode() for c in captures if c.startswith((b"definition.", b"import", b"package")))
        roles.append((role.split(".", 1)[0], role))
    return tuple(roles)


_CAPTURE = re.compile(rb"@([\w.]+)")


def references(spec: LanguageSpec, tree: Tree, source: bytes, name: str | None = None) -> tuple[tuple[str, Span], ...]:
    """Identifier references in a tree (open documents), optionally only those spelled `name`."""
    out: list[tuple[str, Span]] = []
    for nodes in QueryCursor(references_query(spec)).captures(tree.root_node).values():
        for node in nodes:
            text = node_text(node)
            if name is None or text == name:
                out.append((text, Span(*node_span(source, node))))
    out.sort(key=lambda r: (r[1].start_line, r[1].start_col))
    return tuple(out)
