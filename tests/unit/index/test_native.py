"""The C extractor (`_outline`) gives exactly what the Python extractor gives, on every language and on the
awkward inputs (non-ASCII, invalid UTF-8, NUL bytes, long signatures, doc comments, predicates)."""

from __future__ import annotations

import logging
import shutil
import sysconfig
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kimi_lsp.index import extract
from kimi_lsp.index.languages import LANGUAGES, LanguageSpec, spec_for_path, spec_named
from kimi_lsp.index.model import RawOutline, decode_raw
from kimi_lsp.index.worker import index_file

from .conftest import FIXTURES

_COMPILER = (sysconfig.get_config_var("CC") or "cc").split()[0]
pytestmark = [
    pytest.mark.skipif(not extract.native_enabled(), reason="KIMI_LSP_NO_NATIVE=1: the C extractor is not used"),
    pytest.mark.skipif(
        extract.native_extractor(LANGUAGES[0]) is None and shutil.which(_COMPILER) is None,
        reason="no C compiler here, so no C extractor: indexing runs in Python",
    ),
]


def native(spec: LanguageSpec, source: bytes) -> RawOutline:
    extractor = extract.native_extractor(spec)
    assert extractor is not None, "the C extractor is not built (make venv builds it)"
    return extractor.extract(source)


def python(spec: LanguageSpec, source: bytes) -> RawOutline:
    return extract.extract_raw(spec, extract.parse(spec, source), source)


def fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*") if p.is_file() and spec_for_path(str(p)) is not None)


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixtures_give_the_same_outline(path: Path) -> None:
    spec = spec_for_path(str(path))
    assert spec is not None
    source = path.read_bytes()
    assert native(spec, source) == python(spec, source)


def test_standard_library_modules_give_the_same_outline() -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    spec = spec_named("python")
    assert spec is not None
    paths = sorted(stdlib.glob("*.py"))[:150] + sorted(stdlib.glob("email/*.py"))
    definitions = 0
    for path in paths:
        source = path.read_bytes()
        expected = python(spec, source)
        assert native(spec, source) == expected, path.name
        definitions += len(expected[2])
    assert definitions > 3000


AWKWARD = {
    "python": (
        '"""Mödule."""\nimport os, sys as system\nfrom . import sibling\nfrom ..pkg.mod import (a, b as c)\n'
        "from x import *\n\nNAME_Ä = 1\nlower = 2\nÉTÉ = 3\n\n"
        "class Çlass:\n    '''Doc with\n\n    two paragraphs.'''\n    field = 1\n\n"
        "    @staticmethod\n    def méthode(self, x: int = '😀') -> None:\n        r'''Raw 😀 doc.'''\n"
        "        import json\n\n    class Inner:\n        def deep(self): pass\n\n"
        "def long(" + ", ".join(f"argument_{i}" for i in range(120)) + "):\n    pass\n"
        "def broken(\n    x,\n    y\n):\n  \t return 1\n"
    ),
    "javascript": (
        "// comment for start\n/** JSDoc for start\n * more */\nexport function start() {}\n"
        "const helper = () => 1, other = function () {};\nconst x = require('./x');\n"
        "const y = notRequire('./y');\nimport z from \"./z\";\nclass Ünïcode { méthod() {} static s = 1; }\n"
    ),
    "rust": (
        "//! inner doc of the crate\n/// Outer doc\n#[derive(Debug)]\npub struct S { a: u8 }\n"
        "use std::collections::{HashMap, HashSet as Set};\nuse crate::a::*;\nmod tests;\n"
        "impl<T> Trait for Vec<\n    T,\n> { fn m(&self) {} }\n/* block */\nfn f() {}\n"
    ),
    "go": (
        'package main\n\nimport (\n\t"fmt"\n\tstr "strings"\n)\n\n// Thing is a thing.\n'
        "type Thing struct{}\ntype Iface interface{ M() }\ntype Alias = int\n"
        "func (t *Thing) M() {}\n\n// F does f.\nfunc F() {}\nvar v, w = 1, 2\nconst C = 3\n"
    ),
    "cpp": (
        '#include <vector>\n#include "local.h"\nnamespace ns {\n/// doc\nclass C { void m(); };\n'
        "void C::m() {}\nint g = 1;\n}\n#define MACRO(x) x\ntemplate <typename T> T id(T t) { return t; }\n"
    ),
}


