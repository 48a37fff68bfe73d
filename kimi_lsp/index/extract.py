"""Pure extraction: (language, syntax tree, source bytes) -> Outline, and identifier references.

Owns the per-language query files in queries/ and how their captures become Definitions and ImportRefs.
It must not read files, touch the cache or know about the workspace: callers hand it bytes and trees.

The cold indexer's path, source bytes -> raw outline, runs in C when the optional `_outline` extension is
built (`_outline.c`: the same query and rules, no Python object per node); the Python code here is the
reference it is tested against, serves open documents (whose trees are edited incrementally), and is the
fallback: without the extension, for a language whose compiled extractor cannot be made (its grammar's ABI,
its query: logged once per process, the other languages keep the C path), and when KIMI_LSP_NO_NATIVE=1.

KIMI_LSP_NO_NATIVE: 1 makes the index behave as if the C extensions were not built, both `_outline` (here) and
`_symtab` (symtable.py), as after a plain `pip install .` (no `_outline`) without a C compiler (no `_symtab`
either). 0, empty or unset: use them when built. Any other value is an error (ValueError on import). It is
read once, when this module is imported; the index's worker processes import it afresh in the forkserver,
which inherits the environment of the process that starts it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator
from functools import cache, partial
from importlib import resources

from tree_sitter import Node, Parser, Query, QueryCursor, Tree

from kimi_lsp.index.languages import LanguageSpec, grammar, grammar_capsule, new_parser
from kimi_lsp.index.model import (
    CONTAINER_KINDS, KIND_CODE, KINDS, Outline, RawDefinition, RawImport, RawOutline, Span, outline_from_raw,
)

NO_NATIVE_ENV = "KIMI_LSP_NO_NATIVE"


def native_enabled() -> bool:
    """False when KIMI_LSP_NO_NATIVE=1 (the C extensions are then not used even if built); raises ValueError
    on a value other than 0, 1 or empty."""
    value = os.environ.get(NO_NATIVE_ENV, "")
    if value not in ("", "0", "1"):
        raise ValueError(f"{NO_NATIVE_ENV} must be 0 or 1 (1: do not use the C extensions), not {value!r}")
    return value != "1"


if native_enabled():
    try:
        from kimi_lsp.index import _outline
    except ImportError:  # built without the C extension: the Python extractor does all the work
        _outline = None  # type: ignore[assignment]
else:
    _outline = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

_QUERY_FILE = {"typescriptreact": "typescript"}
_COMMENT_TYPES = frozenset({"comment", "line_comment", "block_comment"})
_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})
_WRAPPERS = frozenset({
    "export_statement", "decorated_definition", "template_declaration", "ambient_declaration", "type_declaration",
    "const_declaration", "var_declaration", "lexical_declaration", "variable_declaration", "expression_statement",
})
_ATTRIBUTES = frozenset({"attribute_item", "decorator"})
# the same four sets, for the C extractor (in the order it takes them: its rules read them from here)
_NODE_TYPES = tuple(tuple(sorted(types)) for types in (_WRAPPERS, _ATTRIBUTES, _COMMENT_TYPES, _FUNCTION_VALUES))
_MAX_SIGNATURE = 200
_MAX_DOC = 240
# How deep a pattern may start: bounds the tree walk (the query engine otherwise visits every node, which costs
# 40% of a parse). Deep enough for class members, nested modules/namespaces and imports in function bodies.
_MAX_START_DEPTH = {"python": 4, "javascript": 4, "typescript": 4, "typescriptreact": 4, "go": 3, "rust": 5,
                    "java": 5, "c": 3, "cpp": 6}
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
                grammar_capsule(spec), _query_text(spec, "").encode("utf-8"), spec.name,
                _MAX_START_DEPTH.get(spec.name, 4), KINDS, _METHOD_PARENTS, _NODE_TYPES,
                partial(text_imports, spec.name), clean_comment, docstring_text)
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
    log.warning("the compiled extractor for %s could not be made (%s: %s); its files are indexed by the Python "
                "extractor instead", spec.name, type(exc).__name__, exc)


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
            imports.extend(_imports(spec.name, cap, caps[cap][0]))
        else:
            package = _text(caps[cap][0])
    return spec.name, package, _definitions(spec.name, found.values(), source), imports


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


def _definitions(lang: str, found: Iterable[tuple[Node, Node, str]], source: bytes) -> list[RawDefinition]:
    items = sorted((node.start_byte, -node.end_byte, i, node, name, kind)
                   for i, (node, name, kind) in enumerate(found))
    out: list[RawDefinition] = []
    ascii_source = source.isascii()
    python = lang == "python"
    stack: list[tuple[int, int]] = []  # (end_byte, index in out)
    for start, neg_end, _, node, name_node, kind in items:
        while stack and stack[-1][0] <= start:
            stack.pop()
        parent = stack[-1][1] if stack else -1
        name_start, name_end = name_node.start_byte, name_node.end_byte
        name = source[name_start:name_end].decode("utf-8", "replace")
        if kind in _REFINED:
            kind = _refine(lang, kind, node, name, KINDS[out[parent][1]] if parent >= 0 else "")
        body = node.child_by_field_name("body")
        doc = _python_docstring(body) if python else _doc(node)
        (sl, sc), (el, ec) = node.start_point, node.end_point
        (nsl, nsc), (nel, nec) = name_node.start_point, name_node.end_point
        if not ascii_source:
            sc, ec = _utf16_col(source, start, sc), _utf16_col(source, -neg_end, ec)
            nsc, nec = _utf16_col(source, name_start, nsc), _utf16_col(source, name_end, nec)
        out.append((name, KIND_CODE[kind], sl, sc, el, ec, nsl, nsc, nel, nec,
                    _signature(source, start, -neg_end, body), doc, parent))
        stack.append((-neg_end, len(out) - 1))
    return out


_REFINED = frozenset({"function", "variable", "type"})
_METHOD_PARENTS = tuple(KIND_CODE[k] for k in sorted(CONTAINER_KINDS - {"module", "namespace"}))


def _refine(lang: str, kind: str, node: Node, name: str, parent_kind: str) -> str:
    if kind == "function" and parent_kind and KIND_CODE[parent_kind] in _METHOD_PARENTS:
        return "method"
    if kind == "variable":
        value = node.child_by_field_name("value")
        if value is not None and value.type in _FUNCTION_VALUES:
            return "function"
        if lang == "python" and name.isupper():
            return "constant"
    if kind == "type" and lang == "go":
        inner = node.child_by_field_name("type")
        if inner is not None and inner.type in ("struct_type", "interface_type"):
            return inner.type[:-5]
    return kind


def _span(source: bytes, node: Node) -> tuple[int, int, int, int]:
    (sl, sc), (el, ec) = node.start_point, node.end_point
    return sl, _utf16_col(source, node.start_byte, sc), el, _utf16_col(source, node.end_byte, ec)


def _utf16_col(source: bytes, offset: int, byte_col: int) -> int:
    segment = source[offset - byte_col:offset]
    if segment.isascii():
        return byte_col
    return len(segment.decode("utf-8", "replace").encode("utf-16-le")) // 2


def _text(node: Node) -> str:
    raw = node.text
    return raw.decode("utf-8", "replace") if raw is not None else ""


def _signature(source: bytes, start: int, end: int, body: Node | None) -> str:
    """The definition's text up to its body (or its first line), whitespace runs collapsed."""
    stop = body.start_byte if body is not None else source.find(b"\n", start, end)
    if stop < 0:
        stop = end
    text = b" ".join(source[start:min(stop, start + 4 * _MAX_SIGNATURE)].split()).decode("utf-8", "replace")
    return text.rstrip("{:= ")[:_MAX_SIGNATURE]


