"""Syntax trees of open documents, parsed on demand and cached per document version.

Owns the only tree-sitter trees the server keeps (open documents). Files over `MAX_PARSE_BYTES` and languages
we have no grammar for get no tree. Callers pass the text they snapshotted; nothing here reads files.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Tree

from .index.languages import LanguageSpec, spec_for_path, spec_named
from .syntax import parse

MAX_PARSE_BYTES = 2_000_000


@dataclass(slots=True, frozen=True)
class ParsedDocument:
    version: int
    spec: LanguageSpec
    tree: Tree


class OpenTrees:
    def __init__(self) -> None:
        self._trees: dict[str, ParsedDocument] = {}

    def get(self, uri: str, language_id: str, version: int, text: str) -> ParsedDocument | None:
        """The tree of `text` (the document at `version`), parsing it if this version is not cached."""
        cached = self._trees.get(uri)
        if cached is not None and cached.version == version:
            return cached
        spec = spec_named(language_id) or spec_for_path(uri)
        if spec is None or len(text) > MAX_PARSE_BYTES:
            self._trees.pop(uri, None)
            return None
        parsed = ParsedDocument(version, spec, parse(spec, text))
        self._trees[uri] = parsed
        return parsed

    def forget(self, uri: str) -> None:
        self._trees.pop(uri, None)
