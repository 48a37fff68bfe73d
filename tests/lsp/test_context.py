"""Cross-file context end to end: the real server, its index and a recording engine, in several languages."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types as lsp

from .conftest import start_session

WORKSPACES = {
    "typescript": (
        {
            "src/money.ts": "export function total(cents: number[]): number {\n  return 0;\n}\n"
            "export class Cart {\n  add(item: string): void {}\n}\n",
            "src/app.ts": "import { total } from './money';\n\nconst sum = total([1, 2]);\nconsole.log(",
        },
        "src/app.ts",
        "typescript",
        "function total(cents: number[]): number",
    ),
    "go": (
        {
            "go.mod": "module example.com/shop\n\ngo 1.22\n",
            "money/money.go": "package money\n\n// Total adds cents.\nfunc Total(cents []int) int {\n\treturn 0\n}\n",
            "main.go": 'package main\n\nimport "example.com/shop/money"\n\nfunc main() {\n\tx := money.Total(nil)\n\t',
        },
        "main.go",
        "go",
        "func Total(cents []int) int",
    ),
    "python re-export": (
        {
            "shop/__init__.py": "from .money import parse_price\n",
            "shop/money.py": 'def parse_price(text: str) -> int:\n    """Cents from "3.50"."""\n    return 0\n',
            "app.py": "from shop import parse_price\n\nprice = parse_price(text)\n",
        },
        "app.py",
        "python",
        "def parse_price(text: str) -> int",
    ),
}


@pytest.mark.parametrize("case", list(WORKSPACES))
async def test_the_definition_a_document_takes_from_another_file_is_in_the_prompt(tmp_path: Path, case: str) -> None:
    files, name, language, definition = WORKSPACES[case]
    client, session = await start_session(tmp_path, "neovim", files=files)
    try:
        for _ in range(250):  # the first index runs in the background
            if await client.workspace_symbol_async(
                lsp.WorkspaceSymbolParams(query=definition.split("(")[0].split()[-1])
            ):
                break
            await asyncio.sleep(0.02)
        text = files[name]
        uri = session.open(name, text, language)
        last = text.split("\n")
        await client.text_document_inline_completion_async(
            lsp.InlineCompletionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                position=lsp.Position(line=len(last) - 1, character=len(last[-1])),
                context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
            )
        )
        (request,) = session.records("request")
        assert definition in request["prompt"]
        assert request["prompt"].rindex(definition) < request["prompt"].rindex(f"<|file_sep|>{name}\n")
    finally:
        await client.shutdown_session()
        await client.stop()
