"""The Python extractor's rules: how the captures of a definitions query become raw definitions and imports.

Owns what a captured node turns into: definitions ordered by position with their parents, kinds refined
(methods, constants, functions bound to variables, Go structs and interfaces), UTF-16 columns, the signature
line, the doc (a Python docstring or the comment block above), and import specs per language. The C extractor
(`_outline.c`) applies the same rules: it reads the node type sets and method parents from here and calls the
text rules (`clean_comment`, `docstring_text`, `text_imports`) back, so each rule is written once. It must not
run queries, parse, or choose between the C and Python extractors (extract.py does), nor read files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from tree_sitter import Node

from kimi_lsp.index.model import CONTAINER_KINDS, KIND_CODE, KINDS, RawDefinition, RawImport

_COMMENT_TYPES = frozenset({"comment", "line_comment", "block_comment"})
_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})
_WRAPPERS = frozenset(
    {
        "export_statement",
        "decorated_definition",
        "template_declaration",
        "ambient_declaration",
        "type_declaration",
        "const_declaration",
        "var_declaration",
        "lexical_declaration",
        "variable_declaration",
        "expression_statement",
    }
)
_ATTRIBUTES = frozenset({"attribute_item", "decorator"})
# the same four sets, for the C extractor (in the order it takes them: its rules read them from here)
NODE_TYPES = tuple(tuple(sorted(types)) for types in (_WRAPPERS, _ATTRIBUTES, _COMMENT_TYPES, _FUNCTION_VALUES))
_MAX_SIGNATURE = 200
_MAX_DOC = 240


def definitions(lang: str, found: Iterable[tuple[Node, Node, str]], source: bytes) -> list[RawDefinition]:
    """Raw definitions from (definition node, name node, kind) captures: by position, outer first, each with
    the index of its parent (-1 at the top), its refined kind, UTF-16 columns, signature and doc."""
    items = sorted((node.start_byte, -node.end_byte, i, node, name, kind) for i, (node, name, kind) in enumerate(found))
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
        out.append(
            (
                name,
                KIND_CODE[kind],
                sl,
                sc,
                el,
                ec,
                nsl,
                nsc,
                nel,
                nec,
                _signature(source, start, -neg_end, body),
                doc,
                parent,
            )
        )
        stack.append((-neg_end, len(out) - 1))
    return out


_REFINED = frozenset({"function", "variable", "type"})
# kind codes under which a function is a method (the C extractor takes them too)
METHOD_PARENTS = tuple(KIND_CODE[k] for k in sorted(CONTAINER_KINDS - {"module", "namespace"}))


def _refine(lang: str, kind: str, node: Node, name: str, parent_kind: str) -> str:
    if kind == "function" and parent_kind and KIND_CODE[parent_kind] in METHOD_PARENTS:
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


def node_span(source: bytes, node: Node) -> tuple[int, int, int, int]:
    """A node's start line, start column, end line, end column; columns in UTF-16 code units."""
    (sl, sc), (el, ec) = node.start_point, node.end_point
    return sl, _utf16_col(source, node.start_byte, sc), el, _utf16_col(source, node.end_byte, ec)


def _utf16_col(source: bytes, offset: int, byte_col: int) -> int:
    segment = source[offset - byte_col : offset]
    if segment.isascii():
        return byte_col
    return len(segment.decode("utf-8", "replace").encode("utf-16-le")) // 2


def node_text(node: Node) -> str:
    """A node's source text (invalid UTF-8 replaced)."""
    raw = node.text
    return raw.decode("utf-8", "replace") if raw is not None else ""


def _signature(source: bytes, start: int, end: int, body: Node | None) -> str:
    """The definition's text up to its body (or its first line), whitespace runs collapsed."""
    stop = body.start_byte if body is not None else source.find(b"\n", start, end)
    if stop < 0:
        stop = end
    text = b" ".join(source[start : min(stop, start + 4 * _MAX_SIGNATURE)].split()).decode("utf-8", "replace")
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
        text = node_text(prev)
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
    return docstring_text(node_text(string))


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


def capture_imports(lang: str, cap: str, node: Node) -> Iterable[RawImport]:
    """The raw imports of an import capture (`cap`: its capture name)."""
    line = node.start_point[0]
    if lang == "python":
        return _python_imports(node, line)
    return text_imports(lang, cap, node_text(node), line)


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
                level = len(node_text(child).strip())
            elif child.type == "dotted_name":
                spec = node_text(child)
    elif module is not None:
        spec = node_text(module)
    if any(c.type == "wildcard_import" for c in node.children):
        names = ["*"]
    yield (spec, tuple(names), level, line)


def _dotted(node: Node) -> str:
    if node.type == "aliased_import":
        inner = node.child_by_field_name("name")
        return node_text(inner) if inner is not None else node_text(node)
    return node_text(node)


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
