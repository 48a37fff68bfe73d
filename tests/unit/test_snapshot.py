from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kimi_lsp.snapshot import (
    UTF8,
    UTF16,
    UTF32,
    Position,
    PositionError,
    byte_column_to_character,
    offset_at,
    position_at,
)

TEXT = "a😀b\r\nsecond é\rthird\n"


@pytest.mark.parametrize(
    ("encoding", "character", "offset"),
    [(UTF16, 0, 0), (UTF16, 1, 1), (UTF16, 3, 2), (UTF16, 4, 3), (UTF8, 5, 2), (UTF8, 6, 3), (UTF32, 2, 2)],
)
def test_astral_characters_count_per_encoding(encoding: str, character: int, offset: int) -> None:
    assert offset_at(TEXT, Position(0, character), encoding) == offset
    assert position_at(TEXT, offset, encoding) == Position(0, character)


def test_every_line_break_kind_ends_a_line() -> None:
    assert offset_at(TEXT, Position(1, 0), UTF16) == TEXT.index("second")
    assert offset_at(TEXT, Position(2, 0), UTF16) == TEXT.index("third")
    assert offset_at(TEXT, Position(3, 0), UTF16) == len(TEXT)


def test_character_past_the_line_end_clamps_to_the_line_end() -> None:
    assert offset_at(TEXT, Position(0, 99), UTF16) == TEXT.index("\r\n")


@pytest.mark.parametrize("position", [Position(4, 0), Position(-1, 0), Position(0, -1)])
def test_impossible_positions_raise(position: Position) -> None:
    with pytest.raises(PositionError):
        offset_at(TEXT, position, UTF16)


def test_tree_sitter_byte_columns_convert() -> None:
    line = "s = '😀é' + x".encode()
    column = line.index(b"x")
    assert byte_column_to_character(line, column, UTF8) == column
    assert byte_column_to_character(line, column, UTF16) == len("s = '😀é' + ".encode("utf-16-le")) // 2
    assert byte_column_to_character(line, column, UTF32) == len("s = '😀é' + ")


@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60), st.sampled_from([UTF8, UTF16, UTF32])
)
def test_position_and_offset_round_trip(text: str, encoding: str) -> None:
    for offset in range(len(text) + 1):
        if 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n":
            continue  # inside a CRLF break: not a position
        assert offset_at(text, position_at(text, offset, encoding), encoding) == offset
