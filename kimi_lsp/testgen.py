"""Generated unit tests: where the project keeps its tests, in which framework, and what the test file starts
with. Everything that is not LSP; pure functions over paths and texts (no I/O).

`test_layout` reads the project's conventions from the indexed paths: a Python test file is `test_x.py` or
`x_test.py` (whichever the project uses more), beside its source when a test already lives there, else in the
folder holding most test files (`tests/` when the project has none); Go's is `x_test.go` beside the source;
JavaScript and TypeScript use `x.test.ts` or `x.spec.ts`, in `__tests__/` when the project does, else beside the
source. `framework` reads the existing tests' texts (pytest unless they use unittest; jest unless they import
vitest, mocha or node:test). `header` is the start of the test file (imports, the first test's opening), which
the model continues; `merge` drops the lines an existing test file already has, to append to it.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .selection import unfence

LANGUAGES = frozenset({"python", "go", "javascript", "typescript", "typescriptreact"})
_JS = frozenset({"javascript", "typescript", "typescriptreact"})
_JS_EXTENSIONS = (".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts")
_JS_TEST = re.compile(r"^(?P<stem>.+)\.(?P<infix>test|spec)\.[cm]?[jt]sx?$")
_GO_PACKAGE = re.compile(r"^\s*package\s+(\w+)", re.MULTILINE)
MAX_SAMPLES = 5  # existing test files read to tell the framework


@dataclass(slots=True, frozen=True)
class TestLayout:
    """Where the tests of one source file go: the test file's path, and the existing test files (nearest first)
    whose texts tell the framework."""

    path: str
    samples: tuple[str, ...]


def is_test_file(path: str) -> bool:
    """Whether `path` is a test file by the naming conventions this module knows. Pure."""
    name = os.path.basename(path)
    if name.endswith(".py"):
        return name.startswith("test_") or name.endswith("_test.py")
    if name.endswith("_test.go"):
        return True
    return _JS_TEST.match(name) is not None


def test_layout(source: str, language: str, roots: Sequence[str], paths: Iterable[str]) -> TestLayout | None:
    """The test file for the source file `source` (an absolute path) of `language`, by the conventions of the
    project's existing test files among `paths` (module docstring); None for a language not in LANGUAGES or a
    source that is itself a test. Pure."""
    if language not in LANGUAGES or is_test_file(source):
        return None
    folder, name = os.path.split(source)
    stem, extension = os.path.splitext(name)
    tests = sorted(p for p in paths if is_test_file(p) and _same_kind(p, language))
    samples = tuple(sorted(tests, key=lambda p: (_distance(p, folder), p))[:MAX_SAMPLES])
    if language == "go":
        return TestLayout(os.path.join(folder, f"{stem}_test.go"), samples)
    if language in _JS:
        infixes = Counter(m.group("infix") for p in tests if (m := _JS_TEST.match(os.path.basename(p))))
        infix = "spec" if infixes["spec"] > infixes["test"] else "test"
        in_tests_dir = sum(os.path.basename(os.path.dirname(p)) == "__tests__" for p in tests) * 2 > len(tests) > 0
        where = os.path.join(folder, "__tests__") if in_tests_dir else folder
        return TestLayout(os.path.join(where, f"{stem}.{infix}{extension}"), samples)
    suffixed = sum(os.path.basename(p).endswith("_test.py") for p in tests)
    file_name = f"{stem}_test.py" if suffixed * 2 > len(tests) else f"test_{stem}.py"
    folders = Counter(os.path.dirname(p) for p in tests)
    if folder in folders or not roots:
        where = folder
    elif folders:
        where = min(folders, key=lambda d: (-folders[d], len(d), d))
    else:
        root = max((r for r in roots if _inside(source, r)), key=len, default=roots[0])
        where = os.path.join(root, "tests")
    return TestLayout(os.path.join(where, file_name), samples)


def _same_kind(path: str, language: str) -> bool:
    if language == "python":
        return path.endswith(".py")
    if language == "go":
        return path.endswith(".go")
    return path.endswith(_JS_EXTENSIONS)


def _inside(path: str, root: str) -> bool:
    return path.startswith(os.path.join(root, ""))


def _distance(path: str, folder: str) -> int:
    """How many folders apart `path`'s folder and `folder` are."""
    common = os.path.commonpath([os.path.dirname(path), folder])
    return len(os.path.relpath(os.path.dirname(path), common).split(os.sep)) + len(
        os.path.relpath(folder, common).split(os.sep)
    )


