"""Document snapshots and position conversion.

Owns `DocumentSnapshot` (an immutable copy of one document at one version with a cursor) and the pure
conversions between LSP positions (line + character in the negotiated encoding: utf-8, utf-16 or utf-32
code units) and offsets into the Python string. Lines end at "\\n", "\\r\\n" or "\\r", as the LSP says.
No I/O, no LSP server state.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class PositionError(ValueError):
    """A position that does not exist in the document (negative, or a line past the end)."""


class Position(NamedTuple):
    line: int
    character: int


def line_starts(text: str) -> list[int]:
    """String offsets at which each line begins (always at least [0])."""
    return [0, *(m.end() for m in _LINE_BREAK.finditer(text))]


def units(s: str, encoding: str) -> int:
    """Length of `s` in code units of an LSP position encoding."""
    if encoding == UTF16:
        return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)
    if encoding == UTF8:
        return len(s.encode("utf-8", "surrogatepass"))
    return len(s)


def _line_bounds(text: str, line: int) -> tuple[int, int] | None:
    """(start, end) string offsets of a line without its break, scanning only up to that line. Text without a
    "\r" up to there is scanned with `str.find` (C speed; every request converts its position this way)."""
    start = 0
    for _ in range(line):
        start = text.find("\n", start) + 1
        if start == 0:
            break
    else:
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        if text.find("\r", 0, end + 1) < 0:
            return start, end
    if text.find("\r") < 0:  # only "\n" breaks, and fewer lines than `line`
        return None
    start, breaks = 0, 0
    for breaks, match in enumerate(_LINE_BREAK.finditer(text), start=1):
        if breaks - 1 == line:
            return start, match.start()
        start = match.end()
    return (start, len(text)) if line == breaks else None


def offset_at(text: str, position: Position, encoding: str) -> int:
    """String offset of an LSP position. A character past the end of its line means the end of the line
    (LSP semantics); a negative position or a line past the end raises PositionError."""
    line, character = position
    if line < 0 or character < 0:
        raise PositionError(f"negative position {line}:{character}")
    bounds = _line_bounds(text, line)
    if bounds is None:
        raise PositionError(f"line {line} is past the end of the document ({len(line_starts(text))} lines)")
    line_start, line_end = bounds
    line_text = text[line_start:line_end]
    if encoding == UTF32:
        return line_start + min(character, len(line_text))
    counted = 0
    for index, ch in enumerate(line_text):
        if counted >= character:
            return line_start + index
        counted += units(ch, encoding)
    return line_start + len(line_text)


def position_at(text: str, offset: int, encoding: str, starts: Sequence[int] | None = None) -> Position:
    """LSP position of a string offset (clamped into the document)."""
    starts = starts if starts is not None else line_starts(text)
    offset = max(0, min(offset, len(text)))
    line = _bisect(starts, offset)
    return Position(line, units(text[starts[line] : offset], encoding))


def byte_column_to_character(line_bytes: bytes, byte_column: int, encoding: str) -> int:
    """Convert a tree-sitter column (utf-8 bytes into the line) to an LSP character in `encoding`."""
    if encoding == UTF8:
        return byte_column
    return units(line_bytes[:byte_column].decode("utf-8", "replace"), encoding)


def _bisect(starts: Sequence[int], offset: int) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass(slots=True, frozen=True)
class DocumentSnapshot:
    """One document at one version, with the cursor as a string offset. Cheap to make; safe to share."""

    uri: str
    language_id: str
    version: int
    text: str
    offset: int

    @property
    def prefix(self) -> str:
        return self.text[: self.offset]

    @property
    def suffix(self) -> str:
        return self.text[self.offset :]


@dataclass(slots=True, frozen=True)
class LineIndex:
    """Position conversion for one text, with its line starts computed once."""

    text: str
    encoding: str
    starts: tuple[int, ...]

    @classmethod
    def of(cls, text: str, encoding: str) -> LineIndex:
        return cls(text, encoding, tuple(line_starts(text)))

    def position(self, offset: int) -> Position:
        return position_at(self.text, offset, self.encoding, self.starts)
