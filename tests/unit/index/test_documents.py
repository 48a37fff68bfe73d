"""Open documents: incremental reparse from LSP content changes gives the same tree as a full parse."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_lsp.index.documents import ContentChange, OpenDocuments, Pos, Range
from kimi_lsp.index.extract import parse
from kimi_lsp.index.languages import spec_named

URI = "file:///tmp/doc.py"
TEXT = 'def f(x):\n    return x  # é ✓\n\n\nclass A:\n    def g(self):\n        return "𝄞"\n'


def full_tree_sexp(text: str) -> str:
    spec = spec_named("python")
    assert spec is not None
    return str(parse(spec, text.encode()).root_node)


def offset_of(text: str, line: int, character: int) -> int:
    """Index into `text` of an LSP (line, UTF-16 character) position."""
    start = sum(len(row) + 1 for row in text.split("\n")[:line])
    units = 0
    for i, ch in enumerate(text[start:]):
        if units >= character or ch == "\n":
            return start + i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


def apply(text: str, change: ContentChange) -> str:
    assert change.range is not None
    a = offset_of(text, change.range.start.line, change.range.start.character)
    b = offset_of(text, change.range.end.line, change.range.end.character)
    return text[:a] + change.text + text[b:]


def test_incremental_edits_match_a_full_parse() -> None:
    docs = OpenDocuments()
    docs.open(URI, TEXT, 1)
    text = TEXT
    changes = [
        ContentChange("y", Range(Pos(0, 6), Pos(0, 7))),  # rename the parameter
        ContentChange("\n    z = 1", Range(Pos(1, 12), Pos(1, 12))),  # insert a line after 'return x'
        ContentChange("B", Range(Pos(5, 6), Pos(5, 7))),
        ContentChange("", Range(Pos(7, 16), Pos(7, 18))),  # delete the astral character (2 UTF-16 units)
    ]
    for change in changes:
        text = apply(text, change)
    docs.change(URI, text, changes, 2)
    tree = docs.tree(URI)
    assert tree is not None and str(tree.root_node) == full_tree_sexp(text)
    assert docs.full_reparses == 0
    assert docs.full_reparses == 0
    outline = docs.outline(URI)
    assert outline is not None and [d.name for d in outline.definitions] == ["f", "B", "g"]


def test_disagreeing_text_falls_back_to_a_full_parse() -> None:
    docs = OpenDocuments()
    docs.open(URI, TEXT, 1)
    wrong = [ContentChange("zzz", Range(Pos(0, 0), Pos(0, 0)))]
    docs.change(URI, "def other(): pass\n", wrong, 2)
    assert docs.full_reparses == 1
    tree = docs.tree(URI)
    assert tree is not None and str(tree.root_node) == full_tree_sexp("def other(): pass\n")


def test_whole_document_change_and_close() -> None:
    docs = OpenDocuments()
    docs.open(URI, TEXT, 1)
    docs.change(URI, "x = 1\n", [ContentChange("x = 1\n")], 2)
    outline = docs.outline(URI)
    assert outline is not None and [d.name for d in outline.definitions] == ["x"]
    docs.close(URI)
    assert docs.tree(URI) is None and URI not in docs


def test_unknown_language_is_not_tracked() -> None:
    assert OpenDocuments().open("file:///tmp/readme.md", "# hi") is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 400), st.integers(0, 12), st.text("ab(): \n\té𝄞\"'#", max_size=6)),
        min_size=1,
        max_size=6,
    )
)
def test_random_edits_match_a_full_parse(edits: list[tuple[int, int, str]]) -> None:
    docs = OpenDocuments()
    docs.open(URI, TEXT, 1)
    text, changes = TEXT, []
    for start, length, insert in edits:
        a = min(start, len(text))
        b = min(a + length, len(text))
        line = text.count("\n", 0, a)
        col_a = len(text[text.rfind("\n", 0, a) + 1 : a].encode("utf-16-le")) // 2
        line_b = text.count("\n", 0, b)
        col_b = len(text[text.rfind("\n", 0, b) + 1 : b].encode("utf-16-le")) // 2
        change = ContentChange(insert, Range(Pos(line, col_a), Pos(line_b, col_b)))
        changes.append(change)
        text = text[:a] + insert + text[b:]
    docs.change(URI, text, changes, 2)
    tree = docs.tree(URI)
    assert tree is not None and str(tree.root_node) == full_tree_sexp(text)
    assert docs.full_reparses == 0


def test_lsprotocol_change_events_and_position_encodings() -> None:
    from lsprotocol import types as lsp

    for encoding, col in (("utf-16", 18), ("utf-8", 19), ("utf-32", 18)):  # after "# é " on line 1
        docs = OpenDocuments()
        docs.open(URI, TEXT, 1)
        rng = lsp.Range(start=lsp.Position(line=1, character=col), end=lsp.Position(line=1, character=col))
        new_text = TEXT.replace("# é ✓", "# é Z✓")
        docs.change(URI, new_text, [lsp.TextDocumentContentChangePartial(range=rng, text="Z")], 2, encoding)
        tree = docs.tree(URI)
        doc = docs.get(URI)
        assert tree is not None and doc is not None and str(tree.root_node) == full_tree_sexp(new_text)
        assert doc.source == new_text.encode() and docs.full_reparses == 0
    docs.change(URI, "y = 2\n", [lsp.TextDocumentContentChangeWholeDocument(text="y = 2\n")], 3)
    outline = docs.outline(URI)
    assert outline is not None and [d.name for d in outline.definitions] == ["y"]
