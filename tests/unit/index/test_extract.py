"""Per language: the queries find the fixture files' definitions (with kind, parent, doc) and imports."""

from __future__ import annotations

import pytest

from kimi_lsp.index.extract import extract_outline, parse, references
from kimi_lsp.index.languages import spec_for_path, spec_named
from kimi_lsp.index.model import Outline

from .conftest import FIXTURES


def outline_of(rel: str, language: str | None = None) -> Outline:
    spec = spec_named(language) if language else spec_for_path(rel)
    assert spec is not None
    source = (FIXTURES / rel).read_bytes()
    return extract_outline(spec, parse(spec, source), source)


def kinds(outline: Outline) -> set[tuple[str, str]]:
    return {(d.kind, d.name) for d in outline.definitions}


def parent_of(outline: Outline, name: str) -> str:
    d = next(d for d in outline.definitions if d.name == name)
    return outline.definitions[d.parent].name if d.parent >= 0 else ""


CASES = {
    "pyproj/pkg/core.py": {
        ("constant", "MAX_SPEED"),
        ("variable", "registry"),
        ("class", "Engine"),
        ("field", "wheels"),
        ("method", "run"),
        ("method", "speed"),
        ("class", "Part"),
        ("method", "fit"),
        ("function", "make_engine"),
        ("function", "serve"),
    },
    "web/src/main.js": {
        ("function", "start"),
        ("variable", "VERSION"),
        ("function", "handler"),
        ("variable", "counter"),
        ("class", "Widget"),
        ("field", "size"),
        ("method", "constructor"),
        ("method", "render"),
        ("method", "create"),
        ("function", "ids"),
    },
    "web/src/model.ts": {
        ("interface", "User"),
        ("field", "id"),
        ("method", "name"),
        ("type", "UserId"),
        ("enum", "Role"),
        ("class", "Repo"),
        ("field", "items"),
        ("method", "find"),
        ("method", "count"),
        ("function", "makeUser"),
        ("namespace", "Internal"),
        ("function", "external"),
    },
    "web/src/view.tsx": {("function", "UserView"), ("class", "Panel"), ("method", "show")},
    "goproj/main.go": {
        ("constant", "Version"),
        ("variable", "debug"),
        ("variable", "count"),
        ("struct", "Server"),
        ("interface", "Handler"),
        ("type", "ID"),
        ("method", "Run"),
        ("function", "main"),
    },
    "rustproj/src/lib.rs": {
        ("module", "parser"),
        ("module", "util"),
        ("struct", "Token"),
        ("enum", "Kind"),
        ("trait", "Visit"),
        ("method", "visit"),
        ("impl", "Token"),
        ("method", "new"),
        ("constant", "MAX"),
        ("variable", "COUNTER"),
        ("type", "Map"),
        ("macro", "shout"),
        ("function", "run"),
    },
    "javaproj/src/main/java/com/acme/App.java": {
        ("class", "App"),
        ("field", "PORT"),
        ("field", "name"),
        ("constructor", "App"),
        ("method", "run"),
        ("interface", "Listener"),
        ("method", "on"),
        ("enum", "Mode"),
    },
    "cproj/util.c": {("variable", "counter"), ("function", "add"), ("function", "name_of"), ("function", "hidden")},
    "cproj/include/util.h": {
        ("macro", "MAX_ITEMS"),
        ("macro", "SQUARE"),
        ("struct", "point"),
        ("type", "point_t"),
        ("enum", "color"),
        ("function", "add"),
        ("function", "name_of"),
        ("variable", "counter"),
    },
    "cproj/shape.hpp": {
        ("namespace", "geo"),
        ("class", "Shape"),
        ("method", "area"),
        ("method", "name"),
        ("struct", "Circle"),
        ("type", "Real"),
    },
    "cproj/shape.cpp": {
        ("namespace", "geo"),
        ("method", "~Shape"),
        ("method", "area"),
        ("function", "twice"),
        ("function", "main"),
    },
}


@pytest.mark.parametrize("rel", sorted(CASES))
def test_definitions_found(rel: str) -> None:
    language = "cpp" if rel.endswith(".hpp") else None
    assert CASES[rel] <= kinds(outline_of(rel, language))


def test_nested_definitions_have_their_parent() -> None:
    py = outline_of("pyproj/pkg/core.py")
    assert parent_of(py, "run") == "Engine"
    assert parent_of(py, "fit") == "Part"
    assert parent_of(py, "make_engine") == ""
    assert "inner" not in {d.name for d in py.definitions}  # locals are not outline entries
    assert parent_of(outline_of("web/src/main.js"), "render") == "Widget"
    assert parent_of(outline_of("rustproj/src/lib.rs"), "new") == "Token"
    assert parent_of(outline_of("javaproj/src/main/java/com/acme/App.java"), "on") == "Listener"


