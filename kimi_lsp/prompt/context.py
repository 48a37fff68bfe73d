"""Context assembly: (snapshot, cross-file snippets, budget, template) -> Prompt.

Pure and deterministic. The budget is in tokens: the cross-file snippets (chosen by select.py) get at most
`cross_file_tokens`; the document gets the rest of `prompt_tokens`, whatever the snippets used, so its windows
do not move when the snippets change. Its windows are sized with the token estimate (tokens.py), which
over-counts code. Cuts are made on stable boundaries so that consecutive keystrokes produce prompts that share
the longest possible prefix (SGLang's radix cache reuses it): the prefix window starts at a line number that is
a multiple of `PREFIX_ALIGN_LINES`, so it moves in steps, not on every keystroke. Line endings are normalised
to "\n"; text is scrubbed of credentials by the caller-supplied `scrub` before it is laid out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from ..snapshot import DocumentSnapshot
from . import healing
from .templates import Snippet, Template
from .tokens import CHARS_PER_TOKEN

PREFIX_ALIGN_LINES = 32
TEMPLATE_TOKENS = 32  # special tokens and the file header


@dataclass(slots=True, frozen=True)
class Budget:
    """Token budgets: the whole prompt, the cross-file context within it, the suffix's share of the rest."""

    prompt_tokens: int = 4096
    cross_file_tokens: int = 2048
    suffix_share: float = 0.25

    @property
    def file_tokens(self) -> int:
        return max(64, self.prompt_tokens - self.cross_file_tokens - TEMPLATE_TOKENS)


class Windows(NamedTuple):
    """The parts of the document the model sees (line endings normalised), and the first line shown."""

    prefix: str
    suffix: str
    first_line: int


def windows(snapshot: DocumentSnapshot, template: Template, budget: Budget) -> Windows:
    """The document's prefix and suffix windows within the budget. A left-to-right template shows no suffix:
    the prefix gets the whole document budget (the suffix window still feeds post-processing)."""
    file_chars = int(budget.file_tokens * CHARS_PER_TOKEN)
    suffix_chars = int(file_chars * budget.suffix_share)
    before = snapshot.prefix.replace("\r\n", "\n")
    prefix = window_prefix(before, file_chars if template.left_to_right else file_chars - suffix_chars)
    suffix = window_suffix(snapshot.suffix.replace("\r\n", "\n"), suffix_chars)
    return Windows(prefix, suffix, before.count("\n", 0, len(before) - len(prefix)))


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
    comment: str = "#",
) -> Prompt:
    """Lay out one completion prompt around the chosen `snippets` (already within the budget). For a
    left-to-right template the prefix's trailing whitespace is left out of the prompt and returned as `tail`
    (see healing.py). `path`: the document's path as the model is shown it; `comment`: its language's line
    comment (templates without a file separator head each snippet with one)."""
    shown = windows(snapshot, template, budget)
    prefix, suffix = scrub(shown.prefix), scrub(shown.suffix)
    kept = tuple(Snippet(s.path, scrub(s.text.replace("\r\n", "\n"))) for s in snippets)
    healed = healing.heal(prefix) if template.left_to_right else healing.Healed(prefix, "")
    text = template.render(healed.prefix, suffix, kept, path, comment)
    return Prompt(text, template.stop, prefix, suffix, healed.tail)
