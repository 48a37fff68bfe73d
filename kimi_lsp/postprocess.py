"""Post-processing of model output before an editor shows it.

Pure functions: cut a completion where its block ends (a line indented less than the cursor's line), drop
text that repeats what already follows the cursor, and reject completions that add syntax errors (the caller
passes a function that counts them). `block_end` is also used while streaming, to stop decoding early.
"""

from __future__ import annotations

from collections.abc import Callable

MAX_LINES = 16


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def block_end(completion: str, cursor_line_prefix: str) -> int | None:
    """Offset in `completion` where it leaves the cursor's block, or None if it has not (yet).

    The first line continues the cursor's line and is always kept. A later non-blank line that is indented
    less than the cursor's line ends the block, as does the line after MAX_LINES."""
    base = indent_of(cursor_line_prefix) if cursor_line_prefix.strip() else len(cursor_line_prefix)
    offset = 0
    for number, line in enumerate(completion.splitlines(keepends=True)):
        complete = line.endswith("\n")
        if number > 0 and complete and line.strip() and indent_of(line) < base:
            return offset
        if number >= MAX_LINES:
            return offset
        offset += len(line)
    return None


def drop_suffix_overlap(completion: str, suffix: str) -> str:
    """Remove the tail of `completion` that the text after the cursor already contains: the rest of the
    cursor's line (e.g. closing brackets) or whole following lines."""
    rest_of_line = suffix.split("\n", 1)[0].strip()
    text = completion.rstrip()
    if rest_of_line and text.endswith(rest_of_line):
        text = text[: -len(rest_of_line)]
    lines = text.split("\n")
    following = next((line.strip() for line in suffix.split("\n", MAX_LINES + 1)[1:] if line.strip()), None)
    while len(lines) > 1 and following is not None and lines[-1].strip() == following:
        lines.pop()
    return "\n".join(lines).rstrip() if len(lines) > 1 else lines[0]


def finish(
    completion: str,
    prefix: str,
    suffix: str,
    errors_with: Callable[[str], int] | None = None,
) -> str | None:
    """The text to show, or None for no suggestion.

    `errors_with(insertion)` counts the syntax errors in the document with `insertion` at the cursor; when
    given, a completion that adds errors is cut to its first line, and dropped if that still adds errors."""
    cursor_line_prefix = prefix.rsplit("\n", 1)[-1]
    end = block_end(completion, cursor_line_prefix)
    text = completion[:end] if end is not None else completion
    text = drop_suffix_overlap(text, suffix)
    if not text.strip():
        return None
    if errors_with is None:
        return text
    baseline = errors_with("")
    for candidate in (text, text.split("\n", 1)[0]):
        if candidate.strip() and errors_with(candidate) <= baseline:
            return candidate
    return None
