"""typed_through.py (when a prediction serves a later snapshot) and the debounce rule, as pure functions."""

from __future__ import annotations

from kimi_lsp.model.generation import adaptive_debounce
from kimi_lsp.snapshot import DocumentSnapshot
from kimi_lsp.typed_through import anchor, may_serve, rest, typed

URI = "file:///w/a.py"


def _at(text: str, version: int = 1, uri: str = URI) -> DocumentSnapshot:
    """`text` with the cursor at "|"."""
    return DocumentSnapshot(uri, "python", version, text.replace("|", ""), text.index("|"))


def test_what_was_typed_is_counted_from_the_stem_the_model_continued() -> None:
    asked = anchor(_at("def f():\n    |\nx = 1\n"), tail="\n    ")  # healed: the model writes "\n    " first
    assert asked.stem == "def f():" and asked.after == "\nx = 1\n"
    assert typed(asked, _at("def f():\n    |\nx = 1\n", version=2)) == "\n    "
    assert typed(asked, _at("def f():\n    ret|\nx = 1\n", version=5)) == "\n    ret"
    assert typed(asked, _at("def f():\n  |\nx = 1\n")) == "\n  "  # deleted back into the tail: still from the stem


def test_a_document_changed_elsewhere_or_a_moved_cursor_is_not_typed_through() -> None:
    asked = anchor(_at("def f():\n    |\nx = 1\n"), tail="\n    ")
    assert typed(asked, _at("def g():\n    r|\nx = 1\n")) is None  # before the cursor
    assert typed(asked, _at("def f():\n    r|\nx = 2\n")) is None  # after it
    assert typed(asked, _at("def f():\n    r|e\nx = 1\n")) is None  # the cursor is not after the insertion
    assert typed(asked, _at("def f():|\n    \nx = 1\n")) is None  # before the stem's end
    assert typed(asked, _at("def f():\n    r|\nx = 1\n", uri="file:///w/b.py")) is None


def test_crlf_documents_count_line_breaks_as_the_model_writes_them() -> None:
    asked = anchor(_at("def f():\r\n    |\r\n"), tail="\n    ")
    assert asked.stem == "def f():"
    assert typed(asked, _at("def f():\r\n    x = 1\r\n    |\r\n")) == "\n    x = 1\n    "


def test_the_rest_of_a_prediction() -> None:
    assert rest("\n    return a + b", "\n    ret") == "urn a + b"
    assert rest("\n    return a + b", "\n    x") is None
    assert rest("\n    return", "\n    return") == ""  # used up: nothing left to suggest
    assert may_serve("\n    re", "\n    return")  # still streaming: may get there
    assert may_serve("\n    return a", "\n    ret")
    assert not may_serve("\n    x", "\n    ret")


def test_the_debounce_follows_the_engines_latency_under_the_setting() -> None:
    assert adaptive_debounce(0.02, []) == 0.02  # nothing measured: the setting
    assert adaptive_debounce(0.02, [4.0, 4.0, 8.0]) == 0.001  # a quarter of the median (4 ms)
    assert adaptive_debounce(0.02, [400.0, 500.0]) == 0.02  # a slow engine: the setting is the ceiling
    assert adaptive_debounce(0.0, [400.0]) == 0.0
