from __future__ import annotations

from kimi_lsp.index.languages import spec_for_path
from kimi_lsp.postprocess import MAX_LINES, block_end, drop_suffix_overlap, finish
from kimi_lsp.syntax import errors_with_insertion, parse


def test_block_end_cuts_where_the_cursor_block_ends() -> None:
    text = "return a + b\n\ndef other():\n    pass\n"
    assert text[: block_end(text, "    ")] == "return a + b\n\n"


def test_block_end_keeps_nested_lines_and_waits_for_complete_lines() -> None:
    assert block_end("if x:\n        y()\n    z()\n", "    ") is None
    assert block_end("x\nde", "    ") is None  # "de" may still grow into an indented line


def test_block_end_caps_the_number_of_lines() -> None:
    text = "x\n" * (MAX_LINES + 5)
    assert text[: block_end(text, "")].count("\n") == MAX_LINES


def test_suffix_overlap_is_dropped() -> None:
    assert drop_suffix_overlap("len(items))", ")\n") == "len(items)"
    assert drop_suffix_overlap("a = 1\n    return a", "\n    return a\n") == "a = 1"
    assert drop_suffix_overlap("value", "\nrest") == "value"


def _counter(text: str, cursor: int):  # type: ignore[no-untyped-def]
    spec = spec_for_path("x.py")
    assert spec is not None
    source = text.encode()
    return lambda insertion: errors_with_insertion(
        spec, parse(spec, text), source, len(text[:cursor].encode()), insertion
    )


def test_a_completion_that_adds_syntax_errors_is_cut_or_dropped() -> None:
    prefix, suffix = "def f(x):\n    return ", "\n"
    errors = _counter(prefix + suffix, len(prefix))
    assert finish("x + 1", prefix, suffix, errors) == "x + 1"
    assert finish("x +", prefix, suffix, errors) is None
    assert finish("   ", prefix, suffix, errors) is None


def test_errors_with_insertion_matches_a_full_parse() -> None:
    spec = spec_for_path("x.py")
    assert spec is not None
    text = "é = 1\ndef f():\n    \n"
    cursor = text.index("    \n") + 4
    for insertion in ("return (", "return 1", "x = [\n1,\n2]", "😀"):
        full = len(
            __import__("kimi_lsp.syntax", fromlist=["syntax_problems"]).syntax_problems(
                parse(spec, text[:cursor] + insertion + text[cursor:])
            )
        )
        assert _counter(text, cursor)(insertion) == full
