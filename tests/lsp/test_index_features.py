"""Features backed by the workspace index, end to end: symbols, member completion, cross-file context in the
prompt, secrets kept from the model, changes on disk picked up, progress, settings and workspace folders."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as lsp

from .conftest import CLIENTS, Session, start_session

FILES = {
    "shop/__init__.py": "",
    "shop/money.py": 'class Money:\n    """Cents, never floats."""\n\n    def times(self, n: int) -> "Money":\n'
    "        return Money()\n\n\ndef parse_price(text: str) -> Money:\n    return Money()\n",
    "shop/cart.py": "from shop import money\nfrom shop.money import Money\n\n\ndef total(lines):\n    # case: add\n    \n",
    ".env": "API_TOKEN=do-not-send\n",
}


@pytest_asyncio.fixture(params=CLIENTS)
async def indexed(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Session]:
    client, session = await start_session(tmp_path, request.param, files=FILES)
    for _ in range(250):  # wait for the first index (it runs in the background)
        symbols = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="parse_price"))
        if symbols:
            break
        await asyncio.sleep(0.02)
    yield session
    await client.shutdown_session()
    await client.stop()


def _open_file(session: Session, name: str) -> str:
    return session.open(name, (session.root / name).read_text())


async def test_document_symbols_are_the_outline(indexed: Session) -> None:
    uri = _open_file(indexed, "shop/money.py")
    result = await indexed.client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    assert result is not None
    tree = {s.name: [c.name for c in s.children or []] for s in result if isinstance(s, lsp.DocumentSymbol)}
    assert tree == {"Money": ["times"], "parse_price": []}


async def test_workspace_symbols_find_definitions_in_closed_files(indexed: Session) -> None:
    result = await indexed.client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="parse_pr"))
    assert result is not None
    (hit,) = [s for s in result if s.name == "parse_price"]
    assert isinstance(hit.location, lsp.Location) and hit.location.uri.endswith("shop/money.py")
    assert hit.location.range.start.line == 7


async def test_members_of_an_imported_module_complete_after_the_dot(indexed: Session) -> None:
    uri = indexed.open("shop/use.py", "from shop import money\n\nmoney.\n")
    result = await indexed.client.text_document_completion_async(
        lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=2, character=6)
        )
    )
    assert result is not None
    assert {"Money", "parse_price"} <= {item.label for item in result.items}
    assert "times" not in {item.label for item in result.items}  # a method is not a module member


async def test_the_prompt_carries_used_definitions_then_outlines_of_imported_files(indexed: Session) -> None:
    uri = _open_file(indexed, "shop/cart.py")
    result = await indexed.client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=lsp.Position(line=6, character=4),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
        )
    )
    assert isinstance(result, lsp.InlineCompletionList)
    (request,) = indexed.records("request")
    head, _, this_file = request["prompt"].partition("<|file_sep|>shop/cart.py\n")
    used = (
        '<|file_sep|>shop/money.py\nclass Money\n    # Cents, never floats.\n    def times(self, n: int) -> "Money"\n'
    )
    repo_map = "<|file_sep|>shop/money.py\nclass Money\ndef parse_price(text: str) -> Money\n"
    assert head == used + repo_map  # cart.py uses Money, not parse_price
    assert this_file.startswith("from shop import money\n")


async def test_secret_files_are_never_sent_and_credentials_are_scrubbed(indexed: Session) -> None:
    (indexed.root / "env_settings.py").symlink_to(indexed.root / ".env")  # a link: its target's name counts
    for name in (".env", "env_settings.py"):
        uri = _open_file(indexed, name)
        assert (
            await indexed.client.text_document_inline_completion_async(
                lsp.InlineCompletionParams(
                    text_document=lsp.TextDocumentIdentifier(uri=uri),
                    position=lsp.Position(line=1, character=0),
                    context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
                )
            )
            is None
        )
    assert indexed.records("request") == []
    key = "AKIA" + "ABCDEFGHIJKLMNOP"
    uri = indexed.open("settings.py", f'AWS_KEY = "{key}"\npassword = "hunter2hunter2"\n# case: add\ndef f():\n    \n')
    await indexed.client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=lsp.Position(line=4, character=4),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
        )
    )
    (request,) = indexed.records("request")
    assert key not in request["prompt"] and "hunter2hunter2" not in request["prompt"]


async def test_a_file_written_outside_the_editor_is_indexed(indexed: Session) -> None:
    (indexed.root / "shop" / "tax.py").write_text("def vat_rate(country):\n    return 0.2\n")
    if indexed.client_name == "visual-studio-code":  # VS Code watches files for the server
        indexed.client.workspace_did_change_watched_files(
            lsp.DidChangeWatchedFilesParams(
                changes=[
                    lsp.FileEvent(uri=(indexed.root / "shop" / "tax.py").as_uri(), type=lsp.FileChangeType.Created)
                ]
            )
        )
    for _ in range(500):
        result = await indexed.client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="vat_rate"))
        if result:
            break
        await asyncio.sleep(0.02)
    assert result and result[0].name == "vat_rate"


async def test_indexing_reports_work_done_progress(indexed: Session) -> None:
    reports = None
    for _ in range(250):  # the end follows the first answers by a moment
        reports = next(
            (
                r
                for r in indexed.client.progress_reports.values()
                if r and isinstance(r[0], lsp.WorkDoneProgressBegin) and r[0].title == "Indexing"
            ),
            None,
        )
        if reports and isinstance(reports[-1], lsp.WorkDoneProgressEnd):
            break
        await asyncio.sleep(0.02)
    assert reports is not None and isinstance(reports[-1], lsp.WorkDoneProgressEnd)
    steps = [r for r in reports if isinstance(r, lsp.WorkDoneProgressReport)]
    assert steps and all(re.fullmatch(r"Indexing [\d,]+/[\d,]+\+?", s.message or "") for s in steps)
    assert steps[-1].message == "Indexing 3/3" and steps[-1].percentage == 100  # .env is never indexed
    assert all(a != b for a, b in itertools.pairwise(steps))  # no step repeats the one before
    percentages = [s.percentage for s in steps if s.percentage is not None]
    assert percentages == sorted(percentages)  # never falls back
    assert all(s.percentage is None for s in steps if (s.message or "").endswith("+"))


@pytest.mark.parametrize("client_name", CLIENTS)
async def test_exclude_globs_sent_during_the_first_index_apply_once_it_is_done(
    tmp_path: Path, client_name: str
) -> None:
    files = {**FILES, **{f"vendor/lib{i}.py": f"def vendored_{i}():\n    pass\n" for i in range(40)}}
    client, _session = await start_session(tmp_path, client_name, files=files)
    settings = {"kimi": {"exclude": ["vendor/"]}}
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings=settings))
    found: list[str] = ["not yet"]
    for _ in range(500):
        ready = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="parse_price"))
        result = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="vendored"))
        found = [s.name for s in result or []]
        if ready and not found:
            break
        await asyncio.sleep(0.02)
    assert found == []
    await client.shutdown_session()
    await client.stop()


async def _symbol_paths(session: Session, query: str) -> list[str]:
    result = await session.client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query=query))
    return [s.location.uri for s in result or [] if isinstance(s.location, lsp.Location)]


async def test_a_folder_added_to_the_workspace_is_indexed_and_a_removed_one_forgotten(
    indexed: Session, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "extra.py").write_text("def from_other_folder():\n    pass\n")
    uri = _open_file(indexed, "shop/money.py")
    folder = lsp.WorkspaceFolder(uri=other.as_uri(), name="other")
    indexed.client.workspace_did_change_workspace_folders(
        lsp.DidChangeWorkspaceFoldersParams(event=lsp.WorkspaceFoldersChangeEvent(added=[folder], removed=[]))
    )
    for _ in range(500):  # a new index for the new set of folders: the old one answers until it has loaded
        assert await _symbol_paths(indexed, "parse_price"), "the kept folder answers all along"
        if await _symbol_paths(indexed, "from_other_folder"):
            break
        await asyncio.sleep(0.02)
    assert await _symbol_paths(indexed, "from_other_folder") == [(other / "extra.py").as_uri()]
    assert await _symbol_paths(indexed, "parse_price")  # the first folder is still there
    symbols = await indexed.client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    assert symbols and {s.name for s in symbols} == {"Money", "parse_price"}  # the open document moved over
    indexed.client.workspace_did_change_workspace_folders(
        lsp.DidChangeWorkspaceFoldersParams(event=lsp.WorkspaceFoldersChangeEvent(added=[], removed=[folder]))
    )
    for _ in range(500):
        assert await _symbol_paths(indexed, "parse_price"), "the kept folder answers all along"
        if not await _symbol_paths(indexed, "from_other_folder"):
            break
        await asyncio.sleep(0.02)
    assert await _symbol_paths(indexed, "from_other_folder") == []
