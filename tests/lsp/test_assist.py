"""Generate unit tests, Explain this code and Rewrite selection, end to end over stdio with the scripted engine:
the exact edits and messages, work-done progress for a slow resolve, and its cancellation."""

from __future__ import annotations

import ast
import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcRequestCancelled

from .conftest import CLIENTS, Session, start_session

SOURCE = "def total(items):\n    s = 0\n    for i in items:\n        s += i\n    return s\n"
SCRIPT: list[dict[str, Any]] = [
    {
        "contains": "Unit tests for `total` with pytest, in tests/unit/test_calc.py:\nfrom pkg.calc import total\n",
        "text": "sums():\n    assert total([1, 2]) == 3\n```\nprose after the fence\n",
    },
    {
        "contains": "Unit tests for `total` with unittest, in tests/test_calc.py:\n",
        "text": "sums(self):\n        self.assertEqual(total([1, 2]), 3)\n",
    },
    {"contains": "Unit tests for `slow`", "text": "x():\n" + "    assert 1\n" * 40, "delay_ms": 100},
    {"contains": "# Explanation of lines 3-4 above", "text": " Adds each item to s.\n# The sum is returned.\n"},
    {
        "contains": "# Lines 3-4 above rewritten (use the sum builtin), the new lines only:\n",
        "text": "```python\n    s = sum(items)\n```\n",
    },
    {"contains": "rewritten (slowly)", "text": "    s = sum(items)\n", "delay_ms": 100},
]
FILES = {
    "pkg/__init__.py": "",
    "pkg/calc.py": SOURCE,
    "tests/unit/test_old.py": "import pytest\n\n\ndef test_old():\n    assert True\n",
    "tests/unit/test_older.py": "def test_older():\n    assert True\n",
    "vendor/calc.py": SOURCE,
}


async def _start(tmp_path: Path, client_name: str, files: dict[str, str] | None = None) -> Session:
    script = tmp_path / "assist-engine.json"
    record = tmp_path / "engine-record.jsonl"
    script.write_text(json.dumps({"responses": SCRIPT, "default": "", "record": str(record), "chunk_chars": 16}))
    client, session = await start_session(
        tmp_path,
        client_name,
        init_options={"exclude": ["vendor/"], "review": {"enabled": False}},
        engine=f"scripted:{script}",
        files=FILES if files is None else files,
    )
    applied: list[lsp.WorkspaceEdit] = []
    session.applied = applied  # type: ignore[attr-defined]

    @client.feature(lsp.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
        applied.append(params.edit)
        return lsp.ApplyWorkspaceEditResult(applied=True)

    return session


@pytest_asyncio.fixture(params=CLIENTS)
async def session(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Session]:
    session = await _start(tmp_path, request.param)
    yield session
    await session.client.shutdown_session()
    await session.client.stop()


def _pos(line: int, character: int) -> lsp.Position:
    return lsp.Position(line=line, character=character)


def _range(first: int, last: int) -> lsp.Range:
    return lsp.Range(start=_pos(first, 0), end=_pos(last, 0))


async def _actions(session: Session, uri: str, selection: lsp.Range) -> dict[str, lsp.CodeAction]:
    actions = await session.client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=selection,
            context=lsp.CodeActionContext(diagnostics=[]),
        )
    )
    return {action.title: action for action in actions or () if isinstance(action, lsp.CodeAction)}


async def _indexed(session: Session, uri: str) -> dict[str, lsp.CodeAction]:
    """The actions at the first function's second line, once the index holds the workspace's files."""
    files = len(list(session.root.rglob("*.py")))
    for _ in range(250):
        done = await session.client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.reindex"))
        if done["files"] >= files:
            break
        await asyncio.sleep(0.02)
    return await _actions(session, uri, lsp.Range(start=_pos(1, 4), end=_pos(1, 4)))


