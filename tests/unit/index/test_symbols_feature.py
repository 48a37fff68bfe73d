"""The documentSymbol / workspace symbol / member-completion converters and handler bodies."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types as lsp

from kimi_lsp.convert import document_symbol_tree, recoder, workspace_symbol
from kimi_lsp.features.completion import member_access, member_completions
from kimi_lsp.features.symbols import document_symbol, workspace_symbols
from kimi_lsp.index.model import Definition, Span, SymbolLocation
from kimi_lsp.index.workspace import IndexSettings, WorkspaceIndex

S = Span(0, 0, 3, 0)


def test_document_symbols_nest_under_their_parent() -> None:
    defs = [
        Definition("A", "class", S, Span(0, 6, 0, 7), "class A", "", -1),
        Definition("m", "method", S, Span(1, 8, 1, 9), "def m(self)", "doc", 0),
        Definition("f", "function", S, Span(4, 4, 4, 5), "def f()", "", -1),
    ]
    tree = document_symbol_tree(defs)
    assert [s.name for s in tree] == ["A", "f"]
    assert tree[0].kind == lsp.SymbolKind.Class and tree[0].children is not None
    assert [c.name for c in tree[0].children] == ["m"] and tree[0].children[0].kind == lsp.SymbolKind.Method
    assert tree[0].selection_range.start.character == 6


def test_workspace_symbol_location() -> None:
    symbol = workspace_symbol(SymbolLocation("run", "method", "/w/a.py", 3, 8))
    assert symbol.location.uri == "file:///w/a.py"  # type: ignore[union-attr]
    assert symbol.location.range.end.character == 11  # type: ignore[union-attr]


def test_member_access() -> None:
    assert member_access("x = os.pa") == ("os", "pa")
    assert member_access("pkg.core.") == ("pkg.core", "")
    assert member_access("use crate::util::") == ("crate::util", "")
    assert member_access("x = 1 + y") is None


def test_recoder_converts_utf16_columns_on_non_ascii_lines() -> None:
    source = 'x = 1\ns = "😀é"; name = 2\n'.encode()
    col16 = len('s = "😀é"; '.encode("utf-16-le")) // 2  # 10: the emoji is two UTF-16 units
    assert recoder(source, "utf-8")(1, col16) == len('s = "😀é"; '.encode())  # 13 bytes
    assert recoder(source, "utf-32")(1, col16) == len('s = "😀é"; ')  # 9 code points
    assert recoder(source, "utf-16")(1, col16) == col16
    assert recoder(source, "utf-8")(0, 4) == 4  # ASCII line
    assert recoder(source, "utf-8")(7, 3) == 3  # no such line: unchanged


class Server:
    def __init__(self, index: WorkspaceIndex | None, encoding: str = "utf-16") -> None:
        self.index = index
        self.encoding = encoding


async def test_handlers_read_the_index(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "tools.py").write_text("class Hammer:\n    def hit(self): pass\n\ndef nail(): pass\n")
    (tmp_path / "main.py").write_text("from pkg import tools\ntools.\n")
    index = WorkspaceIndex([tmp_path], IndexSettings(cache_path=":memory:", workers=0))
    await index.start()
    server = Server(index)
    uri = (tmp_path / "pkg" / "tools.py").as_uri()
    symbols = await document_symbol(server, lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri)))
    assert symbols is not None and [s.name for s in symbols] == ["Hammer", "nail"]
    found = await workspace_symbols(server, lsp.WorkspaceSymbolParams(query="ham"))
    assert found is not None and [s.name for s in found] == ["Hammer"]
    items = member_completions(index, (tmp_path / "main.py").as_uri(), "tools.")
    assert sorted(i.label for i in items) == ["Hammer", "nail"]
    assert [i.label for i in member_completions(index, "", "pkg.tools.na")] == ["nail"]
    assert (
        await document_symbol(Server(None), lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri)))
        is None
    )
    await index.close()


async def test_positions_follow_the_client_encoding(tmp_path: Path) -> None:
    line = 'ok = "😀é"; def_name = 2'
    (tmp_path / "u.py").write_text(f"{line}\n", encoding="utf-8")
    index = WorkspaceIndex([tmp_path], IndexSettings(cache_path=":memory:", workers=0))
    await index.start()
    uri = (tmp_path / "u.py").as_uri()
    params = lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri))
    start = line.index("def_name")
    for encoding, want in (
        ("utf-16", len(line[:start].encode("utf-16-le")) // 2),
        ("utf-8", len(line[:start].encode())),
        ("utf-32", start),
    ):
        server = Server(index, encoding)
        symbols = await document_symbol(server, params)
        assert symbols is not None
        (name,) = [s for s in symbols if s.name == "def_name"]
        assert name.selection_range.start.character == want, encoding
        assert name.selection_range.end.character == want + len("def_name"), encoding
        found = await workspace_symbols(server, lsp.WorkspaceSymbolParams(query="def_name"))
        assert found is not None and found[0].location.range.start.character == want, encoding  # type: ignore[union-attr]
    await index.close()