@pytest.mark.parametrize("language", sorted(AWKWARD))
def test_awkward_sources_give_the_same_outline(language: str) -> None:
    spec = spec_named(language)
    assert spec is not None
    source = AWKWARD[language].encode()
    broken = source.replace("é".encode(), b"\xc3") + b"\x00\xff trailing\n"  # invalid UTF-8 and a NUL
    for variant in (source, broken, b"", b"\n\n", source[: len(source) // 2]):
        assert native(spec, variant) == python(spec, variant)
    assert native(spec, source)[2], "the awkward source defines things"


FRAGMENTS = {
    "python": [
        "def f(a):\n",
        "class K:\n",
        "    x = 1\n",
        "    def m(self):\n",
        "        '''d'''\n",
        "  ",
        "import a.b\n",
        "from .m import n\n",
        "# c\n",
        "X = lambda: 0\n",
        "é",
        "😀",
        "\t",
        "pass\n",
        "@dec\n",
        "'''s'''\n",
        "(\n",
        ")\n",
        ":",
    ],
    "typescript": [
        "export ",
        "function f(a: number) {\n",
        "}\n",
        "class C {\n",
        "  m(): void {}\n",
        "interface I { p: string; q(): void }\n",
        "/** doc */\n",
        "// c\n",
        "const v = () => 1;\n",
        "import x from './x';\n",
        "require('r');\n",
        "type T = {};\n",
        "namespace N {}\n",
        "é",
        "{",
    ],
    "c": [
        "int f(void) {",
        "}\n",
        "/* doc */\n",
        "// c\n",
        "struct S { int a; };\n",
        "#define M 1\n",
        '#include "h.h"\n',
        "typedef int T;\n",
        "static int *p(int x);\n",
        "int g = 2;\n",
        "#ifdef X\n",
        "#endif\n",
        "é",
    ],
}


@pytest.mark.parametrize("language", sorted(FRAGMENTS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_sources_give_the_same_outline(language: str, data: st.DataObject) -> None:
    spec = spec_named(language)
    assert spec is not None
    parts = data.draw(st.lists(st.sampled_from(FRAGMENTS[language]), max_size=40))
    source = "".join(parts).encode()
    assert native(spec, source) == python(spec, source)


def test_the_worker_indexes_the_same_without_the_extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.py"
    path.write_text(AWKWARD["python"], encoding="utf-8")
    with_c = index_file(str(path), None, 1_000_000)
    monkeypatch.setattr(extract, "_outline", None)
    assert extract.native_extractor(LANGUAGES[0]) is None
    assert index_file(str(path), None, 1_000_000) == with_c
    assert with_c.symbols


def test_no_instrumented_extractor_is_left_in_place() -> None:
    """tools/pgo-build.sh builds an instrumented extractor to train it; only the optimised one may remain."""
    assert extract._outline is not None, "the C extractor is not built (make venv builds it)"
    assert b"__gcov_" not in Path(extract._outline.__file__).read_bytes()


def test_match_count_parses_and_counts_the_query_matches() -> None:
    spec = spec_named("python")
    extractor = extract.native_extractor(spec)
    assert extractor is not None
    source = b"import os\nclass A:\n    def f(self): pass\ndef g(): pass\n"
    assert extractor.match_count(source) == 4  # the import, the class, its method, the function
    assert extractor.match_count(source, query=False) == 0


def test_a_language_whose_extractor_cannot_be_made_runs_in_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Making Go's compiled extractor fails (its query has a predicate the C rules do not run): Go files get the
    Python extractor's outlines, with one warning; the other languages keep their compiled extractors."""
    assert extract._outline is not None, "the C extractor is not built (make venv builds it)"
    real = extract._outline.Extractor

    def extractor(language: object, query: bytes, name: str, *rest: object) -> object:
        if name == "go":
            query += b'\n((identifier) @x (#match? @x "^x"))'
        return real(language, query, name, *rest)

    monkeypatch.setattr(extract._outline, "Extractor", extractor)
    monkeypatch.setattr(extract, "_local", threading.local())  # no extractor made before this test
    monkeypatch.setattr(extract, "_native_failed", set())
    go, py = spec_named("go"), spec_named("python")
    assert go is not None and py is not None
    sources = {"a.go": AWKWARD["go"], "b.go": "package b\n\n// G does g.\nfunc G() {}\n", "c.py": AWKWARD["python"]}
    results = {}
    with caplog.at_level(logging.WARNING, logger=extract.__name__):
        for name, text in sources.items():
            (tmp_path / name).write_text(text, encoding="utf-8")
            results[name] = index_file(str(tmp_path / name), None, 1_000_000)
    for name, text in sources.items():
        spec = go if name.endswith(".go") else py
        assert results[name].status == "indexed", results[name].error
        assert decode_raw(results[name].outline) == python(spec, text.encode()), name
    assert extract.native_extractor(go) is None
    assert isinstance(extract.native_extractor(py), real)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings  # one per process, not one per file
    assert "for go" in warnings[0] and "#match?" in warnings[0] and "Python extractor" in warnings[0]
