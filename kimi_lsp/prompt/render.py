"""How code from other files is shown to the model: definitions as the model needs them, outlines as a map.

A function is its signature and the first line of its doc comment; a class is its header, its constructor and
its public members' signatures; a constant or type alias is its assignment line. Signatures come from the index
(multi-line signatures joined on one line, so a definition's first source line is a prefix of what is shown).
Pure: outlines in, text out.
"""

from __future__ import annotations

from ..index.model import Definition, Outline

INDENT = "    "
MAX_MAP_LINES = 60
MAX_CLASS_MEMBERS = 24
_CONTAINERS = frozenset({"class", "interface", "struct", "enum", "trait", "impl"})
_LINE_COMMENT = {"python": "#"}  # every other language we parse uses //


def comment_for(language: str) -> str:
    """The line comment of `language` (a LanguageSpec name)."""
    return _LINE_COMMENT.get(language, "//")


def definition_text(outline: Outline, index: int) -> str:
    """Definition `index` of `outline`, shown as the model needs it."""
    definition = outline.definitions[index]
    comment = comment_for(outline.language)
    lines = [_signature(definition)]
    if definition.doc:
        lines.append(f"{INDENT}{comment} {definition.doc.splitlines()[0]}")
    if definition.kind in _CONTAINERS:
        members = [
            d
            for d in outline.definitions
            if d.parent == index and (_public(d.name) or d.kind == "constructor" or d.name == "__init__")
        ]
        lines += [INDENT + _signature(d) for d in members[:MAX_CLASS_MEMBERS]]
    return "\n".join(lines)


def outline_text(outline: Outline, max_lines: int = MAX_MAP_LINES) -> str:
    """A repo-map entry: the signature lines of the file's public top-level definitions, in source order."""
    lines = [_signature(d) for d in outline.definitions if d.parent == -1 and _public(d.name)]
    return "\n".join(lines[:max_lines])


def _signature(definition: Definition) -> str:
    return definition.signature.strip() or definition.name


def _public(name: str) -> bool:
    return not name.startswith("_")
