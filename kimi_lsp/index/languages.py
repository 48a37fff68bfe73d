"""The language registry: file extension -> tree-sitter grammar.

Owns which languages we parse and how a grammar is loaded. Grammars come from the per-language PyPI wheels,
which ship compiled parsers and work offline. Loading is lazy and cached; this module does no file I/O.
"""

from __future__ import annotations

import importlib
import os.path
from dataclasses import dataclass
from functools import cache

from tree_sitter import Language, Parser


@dataclass(slots=True, frozen=True)
class LanguageSpec:
    """One language: its LSP language id, the grammar module and the function in it that returns the grammar."""

    name: str
    module: str
    function: str
    extensions: tuple[str, ...]


LANGUAGES: tuple[LanguageSpec, ...] = (
    LanguageSpec("python", "tree_sitter_python", "language", (".py", ".pyi")),
    LanguageSpec("javascript", "tree_sitter_javascript", "language", (".js", ".mjs", ".cjs", ".jsx")),
    LanguageSpec("typescript", "tree_sitter_typescript", "language_typescript", (".ts", ".mts", ".cts")),
    LanguageSpec("typescriptreact", "tree_sitter_typescript", "language_tsx", (".tsx",)),
    LanguageSpec("go", "tree_sitter_go", "language", (".go",)),
    LanguageSpec("rust", "tree_sitter_rust", "language", (".rs",)),
    LanguageSpec("java", "tree_sitter_java", "language", (".java",)),
    LanguageSpec("c", "tree_sitter_c", "language", (".c", ".h")),
    LanguageSpec("cpp", "tree_sitter_cpp", "language", (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx")),
)

_BY_EXTENSION = {ext: spec for spec in LANGUAGES for ext in spec.extensions}
_BY_NAME = {spec.name: spec for spec in LANGUAGES}


def spec_for_path(path: str) -> LanguageSpec | None:
    """The language of a file path (or URI path) by its extension, or None when we do not parse it."""
    return _BY_EXTENSION.get(os.path.splitext(path)[1].lower())


def spec_named(name: str) -> LanguageSpec | None:
    """The language with this LSP language id, or None."""
    return _BY_NAME.get(name)


@cache
def grammar(spec: LanguageSpec) -> Language:
    """The compiled tree-sitter grammar of a language (loaded once per process)."""
    return Language(grammar_capsule(spec))


def grammar_capsule(spec: LanguageSpec) -> object:
    """The grammar as its wheel hands it out: a PyCapsule around the C `TSLanguage *`, for native code."""
    return getattr(importlib.import_module(spec.module), spec.function)()


def new_parser(spec: LanguageSpec) -> Parser:
    """A fresh parser for a language. Parsers are not thread-safe: one per thread or task."""
    return Parser(grammar(spec))
