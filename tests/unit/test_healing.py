"""Whitespace healing: what is cut from the prompt, and what a completion must start with."""

from __future__ import annotations

from functools import partial

import pytest

from kimi_lsp.pipeline import _body_end
from kimi_lsp.prompt.healing import Healed, diverged, heal, stop_at, unheal


def _stop_at(tail: str, cursor_line_prefix: str, single_line: bool, generated: str) -> int | None:
    """The stop rule suggest() streams with."""
    return stop_at(generated, tail, partial(_body_end, cursor_line_prefix, single_line))


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("def f(x):\n    ", Healed("def f(x):", "\n    ")),  # after auto-indent
        ("def f(x):\r\n\t", Healed("def f(x):", "\r\n\t")),
        ("x = 1\n", Healed("x = 1", "\n")),  # at the start of an empty line
        ("x = ", Healed("x =", " ")),  # after a space
        ("print(tot", Healed("print(tot", "")),  # inside a word: nothing to heal
        ("x = 1\n\n    ", Healed("x = 1\n", "\n    ")),  # one newline only
        ("    ", Healed("    ", "")),  # nothing before the whitespace to heal onto
        ("", Healed("", "")),
    ],
)
def test_heal_cuts_the_trailing_whitespace(prefix: str, expected: Healed) -> None:
    healed = heal(prefix)
    assert healed == expected
    assert healed.prefix + healed.tail == prefix


def test_unheal_takes_the_tail_off_or_refuses() -> None:
    assert unheal("\n    return x", "\n    ") == "return x"
    assert unheal("\n        deeper()", "\n    ") == "    deeper()"  # more indentation than typed: kept
    assert unheal("\nreturn x", "\n    ") is None  # dedents past the cursor
    assert unheal("", "\n    ") is None  # ended at once
    assert unheal("anything", "") == "anything"


def test_diverged_while_streaming() -> None:
    assert not diverged("\n  ", "\n    ")  # still writing the tail
    assert not diverged("\n    ret", "\n    ")
    assert diverged("\nret", "\n    ")
    assert diverged("x", " ")


def test_stop_at_ends_the_line_after_the_tail_and_the_block() -> None:
    # single line: the tail's own newline does not end it, the next one does
    assert _stop_at("\n    ", "    ", True, "\n    ret") is None
    assert _stop_at("\n    ", "    ", True, "\n    return x\n    y") == len("\n    return x")
    # a block: ends at the first line indented less than the cursor's line
    generated = "\n    return x\n\ndef unrelated():\n"
    assert _stop_at("\n    ", "    ", False, generated) == len("\n    return x\n\n")
    assert _stop_at("\n    ", "    ", False, "\nreturn") == 0  # diverged: stop now
    assert _stop_at("", "x = ", True, "1\n") == 1
