"""Nothing secret or excluded reaches the engine, on any request path: inline completion, completion and the
quick fix. The scripted engine records every request it receives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as lsp

from .conftest import CLIENTS, Session, start_session

KEY = "AKIA" + "ABCDEFGHIJKLMNOP"
BROKEN = "# case: fix\ndef broken(:\n    return 1\n"  # a syntax error: the quick fix is offered
FILES = {
    ".gitignore": "private/\n",
    ".kimiignore": "pricing.py\n",  # tracked by git, but not for the model
    ".env": "API_TOKEN=do-not-send\ndef broken(:\n",
    "private/algo.py": BROKEN,
    "pricing.py": BROKEN,
    "vendor/lib.py": BROKEN,
    "app.py": f'AWS_KEY = "{KEY}"\npassword = "hunter2hunter2"\n' + BROKEN,
}


@pytest_asyncio.fixture(params=CLIENTS)
async def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Session]:
    client, session = await start_session(tmp_path, request.param, files=FILES, init_options={"exclude": ["vendor/"]})
    (session.root / "env_settings.py").symlink_to(session.root / ".env")  # a link: its target's name counts
    yield session
    await client.shutdown_session()
    await client.stop()


async def _ask_every_path(session: Session, name: str) -> lsp.CodeAction | None:
    """Ask for ghost text, completions and the quick fix of the syntax error in `name`; the resolved fix."""
    uri = session.open(name, (session.root / name).read_text())
    document = lsp.TextDocumentIdentifier(uri=uri)
    end = lsp.Position(line=1, character=0)
    await session.client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=document,
            position=end,
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
        )
    )
    await session.client.text_document_completion_async(lsp.CompletionParams(text_document=document, position=end))
    diagnostics: list[lsp.Diagnostic] = []
    for _ in range(200):
        diagnostics = await _diagnostics(session, uri)
        if diagnostics:
            break
        await asyncio.sleep(0.02)
    assert diagnostics, f"{name}: no syntax error reported"
    actions = await session.client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=document, range=diagnostics[0].range, context=lsp.CodeActionContext(diagnostics=diagnostics)
        )
    )
    assert actions, f"{name}: no quick fix offered"
    action = actions[0]
    assert isinstance(action, lsp.CodeAction)
    return await session.client.code_action_resolve_async(action)


async def _diagnostics(session: Session, uri: str) -> list[lsp.Diagnostic]:
    if session.pulls_diagnostics:
        report = await session.client.text_document_diagnostic_async(
            lsp.DocumentDiagnosticParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
        )
        assert isinstance(report, lsp.RelatedFullDocumentDiagnosticReport)
        return list(report.items)
    return list(session.client.diagnostics.get(uri, []))


@pytest.mark.parametrize("name", ["env_settings.py", "private/algo.py", "pricing.py", "vendor/lib.py"])
async def test_secret_ignored_and_excluded_files_reach_no_request_path(workspace: Session, name: str) -> None:
    resolved = await _ask_every_path(workspace, name)
    assert resolved is not None and resolved.edit is None
    assert workspace.records("request") == []


async def test_the_quick_fix_prompt_is_scrubbed_of_credentials(workspace: Session) -> None:
    await _ask_every_path(workspace, "app.py")
    requests = workspace.records("request")
    assert len(requests) == 3  # ghost text, the completion's model item, the quick fix
    for request in requests:
        assert KEY not in request["prompt"] and "hunter2hunter2" not in request["prompt"]
    assert any(
        request["prompt"].startswith("# case: fix") or "# case: fix" in request["prompt"] for request in requests
    )
