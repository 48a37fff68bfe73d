"""What a definition's signature says beyond its name. Pure functions over the signature text the outline
keeps (the header line of a class or function as written)."""

from __future__ import annotations

import re

_NESTED = re.compile(r"<[^<>]*>|\[[^\[\]]*\]|\([^()]*\)")
_DOTTED = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*")
_EXTENDS = re.compile(r"\b(?:extends|implements)\s+(.+?)(?=\s+(?:extends|implements)\b|$)")


def base_names(language: str, signature: str) -> tuple[str, ...]:
    """The bases a class's signature names, as written (`Base`, `module.Base`), type arguments left out:
    Python `class C(A, m.B, metaclass=M)`, and `extends`/`implements` lists (JavaScript, TypeScript, Java)."""
    if language == "python":
        _, opened, rest = signature.partition("(")
        parts = _strip_nested(rest.rsplit(")", 1)[0]).split(",") if opened else []
        parts = [p for p in parts if "=" not in p and not p.strip().startswith("*")]
    else:
        parts = [p for m in _EXTENDS.finditer(_strip_nested(signature)) for p in m.group(1).split(",")]
    names = (p.strip() for p in parts)
    return tuple(n for n in names if _DOTTED.fullmatch(n) and n != "object")


def _strip_nested(text: str) -> str:
    """`text` without bracketed parts (type arguments, subscripts, calls)."""
    while True:
        stripped = _NESTED.sub("", text)
        if stripped == text:
            return text
        text = stripped