def _doc(node: Node) -> str:
    anchor = node
    while anchor.prev_named_sibling is None and anchor.parent is not None and anchor.parent.type in _WRAPPERS:
        anchor = anchor.parent
    prev, row = anchor.prev_named_sibling, anchor.start_point[0]
    while prev is not None and prev.type in _ATTRIBUTES:
        row = prev.start_point[0]
        prev = prev.prev_named_sibling
    lines: list[str] = []
    while prev is not None and prev.type in _COMMENT_TYPES and prev.end_point[0] >= row - 1:
        text = _text(prev)
        if text.startswith(("//!", "/*!")):  # an inner doc comment documents the enclosing item
            break
        lines.insert(0, text)
        row = prev.start_point[0]
        prev = prev.prev_named_sibling
    return clean_comment("\n".join(lines)) if lines else ""


def _python_docstring(body: Node | None) -> str:
    first = body.named_child(0) if body is not None and body.named_child_count else None
    if first is None or first.type != "expression_statement":
        return ""
    string = first.named_child(0)
    if string is None or string.type != "string":
        return ""
    return docstring_text(_text(string))


def docstring_text(literal: str) -> str:
    """The first paragraph of a Python string literal, prefix and quotes removed, whitespace collapsed."""
    text = literal.lstrip("rRbBuUfF")
    quote = 3 if text[:3] in ('"""', "'''") else 1
    return _first_paragraph(text[quote:-quote])


