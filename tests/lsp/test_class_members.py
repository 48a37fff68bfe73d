"""Completion after `self.` / `this.` / `cls.`, end to end: the members of the class around the cursor and of its
bases, found through the index in other (closed) files, never the method being typed nor the file's other
symbols; and what the index offers elsewhere is no longer every symbol of the file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as lsp

from .conftest import CLIENTS, Session, start_session

FILES = {
    "shop/__init__.py": "",
    "shop/base.py": (
        "class Model:\n"
        '    """A stored thing."""\n'
        "\n"
        '    table = "models"\n'
        "\n"
        "    def __init__(self, key):\n"
        "        self.key = key\n"
        "        self._dirty, self.version = False, 0\n"
        "\n"
        "    def save(self):\n"
        "        self.version += 1\n"
        "\n"
        "    def delete(self):\n"
        "        pass\n"
    ),
    "shop/cart.py": (
        "from shop.base import Model\n"
        "\n"
        "\n"
        "def checkout(cart):\n"
        "    return cart\n"
        "\n"
        "\n"
        "class Cart(Model):\n"
        "    def __init__(self):\n"
        '        super().__init__("cart")\n'
        "        self.items = []\n"
        "\n"
        "    def add(self, item):\n"
        "        self.\n"
        "\n"
        "    def total(self):\n"
        "        return 0\n"
        "\n"
        "    @classmethod\n"
        "    def empty(cls):\n"
        "        return cls.\n"
    ),
    "web/base.ts": (
        "export class Widget<T> {\n"
        "  visible = true;\n"
        "  constructor() {\n"
        "    this.parent = null;\n"
        "  }\n"
        "  render(): string {\n"
        '    return "";\n'
        "  }\n"
        "}\n"
    ),
    "web/button.ts": (
        "import { Widget } from './base';\n"
        "\n"
        "export function label(): string {\n"
        '  return "";\n'
        "}\n"
        "\n"
        "export class Button extends Widget<number> {\n"
        "  clicks = 0;\n"
        "  click(): void {\n"
        "    this.\n"
        "  }\n"
        "}\n"
    ),
}
MODEL = {"table", "save", "delete", "key", "_dirty", "version", "__init__"}


async def _started(tmp_path: Path, client_name: str) -> tuple[Session, str, str]:
    client, session = await start_session(tmp_path, client_name, files=FILES)
    for _ in range(250):  # the first index runs in the background
        if await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="Widget")):
            break
        await asyncio.sleep(0.02)
    cart = session.open("shop/cart.py", FILES["shop/cart.py"])  # base.py stays closed: the index answers for it
    button = session.open("web/button.ts", FILES["web/button.ts"], language_id="typescript")
    return session, cart, button


@pytest_asyncio.fixture(params=CLIENTS)
async def shop(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Session, str, str]]:
    session, cart, button = await _started(tmp_path, request.param)
    yield session, cart, button
    await session.client.shutdown_session()
    await session.client.stop()


async def _complete(session: Session, uri: str, line: int, character: int) -> list[lsp.CompletionItem]:
    result = await session.client.text_document_completion_async(
        lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=line, character=character)
        )
    )
    assert isinstance(result, lsp.CompletionList)
    return list(result.items)


async def test_self_lists_the_class_and_its_base_from_another_file(shop: tuple[Session, str, str]) -> None:
    session, cart, _ = shop
    items = await _complete(session, cart, 13, 13)  # "        self." in Cart.add
    labels = [item.label for item in items]
    assert set(labels) == {"total", "empty", "items"} | MODEL  # not `add` (being typed), not `checkout`, `Cart`
    assert len(labels) == len(set(labels))  # Cart.__init__ hides Model.__init__
    owners = {item.label: item.label_details.description for item in items if item.label_details}
    assert owners["total"] == owners["items"] == owners["__init__"] == "Cart"
    assert owners["save"] == owners["version"] == "Model"
    assert labels.index("total") < labels.index("save")  # and the class's own members sort first
    assert min((item.sort_text or "", item.label) for item in items)[1] in {"total", "empty", "items"}
    # outside a class, `self.` lists nothing from the file (it used to list every symbol)
    uri = session.open("shop/script.py", "def helper():\n    pass\n\n\ndef run(self):\n    self.\n")
    assert await _complete(session, uri, 5, 9) == []
    # nor after the dot of an object the index does not know; and a name being defined is not offered for itself
    uri = session.open("shop/other.py", "limit = 1\nrequest.\ntotal_count = tot\n")
    assert await _complete(session, uri, 1, 8) == []
    assert [item.label for item in await _complete(session, uri, 2, 17)] == ["limit"]


async def test_a_partial_member_filters_and_cls_works_the_same(shop: tuple[Session, str, str]) -> None:
    session, cart, _ = shop
    session.client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=cart, version=2),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(start=lsp.Position(line=13, character=13), end=lsp.Position(line=13, character=13)),
                    text="sa",
                )
            ],
        )
    )
    assert [item.label for item in await _complete(session, cart, 13, 15)] == ["save"]
    labels = {item.label for item in await _complete(session, cart, 20, 19)}  # "        return cls." in empty
    assert labels == {"add", "total", "items"} | MODEL


@pytest.mark.parametrize("client_name", ["neovim"])
async def test_this_lists_the_typescript_class_and_its_base(tmp_path: Path, client_name: str) -> None:
    session, _, button = await _started(tmp_path, client_name)
    try:
        items = await _complete(session, button, 9, 9)  # "    this." in Button.click
        assert {item.label for item in items} == {"clicks", "visible", "render", "parent"}  # no constructor
    finally:
        await session.client.shutdown_session()
        await session.client.stop()
