"""Position conversions (kimi_lsp/snapshot.py) round-trip in utf-8, utf-16 and utf-32, on text with
multi-byte characters, surrogate pairs (astral characters), lone surrogates, CRLF, lone CR and characters that
are line breaks for str.splitlines but not for LSP; and agree with a direct count of code units."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_lsp.snapshot import UTF8, UTF16, UTF32, LineIndex, Position, line_starts, offset_at, position_at, units

ENCODINGS = (UTF8, UTF16, UTF32)
PIECES = ["a", "Z", " ", "é", "ß", "中", "😀", "𝔘", "\n", "\r\n", "\r", "\u2028", "\x0c", "\x85", "\udc80", "\ud83d"]
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
LSP_BREAK = re.compile(r"\r\n|\r|\n")


def _addressable(text: str) -> list[int]:
    """Offsets an LSP position can name (all but the middle of a CRLF)."""
    return [i for i in range(len(text) + 1) if not (0 < i < len(text) and text[i - 1 : i + 1] == "\r\n")]


def _code_units(segment: str, encoding: str) -> int:
    if encoding == UTF8:
        return len(segment.encode("utf-8", "surrogatepass"))
    if encoding == UTF16:
        return len(segment.encode("utf-16-le", "surrogatepass")) // 2
    return len(segment)


@settings(max_examples=300, deadline=None)
@given(text=texts, data=st.data())
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_offset_to_position_and_back(encoding: str, text: str, data: st.DataObject) -> None:
    offset = data.draw(st.sampled_from(_addressable(text)))
    position = position_at(text, offset, encoding)
    assert offset_at(text, position, encoding) == offset
    assert LineIndex.of(text, encoding).position(offset) == position


@settings(max_examples=300, deadline=None)
@given(text=texts, data=st.data())
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_positions_count_lsp_lines_and_code_units(encoding: str, text: str, data: st.DataObject) -> None:
    offset = data.draw(st.sampled_from(_addressable(text)))
    breaks = [m for m in LSP_BREAK.finditer(text) if m.end() <= offset]
    line_start = breaks[-1].end() if breaks else 0
    assert position_at(text, offset, encoding) == Position(len(breaks), _code_units(text[line_start:offset], encoding))
    assert units(text[line_start:offset], encoding) == _code_units(text[line_start:offset], encoding)


@settings(max_examples=200, deadline=None)
@given(text=texts, data=st.data())
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_character_past_the_end_of_a_line_is_its_end(encoding: str, text: str, data: st.DataObject) -> None:
    starts = line_starts(text)
    line = data.draw(st.integers(0, len(starts) - 1))
    end = LSP_BREAK.search(text, starts[line])
    line_end = end.start() if end is not None else len(text)
    assert offset_at(text, Position(line, 10_000), encoding) == line_end


def test_inside_a_surrogate_pair_in_utf16_moves_past_the_character() -> None:
    text = "a😀b"
    assert offset_at(text, Position(0, 2), UTF16) == 2  # between the halves: after the character
    assert offset_at(text, Position(0, 3), UTF16) == 2
    assert offset_at(text, Position(0, 2), UTF8) == 2  # inside its four bytes: after it too