async def test_generate_unit_tests_creates_the_test_file_where_the_project_keeps_them(session: Session) -> None:
    uri = session.open("pkg/calc.py", SOURCE)
    actions = await _indexed(session, uri)
    action = actions["Generate unit tests with Kimi"]
    assert action.kind == lsp.CodeActionKind.Refactor and action.edit is None
    assert session.records("request") == []  # listing asks no model
    resolved = await session.client.code_action_resolve_async(action)
    test_uri = (session.root / "tests/unit/test_calc.py").as_uri()  # beside the project's tests, named as they are
    assert resolved.edit is not None and resolved.edit.changes is None
    assert list(resolved.edit.document_changes or ()) == [
        lsp.CreateFile(uri=test_uri, options=lsp.CreateFileOptions(ignore_if_exists=True)),
        lsp.TextDocumentEdit(
            text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=test_uri, version=None),
            edits=(
                lsp.TextEdit(
                    range=lsp.Range(start=_pos(0, 0), end=_pos(0, 0)),
                    new_text="from pkg.calc import total\n\n\ndef test_sums():\n    assert total([1, 2]) == 3\n",
                ),
            ),
        ),
    ]
    (request,) = session.records("request")
    assert request["prompt"].startswith("<|file_sep|>pkg/calc.py\n" + SOURCE.rstrip("\n"))


async def test_generate_unit_tests_appends_to_an_existing_unittest_file(tmp_path: Path) -> None:
    existing = (
        "import unittest\r\n\r\nfrom pkg.calc import total\r\n\r\n\r\nclass TestOld(unittest.TestCase):\r\n    pass\r\n"
    )
    files = {"pkg/__init__.py": "", "pkg/calc.py": SOURCE, "tests/test_calc.py": existing}
    session = await _start(tmp_path, "neovim", files)
    try:
        uri = session.open("pkg/calc.py", SOURCE)
        resolved = await session.client.code_action_resolve_async(
            (await _indexed(session, uri))["Generate unit tests with Kimi"]
        )
        test_uri = (session.root / "tests/test_calc.py").as_uri()
        assert resolved.edit is not None
        assert list(resolved.edit.document_changes or ()) == [
            lsp.TextDocumentEdit(
                text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=test_uri, version=None),
                edits=(
                    lsp.TextEdit(  # at the end, in its line endings, without the imports it has
                        range=lsp.Range(start=_pos(7, 0), end=_pos(7, 0)),
                        new_text="\r\n\r\nclass TestTotal(unittest.TestCase):\r\n    def test_sums(self):\r\n"
                        "        self.assertEqual(total([1, 2]), 3)\r\n",
                    ),
                ),
            )
        ]
    finally:
        await session.client.shutdown_session()
        await session.client.stop()


async def _wait_for(session: Session, event: str) -> list[dict[str, Any]]:
    for _ in range(250):
        rows = session.records(event)
        if rows:
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError(f"engine never saw a {event}: {session.records()}")


async def test_a_slow_resolve_shows_progress_and_is_cancelled_with_its_engine_request(tmp_path: Path) -> None:
    session = await _start(tmp_path, "visual-studio-code", {"slow.py": "def slow():\n    return 1\n"})
    try:
        uri = session.open("slow.py", "def slow():\n    return 1\n")
        action = (await _indexed(session, uri))["Generate unit tests with Kimi"]
        pending = asyncio.ensure_future(
            session.client.protocol.send_request_async(lsp.CODE_ACTION_RESOLVE, action, msg_id=777)
        )
        (request,) = await _wait_for(session, "request")
        title = "Kimi: Generate unit tests with Kimi"
        for _ in range(250):
            ours = [
                token
                for token, reports in session.client.progress_reports.items()
                if any(isinstance(r, lsp.WorkDoneProgressBegin) and r.title == title for r in reports)
            ]
            if ours:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError(f"no progress: {session.client.progress_reports}")
        session.client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=777))
        with pytest.raises(JsonRpcRequestCancelled):
            await pending
        (abort,) = await _wait_for(session, "abort")
        assert abort["rid"] == request["rid"]
        for _ in range(250):
            if isinstance(session.client.progress_reports[ours[0]][-1], lsp.WorkDoneProgressEnd):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the progress never ended")
    finally:
        await session.client.shutdown_session()
        await session.client.stop()


