"""testgen.py and selection.py: where tests go, in which framework, and how answers are read."""

from __future__ import annotations

import pytest

from kimi_lsp import selection, testgen

ROOT = "/w"


@pytest.mark.parametrize(
    ("source", "language", "paths", "expected"),
    [
        ("/w/pkg/calc.py", "python", [], "/w/tests/test_calc.py"),  # no tests yet: tests/
        (
            "/w/pkg/calc.py",
            "python",
            ["/w/tests/unit/test_a.py", "/w/tests/unit/test_b.py", "/w/t/test_c.py"],
            "/w/tests/unit/test_calc.py",
        ),  # the folder holding most tests
        ("/w/pkg/calc.py", "python", ["/w/pkg/a_test.py", "/w/tests/b_test.py"], "/w/pkg/calc_test.py"),  # beside
        ("/w/cmd/main.go", "go", ["/w/x/y_test.go"], "/w/cmd/main_test.go"),
        ("/w/src/add.ts", "typescript", [], "/w/src/add.test.ts"),
        ("/w/src/add.ts", "typescript", ["/w/src/__tests__/a.spec.ts"], "/w/src/__tests__/add.spec.ts"),
    ],
)
def test_the_test_file_follows_the_project(source: str, language: str, paths: list[str], expected: str) -> None:
    layout = testgen.test_layout(source, language, [ROOT], [source, *paths])
    assert layout is not None and layout.path == expected


def test_no_layout_for_a_test_or_another_language() -> None:
    assert testgen.test_layout("/w/tests/test_x.py", "python", [ROOT], []) is None
    assert testgen.test_layout("/w/x.rb", "ruby", [ROOT], []) is None


def test_framework_from_the_existing_tests() -> None:
    assert testgen.framework("python", []) == "pytest"
    assert testgen.framework("python", ["class T(unittest.TestCase):", "import unittest\nclass T(TestCase):"]) == (
        "unittest"
    )
    assert testgen.framework("typescript", ['import { it } from "vitest";']) == "vitest"
    assert testgen.framework("javascript", ["test('x', () => {})"]) == "jest"


def test_module_names_and_specifiers() -> None:
    assert testgen.python_module("/w/src/pkg/calc.py", ["/w", "/w/src"]) == "pkg.calc"
    assert testgen.python_module("/w/pkg/__init__.py", ["/w"]) == "pkg"
    assert testgen.js_specifier("/w/src/__tests__/add.test.ts", "/w/src/add.ts") == "../add"
    assert testgen.js_specifier("/w/src/add.test.ts", "/w/src/add.ts") == "./add"


def test_appending_drops_what_the_file_has() -> None:
    start = "from pkg import f\n\n\ndef test_"
    assert testgen.test_file_text(start, "f():\n    assert f()\n```\nmore") == (
        "from pkg import f\n\n\ndef test_f():\n    assert f()\n"
    )
    assert testgen.merge("from pkg import f\n", "from pkg import f\n\n\ndef test_f():\n    pass\n") == (
        "\n\ndef test_f():\n    pass\n"
    )


def test_selection_lines_and_answers() -> None:
    assert selection.whole_lines(2, 4, 0, 10) == (2, 3)  # ends at a line's start: not that line
    assert selection.whole_lines(2, 2, 0, 10) == (2, 2)
    assert selection.whole_lines(2, 40, 3, 10) == (2, 9)
    assert selection.explanation(" Adds.\n# Returns s.\n```", "#") == "Adds. Returns s."
    assert selection.rewritten("```python\n    s = sum(x)  \n```\n") == "    s = sum(x)"
