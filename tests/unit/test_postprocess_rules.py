"""The post-processing rules that mirror tabby-agent's filters, one by one and through `finish`: what each cuts
or drops, and that ordinary code passes untouched. Cases marked "tabby" are the filter's own test cases in
clients/tabby-agent/src/codeCompletion/postprocess/*.test.ts."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from kimi_lsp.postprocess import (
    distance,
    duplicates_suffix,
    ends_in_repetition,
    finish,
    remove_duplicated_block_closing_line,
    remove_line_ends_with_repetition,
    remove_repetitive_blocks,
    remove_repetitive_lines,
    repeats_prefix,
)

NORMAL = (
    "total = 0\n"
    "    for item in items:\n"
    "        if item.price > 0:\n"
    "            total += item.price * item.count\n"
    "    return total"
)


def _levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


@given(st.text("abc ", max_size=80), st.text("abc ", max_size=80))
def test_distance_is_levenshtein(a: str, b: str) -> None:
    assert distance(a, b) == _levenshtein(a, b)


_TABBY_PATTERNS = (re.compile(r"(.{3,}?)\1{5,}\Z"), re.compile(r"(.{10,}?)\1{3,}\Z"))


@given(
    st.text("ab= ", max_size=12), st.text("ab ", min_size=1, max_size=12), st.integers(0, 8), st.text("ab", max_size=2)
)
def test_ends_in_repetition_is_tabbys_regex(head: str, unit: str, times: int, tail: str) -> None:
    line = head + unit * times + tail
    assert ends_in_repetition(line) == any(p.search(line) for p in _TABBY_PATTERNS)


# ---- removeRepetitiveLines ----------------------------------------------------------------------------------


def test_a_line_repeated_over_and_over_is_cut_to_its_first_line() -> None:  # tabby
    assert remove_repetitive_lines("hello();\n" * 9 + "hello();") == "hello();"


def test_lines_that_differ_a_little_count_as_repeated() -> None:  # tabby
    text = "".join(f"const {c} = 1;\n" for c in "bcdefghij") + "const k ="
    assert remove_repetitive_lines(text) == "const b = 1;"


def test_the_first_line_counts_as_completed_by_the_text_before_the_cursor() -> None:
    """The report from Neovim: after `self.` one line, seven times."""
    text = "items.append(item)\n" + "        self.items.append(item)\n" * 6
    assert remove_repetitive_lines(text, "        self.") == "items.append(item)"


def test_a_few_repeated_lines_and_ordinary_code_are_kept() -> None:
    four = "x = 1\n" * 4 + "y = 2"
    assert remove_repetitive_lines(four) == four
    assert remove_repetitive_lines(NORMAL, "    ") == NORMAL
    distinct = "".join(f"{name} = settings.get('{name}')\n" for name in ("host", "port", "user", "timeout", "retries"))
    assert remove_repetitive_lines(distinct + "x") == distinct + "x"


# ---- removeRepetitiveBlocks ---------------------------------------------------------------------------------


def test_a_block_repeated_after_blank_lines_is_cut_to_its_first_block() -> None:  # tabby
    text = "".join(f'function myFunc{c}() {{\n  console.log("myFunc{c} called.");\n}}\n\n' for c in "BCDEFG")
    text += 'function myFuncH() {\n  console.log("myFuncH '
    assert remove_repetitive_blocks(text) == 'function myFuncB() {\n  console.log("myFuncB called.");\n}'


def test_blocks_before_the_repetition_and_different_blocks_are_kept() -> None:
    head = "def setup():\n    connect()\n\n"
    text = head + "def test_a():\n    assert run('a')\n\n" * 4 + "def test_"
    assert remove_repetitive_blocks(text) == head + "def test_a():\n    assert run('a')"
    two = "def total(items):\n    return sum(items)\n\n\ndef average(items):\n    return total(items) / len(items)\n"
    assert remove_repetitive_blocks(two) == two


# ---- removeLineEndsWithRepetition ---------------------------------------------------------------------------


def test_a_single_line_that_ends_in_repetition_is_dropped() -> None:  # tabby
    assert remove_line_ends_with_repetition("foo = foo = foo = foo = foo = foo = foo =") is None


def test_a_last_line_that_ends_in_repetition_is_removed() -> None:  # tabby
    text = "1000000000\nlet superLargeNumber = 1000000000000000000000000000000000000000000000"
    assert remove_line_ends_with_repetition(text) == "1000000000"


def test_repetition_below_the_threshold_is_kept() -> None:  # tabby
    assert remove_line_ends_with_repetition("1000000000000") == "1000000000000"
    assert remove_line_ends_with_repetition(NORMAL) == NORMAL
    assert remove_line_ends_with_repetition('print("=" * 80)') == 'print("=" * 80)'


# ---- removeDuplicatedBlockClosingLine -----------------------------------------------------------------------


def test_a_closing_line_the_suffix_already_has_is_removed() -> None:  # tabby
    assert remove_duplicated_block_closing_line('console.log("hello");\n}', "  ", "\n}\n") == 'console.log("hello");'
    text = 'throw new Error("check not passed");\n  }'
    suffix = "\n  } else {\n    return;\n  }\n}\n"
    assert remove_duplicated_block_closing_line(text, "    ", suffix) == 'throw new Error("check not passed");'


def test_a_closing_line_the_suffix_needs_is_kept() -> None:  # tabby
    text = 'throw new Error("check not passed");\n  }'
    assert remove_duplicated_block_closing_line(text, "    ", "\n}\n") == text


# ---- dropDuplicated (the suffix) and its mirror (the prefix) ------------------------------------------------


def test_a_completion_that_repeats_the_suffix_is_dropped() -> None:  # tabby
    assert duplicates_suffix("return a + b;", "return a + b\n};\n")  # the rest of the line
    assert duplicates_suffix("}", "\n};\n")  # the next line, but for a `;`
    assert finish("return total", "def f(total):\n    ", "\n    return total\n") is None


def test_a_completion_unlike_the_suffix_is_kept() -> None:
    assert not duplicates_suffix("x", ")\n")  # nothing in common, however short
    assert not duplicates_suffix("total = 0", "\n    return total\n")
    assert finish("len(items)", "n = ", "\nprint(n)\n") == "len(items)"


def test_a_completion_that_only_repeats_the_line_above_is_dropped() -> None:
    prefix = "class Cart:\n    def add(self, item):\n        self.items.append(item)\n        self."
    assert repeats_prefix("items.append(item)", prefix)
    assert finish("items.append(item)", prefix, "\n") is None


def test_a_completion_that_repeats_a_group_of_lines_above_is_dropped() -> None:
    prefix = "def f():\n    a()\n    b()\n    "
    assert repeats_prefix("a()\n    b()", prefix)
    assert repeats_prefix("a()\n    b()\n    a()\n    b()", prefix)
    assert finish("a()\n    b()\n    a()", prefix, "\n") is None


def test_lines_like_the_ones_above_are_not_copies() -> None:
    braces = "  if (a) {\n    x();\n  }\n  if (b) {\n    y();\n  "
    assert not repeats_prefix("}", braces)  # the same `}` three lines up closed another block
    assert not repeats_prefix("}", "    if (a) {\n      x();\n      }\n    ")  # an outer block: other indentation
    prefix = "class Cart:\n    def add(self, item):\n        self.items.append(item)\n        self."
    assert not repeats_prefix("total += item.price", prefix)
    assert finish(NORMAL, "def f(items):\n    ", "\n") == NORMAL


# ---- finish: every rule, in order ---------------------------------------------------------------------------


def test_the_neovim_report_shows_one_line_or_nothing() -> None:
    """After `self.` the model wrote one line seven times: shown once, or not at all when the line above is it."""
    loop = "items.append(item)\n" + "        self.items.append(item)\n" * 6
    fresh = "class Cart:\n    def add(self, item):\n        self."
    assert finish(loop, fresh, "\n") == "items.append(item)"
    copied = "class Cart:\n    def add(self, item):\n        self.items.append(item)\n        self."
    assert finish(loop, copied, "\n") is None


def test_finish_cuts_a_repeated_block_and_a_runaway_line_end() -> None:
    blocks = "".join(f"def test_{c}():\n    assert run({c!r})\n\n\n" for c in "abcde") + "def test_f("
    assert finish(blocks, "", "") == "def test_a():\n    assert run('a')"
    assert finish("x = 1\nfoo = foo = foo = foo = foo = foo = foo =", "", "") == "x = 1"
    assert finish("foo = foo = foo = foo = foo = foo = foo =", "", "") is None