async def _command(session: Session, command: str, *arguments: Any) -> Any:
    return await session.client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command=command, arguments=list(arguments))
    )


def _json(selection: lsp.Range) -> dict[str, Any]:
    return {
        "start": {"line": selection.start.line, "character": selection.start.character},
        "end": {"line": selection.end.line, "character": selection.end.character},
    }


async def test_explain_shows_the_explanation(session: Session) -> None:
    uri = session.open("pkg/calc.py", SOURCE)
    selection = lsp.Range(start=_pos(2, 4), end=_pos(4, 0))  # lines 3-4, up to the start of line 5
    actions = await session.client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=selection,
            context=lsp.CodeActionContext(diagnostics=[]),
        )
    )
    # lsprotocol reads any code action with a `command` member as a Command, its command object as a string
    (listed,) = [a for a in actions or () if a.title == "Explain this code with Kimi"]
    assert isinstance(listed, lsp.Command)
    command = ast.literal_eval(listed.command)
    assert command == {
        "title": "Explain this code with Kimi",
        "command": "kimi.explain",
        "arguments": [uri, _json(selection)],
    }
    said = await _command(session, "kimi.explain", *command["arguments"])
    assert said == "Adds each item to s. The sum is returned."
    shown = [m.message for m in session.client.messages if m.type == lsp.MessageType.Info]
    assert shown == ["Kimi: lines 3-4: Adds each item to s. The sum is returned."]

    vendored = session.open("vendor/calc.py", SOURCE)  # excluded: no request, and the user is told
    assert await _command(session, "kimi.explain", vendored, _json(selection)) is None
    assert len(session.records("request")) == 1
    assert "no explanation" in session.client.messages[-1].message


async def test_rewrite_applies_the_new_lines_over_crlf(session: Session) -> None:
    uri = session.open("pkg/calc.py", SOURCE.replace("\n", "\r\n"))
    selection = lsp.Range(start=_pos(2, 4), end=_pos(3, 14))  # lines 3-4, taken whole
    result = await _command(session, "kimi.rewrite", uri, _json(selection), "use the sum builtin")
    assert result == {"applied": True}
    edit = lsp.TextEdit(range=_range(2, 4), new_text="    s = sum(items)\r\n")
    expected = lsp.WorkspaceEdit(
        document_changes=(
            lsp.TextDocumentEdit(
                text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=uri, version=1), edits=(edit,)
            ),
        )
    )
    assert session.applied == [expected]  # type: ignore[attr-defined]


async def test_rewrite_is_refused_when_the_document_moves_on(tmp_path: Path) -> None:
    session = await _start(tmp_path, "neovim")
    try:
        uri = session.open("pkg/calc.py", SOURCE)
        pending = asyncio.ensure_future(_command(session, "kimi.rewrite", uri, _json(_range(2, 4)), "slowly"))
        await _wait_for(session, "request")
        session.client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[lsp.TextDocumentContentChangeWholeDocument(text="# moved on\n" + SOURCE)],
            )
        )
        assert await pending == {"applied": False}
        assert session.applied == []  # type: ignore[attr-defined]
        assert "changed while the model wrote" in session.client.messages[-1].message
        outside = tmp_path / "outside.py"
        outside.write_text(SOURCE)
        other = session.open("../outside.py", SOURCE)
        assert await _command(session, "kimi.rewrite", other, _json(_range(2, 4)), "x") == {"applied": False}
        assert "outside the workspace folders" in session.client.messages[-1].message
        assert len(session.records("request")) == 1
    finally:
        await session.client.shutdown_session()
        await session.client.stop()
