"""The quick fix's WorkspaceEdit targets exactly the document it was asked for, and never a path outside the
workspace folders - judged by the real path, so a document reached through a symlink or `..` that leads
outside is offered no fix, and a resolve request naming it (whatever its data says) gets no edit and asks no
model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from .conftest import CLIENTS, Session, start_session

BROKEN = "# case: fix\ndef broken(:\n    return 1\n"


async def _diagnostics(client: LanguageClient, uri: str) -> list[lsp.Diagnostic]:
    report = await client.text_document_diagnostic_async(
        lsp.DocumentDiagnosticParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    assert isinstance(report, lsp.RelatedFullDocumentDiagnosticReport)
    return list(report.items)


def _action(uri: str) -> lsp.CodeAction:
    """A resolve request as a client could make it up, for `uri`."""
    return lsp.CodeAction(
        title="Fix syntax error with Kimi",
        kind=lsp.CodeActionKind.QuickFix,
        data={"uri": uri, "version": 1, "first": 1, "last": 1},
    )


@pytest.mark.parametrize("client_name", CLIENTS)
async def test_the_edit_targets_only_the_document_asked_for(tmp_path: Path, client_name: str) -> None:
    client, session = await start_session(tmp_path, client_name)
    try:
        uri = session.open("fix.py", BROKEN)
        other = session.open("other.py", BROKEN)
        diagnostics = await _pull_or_pushed(session, uri)
        actions = await client.text_document_code_action_async(
            lsp.CodeActionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                range=diagnostics[0].range,
                context=lsp.CodeActionContext(diagnostics=diagnostics, only=[lsp.CodeActionKind.QuickFix]),
            )
        )
        assert actions is not None and len(actions) == 1 and isinstance(actions[0], lsp.CodeAction)
        resolved = await client.code_action_resolve_async(actions[0])
        assert resolved.edit is not None and resolved.edit.document_changes is None
        assert list(resolved.edit.changes or {}) == [uri]  # one document: this one
        assert other != uri
    finally:
        await client.shutdown_session()
        await client.stop()


async def _pull_or_pushed(session: Session, uri: str) -> list[lsp.Diagnostic]:
    for _ in range(200):
        found = (
            await _diagnostics(session.client, uri)
            if session.pulls_diagnostics
            else list(session.client.diagnostics.get(uri, []))
        )
        if found:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError("no diagnostics")


@pytest.mark.parametrize("route", ["symlink", "dot-dot"])
async def test_a_document_outside_the_workspace_gets_no_fix(tmp_path: Path, route: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.py").write_text(BROKEN)
    client, session = await start_session(tmp_path, "neovim")
    try:
        if route == "symlink":
            (session.root / "linked").symlink_to(outside, target_is_directory=True)
            uri = (session.root / "linked" / "victim.py").as_uri()
        else:
            uri = session.root.as_uri() + "/../outside/victim.py"
        client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=BROKEN))
        )
        diagnostics = await _diagnostics(client, uri)
        assert diagnostics  # the document is served: diagnostics, completion...
        actions = await client.text_document_code_action_async(
            lsp.CodeActionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                range=diagnostics[0].range,
                context=lsp.CodeActionContext(diagnostics=diagnostics),
            )
        )
        assert not actions  # ...but no fix is offered for it
        resolved = await client.code_action_resolve_async(_action(uri))
        assert resolved.edit is None
        assert [r for r in session.records("request") if "broken" in r["prompt"]] == []
        inside = session.open("inside.py", BROKEN)  # the same document inside the workspace is fixed
        fixed = await client.code_action_resolve_async(_action(inside))
        assert fixed.edit is not None and list(fixed.edit.changes or {}) == [inside]
    finally:
        await client.shutdown_session()
        await client.stop()