def test_signatures_and_docs() -> None:
    py = {d.name: d for d in outline_of("pyproj/pkg/core.py").definitions}
    assert py["make_engine"].signature == "def make_engine(a, b=2)"
    assert py["make_engine"].doc == "Build an engine."
    assert py["Engine"].doc == "Drives things."
    assert py["run"].signature == "def run(self, x: int) -> int"
    go = {d.name: d for d in outline_of("goproj/main.go").definitions}
    assert go["Server"].doc == "Server serves."
    assert go["Run"].signature == "func (s *Server) Run() error"
    js = {d.name: d for d in outline_of("web/src/main.js").definitions}
    assert js["start"].doc == "Start the app."
    rs = {d.name: d for d in outline_of("rustproj/src/lib.rs").definitions if d.kind != "impl"}
    assert rs["Token"].doc == "A token."
    assert rs["parser"].doc == ""  # the crate's inner doc comment is not the module's
    java = {
        d.name: d for d in outline_of("javaproj/src/main/java/com/acme/App.java").definitions if d.kind != "constructor"
    }
    assert java["App"].doc == "The application."


def test_ranges_are_lines_and_utf16_columns() -> None:
    helpers = {d.name: d for d in outline_of("pyproj/pkg/sub/helpers.py").definitions}
    span = helpers["CONSTANT"].span
    assert (span.start_line, span.start_col, span.end_line, span.end_col) == (0, 0, 0, 14)  # 'é' is 2 bytes, 1 unit
    name = helpers["assist"].name_span
    assert (name.start_line, name.start_col, name.end_col) == (3, 4, 10)


IMPORTS = {
    "pyproj/pkg/core.py": [
        ("os", (), 0),
        ("os.path", (), 0),
        ("", ("util",), 1),
        ("sub", ("helpers",), 1),
        ("sub.helpers", ("assist", "CONSTANT"), 1),
        ("elsewhere", ("nothing",), 2),
        ("json", (), 0),
    ],
    "web/src/main.js": [
        ("./lib/helper", (), 0),
        ("./util.js", (), 0),
        ("./lazy.mjs", (), 0),
        ("fs", (), 0),
        ("./util", (), 0),
        ("./lib/helper", (), 0),
    ],
    "web/src/app.ts": [("./model.js", (), 0), ("./model", (), 0), ("react", (), 0), ("./lib/helper", (), 0)],
    "goproj/main.go": [("fmt", (), 0), ("example.com/goproj/store", (), 0)],
    "rustproj/src/lib.rs": [
        ("self::parser", (), 0),
        ("self::util", (), 0),
        ("crate::parser", ("Parser", "parse"), 0),
        ("std::collections::HashMap", (), 0),
        ("self::util::helpers", ("*",), 0),
    ],
    "javaproj/src/main/java/com/acme/App.java": [
        ("com.acme.model.User", (), 0),
        ("com.acme.model.*", (), 0),
        ("java.util.List", (), 0),
        ("com.acme.model.User.create", (), 0),
    ],
    "cproj/util.c": [("<stdio.h>", (), 0), ("util.h", (), 0)],
}


@pytest.mark.parametrize("rel", sorted(IMPORTS))
def test_imports_found(rel: str) -> None:
    assert [(i.spec, i.names, i.level) for i in outline_of(rel).imports] == IMPORTS[rel]


def test_packages() -> None:
    assert outline_of("goproj/main.go").package == "main"
    assert outline_of("javaproj/src/main/java/com/acme/App.java").package == "com.acme"
    assert outline_of("pyproj/pkg/core.py").package == ""


@pytest.mark.parametrize(
    "language", ["python", "javascript", "typescript", "typescriptreact", "go", "rust", "java", "c", "cpp"]
)
def test_reference_queries_compile_and_find_identifiers(language: str) -> None:
    spec = spec_named(language)
    assert spec is not None
    source = {
        "python": b"x = foo(bar)\n",
        "go": b"package p\nvar x = foo(bar)\n",
        "rust": b"fn f() { foo(bar); }\n",
        "java": b"class A { void f() { foo(bar); } }\n",
        "c": b"void f() { foo(bar); }\n",
        "cpp": b"void f() { foo(bar); }\n",
    }.get(language, b"const x = foo(bar);\n")
    found = references(spec, parse(spec, source), source, "bar")
    assert [name for name, _ in found] == ["bar"]
