"""Context assembly: (snapshot, cross-file snippets, budget, template) -> Prompt.

Pure and deterministic. Cuts are made on stable boundaries so that consecutive keystrokes produce prompts that
share the longest possible prefix (SGLang's radix cache reuses it): the prefix window starts at a line number
that is a multiple of `PREFIX_ALIGN_LINES`, so it moves in steps, not on every keystroke.
Text is scrubbed of credentials by the caller-supplied `scrub` before it is laid out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..snapshot import DocumentSnapshot
from . import healing
from .templates import Snippet, Template

PREFIX_ALIGN_LINES = 32


@dataclass(slots=True, frozen=True)
class Budget:
    """Character budgets (about 3-4 characters per token for code)."""

    prefix_chars: int = 6_000
    suffix_chars: int = 1_500
    snippet_chars: int = 3_000


@dataclass(slots=True, frozen=True)
class Prompt:
    text: str
    stop: tuple[str, ...]
    prefix: str  # the part of the current file before the cursor (the model sees it without `tail`)
    suffix: str  # the part after the cursor that the model sees
    tail: str = ""  # whitespace cut from the end of the prefix, which the model must write first (healing)


def _identity(text: str) -> str:
    return text


def window_prefix(prefix: str, limit: int) -> str:
    """The tail of `prefix` within `limit` characters, starting at an aligned line when it must be cut."""
    if len(prefix) <= limit:
        return prefix
    lines = prefix.splitlines(keepends=True)
    total, first = 0, len(lines)
    while first > 0 and total + len(lines[first - 1]) <= limit:
        first -= 1
        total += len(lines[first])
    aligned = -(-first // PREFIX_ALIGN_LINES) * PREFIX_ALIGN_LINES  # round up: never exceed the limit
    if aligned >= len(lines):  # one huge line: fall back to a raw cut
        return prefix[-limit:]
    return "".join(lines[aligned:])


def window_suffix(suffix: str, limit: int) -> str:
    """The head of `suffix` within `limit` characters, cut at a line end when possible."""
    if len(suffix) <= limit:
        return suffix
    cut = suffix.rfind("\n", 0, limit)
    return suffix[: cut + 1] if cut > 0 else suffix[:limit]


def build(
    snapshot: DocumentSnapshot,
    template: Template,
    snippets: tuple[Snippet, ...] = (),
    budget: Budget = Budget(),
    scrub: Callable[[str], str] = _identity,
    path: str = "",
) -> Prompt:
    """Lay out one completion prompt. Snippets are taken in order until their budget is spent. For a
    left-to-right template the prefix's trailing whitespace is left out of the prompt and returned as `tail`
    (see healing.py). `path`: the document's path as the model is shown it (templates with file headers)."""
    prefix = scrub(window_prefix(snapshot.prefix, budget.prefix_chars))
    suffix = scrub(window_suffix(snapshot.suffix, budget.suffix_chars))
    kept: list[Snippet] = []
    spent = 0
    for snippet in snippets:
        if spent + len(snippet.text) > budget.snippet_chars:
            break
        kept.append(Snippet(snippet.path, scrub(snippet.text)))
        spent += len(snippet.text)
    healed = healing.heal(prefix) if template.left_to_right else healing.Healed(prefix, "")
    return Prompt(template.render(healed.prefix, suffix, tuple(kept), path), template.stop, prefix, suffix, healed.tail)