_COMMENT_MARKERS = re.compile(r"^\s*(?:/\*\*?|\*/|\*|///?|//!|#)?\s?", re.MULTILINE)


def clean_comment(text: str) -> str:
    """The first paragraph of doc comment lines, comment markers removed, whitespace collapsed."""
    text = text.replace("*/", "")
    return _first_paragraph(_COMMENT_MARKERS.sub("", text))


def _first_paragraph(text: str) -> str:
    para = text.strip().split("\n\n", 1)[0]
    return " ".join(para.split())[:_MAX_DOC]


def _imports(lang: str, cap: str, node: Node) -> Iterable[RawImport]:
    line = node.start_point[0]
    if lang == "python":
        return _python_imports(node, line)
    return text_imports(lang, cap, _text(node), line)


def text_imports(lang: str, cap: str, text: str, line: int) -> list[RawImport]:
    """The imports of a non-Python import capture, from its text alone."""
    if lang == "rust":
        return list(_rust_imports(cap, text, line))
    if lang == "java":
        text = text.removeprefix("import").strip().rstrip(";").strip()
        return [(text.removeprefix("static").strip(), (), 0, line)]
    if lang in ("c", "cpp"):
        return [(text if text.startswith("<") else text.strip('"'), (), 0, line)]
    return [(text.strip("\"'`"), (), 0, line)]


def _python_imports(node: Node, line: int) -> Iterator[RawImport]:
    names = [_dotted(n) for n in node.children_by_field_name("name")]
    if node.type == "import_statement":
        for name in names:
            yield (name, (), 0, line)
        return
    module = node.child_by_field_name("module_name")
    level, spec = 0, ""
    if module is not None and module.type == "relative_import":
        for child in module.children:
            if child.type == "import_prefix":
                level = len(_text(child).strip())
            elif child.type == "dotted_name":
                spec = _text(child)
    elif module is not None:
        spec = _text(module)
    if any(c.type == "wildcard_import" for c in node.children):
        names = ["*"]
    yield (spec, tuple(names), level, line)


def _dotted(node: Node) -> str:
    if node.type == "aliased_import":
        inner = node.child_by_field_name("name")
        return _text(inner) if inner is not None else _text(node)
    return _text(node)


_RUST_ALIAS = re.compile(r"\s+as\s+\w+")


def _rust_imports(cap: str, text: str, line: int) -> Iterator[RawImport]:
    if cap == "import.mod":
        yield ("self::" + text, (), 0, line)
        return
    text = "".join(_RUST_ALIAS.sub("", text).split())
    if "::{" in text:
        path, rest = text.split("::{", 1)
        yield (path, tuple(n for n in rest.rstrip("}").split(",") if n), 0, line)
    else:
        yield (text.removesuffix("::*"), ("*",) if text.endswith("::*") else (), 0, line)


def references(spec: LanguageSpec, tree: Tree, source: bytes, name: str | None = None) -> tuple[tuple[str, Span], ...]:
    """Identifier references in a tree (open documents), optionally only those spelled `name`."""
    out: list[tuple[str, Span]] = []
    for nodes in QueryCursor(references_query(spec)).captures(tree.root_node).values():
        for node in nodes:
            text = _text(node)
            if name is None or text == name:
                out.append((text, Span(*_span(source, node))))
    out.sort(key=lambda r: (r[1].start_line, r[1].start_col))
    return tuple(out)