def framework(language: str, samples: Iterable[str]) -> str:
    """The test framework of `language` the existing test texts `samples` use. Pure."""
    texts = list(samples)
    if language == "go":
        return "testing"
    if language in _JS:
        for name, marks in (
            ("vitest", ("'vitest'", '"vitest"')),
            ("node:test", ("'node:test'", '"node:test"')),
            ("mocha", ("'mocha'", '"mocha"', "'chai'", '"chai"')),
        ):
            if any(mark in text for text in texts for mark in marks):
                return name
        return "jest"
    unittest = sum("unittest.TestCase" in text or "(TestCase)" in text for text in texts)
    return "unittest" if unittest * 2 > len(texts) else "pytest"


def python_module(source: str, bases: Iterable[str]) -> str:
    """The dotted module name of the Python file `source`, imported from the deepest of `bases` (the folders
    absolute imports resolve from) that holds it; its bare name when none does. Pure."""
    holding = [base for base in bases if _inside(source, base)]
    if not holding:
        return os.path.splitext(os.path.basename(source))[0]
    relative = os.path.splitext(os.path.relpath(source, max(holding, key=len)))[0].split(os.sep)
    if relative[-1] == "__init__" and len(relative) > 1:
        relative.pop()
    return ".".join(relative)


def header(language: str, tests: str, name: str, source: str, source_text: str, module: str) -> str:
    """The start of a test file of `language` in framework `tests` for the function `name` of the file `source`
    (its text `source_text`; `module`: how the test imports it, a Python module name or a JavaScript
    specifier): imports and the opening of the first test, for the model to continue ("\\n" line ends). Pure."""
    title = name[:1].upper() + name[1:]
    if language == "python":
        imported = f"from {module} import {name}\n"
        if tests == "unittest":
            return f"import unittest\n\n{imported}\n\nclass Test{title}(unittest.TestCase):\n    def test_"
        return f"{imported}\n\ndef test_"
    if language == "go":
        found = _GO_PACKAGE.search(source_text)
        package = found.group(1) if found else "main"
        return f'package {package}\n\nimport "testing"\n\nfunc Test{title}(t *testing.T) {{\n'
    imports = {
        "vitest": 'import { describe, expect, it } from "vitest";\n',
        "node:test": 'import { describe, it } from "node:test";\nimport assert from "node:assert/strict";\n',
        "mocha": 'import { expect } from "chai";\n',
        "jest": "",
    }[tests]
    return f'{imports}import {{ {name} }} from "{module}";\n\ndescribe("{name}", () => {{\n'


def js_specifier(test_path: str, source: str) -> str:
    """How the test file at `test_path` imports `source`: a relative specifier without the extension. Pure."""
    relative = os.path.relpath(os.path.splitext(source)[0], os.path.dirname(test_path)).replace(os.sep, "/")
    return relative if relative.startswith(".") else f"./{relative}"


def tests_task(name: str, tests: str, shown_path: str, comment: str, start: str) -> str:
    """The instruction after the function in a prompt for its tests, ending with the test file's `start`, which
    the model continues. Pure."""
    return f"\n\n{comment} Unit tests for `{name}` with {tests}, in {shown_path}:\n{start}"


def test_file_text(start: str, answer: str) -> str:
    """The test file: `start` and the model's continuation, without a code fence it may have written, ending in
    one line end ("\\n" line ends). Pure."""
    return (start + unfence(answer)).rstrip() + "\n"


def merge(existing: str, text: str) -> str:
    """`text` to append to the existing test file `existing`: without the lines of its start that the file
    already has (its package clause, imports), after two blank lines. Pure."""
    existing = existing.replace("\r\n", "\n")
    have = {line for line in existing.split("\n") if line.strip()}
    lines = text.split("\n")
    first = 0
    while first < len(lines) and (lines[first] in have or not lines[first].strip()):
        first += 1
    kept = "\n".join(lines[first:])
    if not existing:
        return kept
    blank = len(existing) - len(existing.rstrip("\n"))
    return "\n" * max(1, 3 - blank) + kept
