"""A document opened while the first index runs (editors open one right after initialize) has its symbols in
workspace/symbol once the index reaches its file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types as lsp

from .conftest import start_session

SAMPLE = "def add(a, b):\n    return a + b\n\n\ndef greet(name):\n    return name\n\n\ndef broken(x:\n"


async def test_a_document_opened_during_the_first_index_is_in_workspace_symbols(tmp_path: Path) -> None:
    files = {"main.py": SAMPLE, **{f"pkg/m{i}.py": f"def f{i}():\n    pass\n" for i in range(300)}}
    client, session = await start_session(tmp_path, "neovim", files=files)
    try:
        session.open("main.py", SAMPLE)  # before the walk has reached main.py
        found: list[lsp.WorkspaceSymbol] | list[lsp.SymbolInformation] | None = []
        for _ in range(300):
            found = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="greet"))
            if found:
                break
            await asyncio.sleep(0.1)
        assert found and found[0].name == "greet"
    finally:
        await client.shutdown_session()
        await client.stop()
