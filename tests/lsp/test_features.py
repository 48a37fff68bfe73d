"""Every capability end to end, over stdio, for each recorded client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types as lsp

from .conftest import Session, start_session

ADD = "# case: add\ndef add(a, b):\n    \n"


def _pos(line: int, character: int) -> lsp.Position:
    return lsp.Position(line=line, character=character)


async def test_capabilities(session: Session) -> None:
    caps = session.capabilities
    assert caps.inline_completion_provider is not None
    assert caps.completion_provider is not None and "." in (caps.completion_provider.trigger_characters or [])
    assert caps.diagnostic_provider is not None
    assert caps.code_action_provider.resolve_provider is True
    assert set(caps.execute_command_provider.commands) >= {"kimi.reindex", "kimi.status"}
    assert caps.text_document_sync.change == lsp.TextDocumentSyncKind.Incremental
    assert caps.workspace.workspace_folders.supported
    expected = "utf-8" if session.client_name == "neovim" else "utf-16"
    assert caps.position_encoding == expected


async def test_inline_completion_from_engine(session: Session) -> None:
    uri = session.open("add.py", ADD)
    result = await session.client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=_pos(2, 4),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
        )
    )
    assert result is not None
    items = result.items if isinstance(result, lsp.InlineCompletionList) else result
    # cut at the end of the block: the unrelated function the model went on to write is not shown
    assert [item.insert_text for item in items] == ["return a + b"]
    assert items[0].range == lsp.Range(start=_pos(2, 4), end=_pos(2, 4))
    (request,) = session.records("request")
    # kimi-tiny prompts run left to right up to the cursor; the auto-indent before the cursor is healed
    assert request["prompt"] == "<|file_sep|>add.py\n# case: add\ndef add(a, b):"


async def test_a_completion_that_leaves_the_cursor_block_is_not_shown(session: Session) -> None:
    """The cursor sits after auto-indent; the model dedents instead of writing that indentation back."""
    uri = session.open("dedent.py", "# case: dedent\ndef f():\n    \n")
    result = await session.client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=_pos(2, 4),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
        )
    )
    assert result is None
    (request,) = session.records("request")
    assert request["prompt"].endswith("def f():")


async def test_positions_follow_negotiated_encoding(session: Session) -> None:
    line = 's = "😀é"; n = '
    uri = session.open("emoji.py", f"# case: emoji\n{line}\n")
    character = len(line.encode("utf-8")) if session.client_name == "neovim" else len(line.encode("utf-16-le")) // 2
    result = await session.client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=_pos(1, character),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
        )
    )
    assert isinstance(result, lsp.InlineCompletionList)
    assert result.items[0].insert_text == "len(s)"
    (request,) = session.records("request")
    assert request["prompt"].endswith(line.rstrip())


async def test_completion_lists_file_symbols_and_one_model_item(session: Session) -> None:
    text = "# case: complete\nclass Basket:\n    pass\n\ndef total(items):\n    return 0\n\nprint(tot\n"
    uri = session.open("shop.py", text)
    result = await session.client.text_document_completion_async(
        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=_pos(7, 9))
    )
    assert isinstance(result, lsp.CompletionList)
    labels = [item.label for item in result.items]
    assert labels[0] == "total_count"  # the model's item: the typed word plus the model's text
    assert result.items[0].text_edit.range.start == _pos(7, 6)
    assert {"Basket", "total"} <= set(labels)


async def _diagnostics(session: Session, uri: str, previous: str | None = None) -> list[lsp.Diagnostic]:
    if session.pulls_diagnostics:
        report = await session.client.text_document_diagnostic_async(
            lsp.DocumentDiagnosticParams(text_document=lsp.TextDocumentIdentifier(uri=uri), previous_result_id=previous)
        )
        assert isinstance(report, lsp.RelatedFullDocumentDiagnosticReport)
        return list(report.items)
    for _ in range(200):
        if uri in session.client.diagnostics:
            return list(session.client.diagnostics[uri])
        await asyncio.sleep(0.02)
    raise AssertionError("no diagnostics published")


async def test_syntax_diagnostics_follow_edits(session: Session) -> None:
    uri = session.open("broken.py", "def ok():\n    return 1\n\nx = (1 +\n")
    found = await _diagnostics(session, uri)
    assert len(found) == 1 and found[0].source == "kimi-lsp" and found[0].range.start.line == 3
    session.client.diagnostics.pop(uri, None)
    session.client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                lsp.TextDocumentContentChangePartial(range=lsp.Range(start=_pos(3, 8), end=_pos(3, 8)), text=" 2)")
            ],
        )
    )
    assert await _diagnostics(session, uri) == []


async def test_pull_diagnostics_report_unchanged_by_result_id(session: Session) -> None:
    if not session.pulls_diagnostics:
        pytest.skip("pull diagnostics are for clients that support them")
    uri = session.open("pull.py", "x = (\n")
    first = await session.client.text_document_diagnostic_async(
        lsp.DocumentDiagnosticParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    assert isinstance(first, lsp.RelatedFullDocumentDiagnosticReport) and len(first.items) == 1
    again = await session.client.text_document_diagnostic_async(
        lsp.DocumentDiagnosticParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), previous_result_id=first.result_id
        )
    )
    assert isinstance(again, lsp.RelatedUnchangedDocumentDiagnosticReport)


async def test_quick_fix_resolves_into_an_edit(session: Session) -> None:
    text = "# case: fix\ndef broken(:\n    return 1\n"
    uri = session.open("fix.py", text)
    (diagnostic,) = await _diagnostics(session, uri)
    actions = await session.client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=diagnostic.range,
            context=lsp.CodeActionContext(diagnostics=[diagnostic], only=[lsp.CodeActionKind.QuickFix]),
        )
    )
    assert actions is not None and len(actions) == 1
    action = actions[0]
    assert isinstance(action, lsp.CodeAction) and action.edit is None  # resolved lazily
    assert session.records("request") == []  # listing actions never calls the model
    resolved = await session.client.code_action_resolve_async(action)
    assert resolved.edit is not None
    (edit,) = resolved.edit.changes[uri]
    assert edit.new_text == "def broken():\n"
    assert edit.range == lsp.Range(start=_pos(1, 0), end=_pos(2, 0))


async def test_execute_command_status(session: Session) -> None:
    status = await session.client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="kimi.status", arguments=[])
    )  # editors send an empty list
    assert status["engine"] == "ready"
    reindexed = await session.client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="kimi.reindex", arguments=[])
    )
    assert reindexed["documents"] == 0 and isinstance(reindexed["files"], int)


async def test_status_notification_tells_the_engine_state(session: Session) -> None:
    statuses = session.statuses
    uri = session.open("add.py", ADD)
    await session.client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=_pos(2, 4),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
        )
    )
    for _ in range(100):
        if any(getattr(s, "latencyMs", None) is not None for s in statuses):
            break
        await asyncio.sleep(0.02)
    latest = statuses[-1]
    assert latest.engine == "ready" and latest.latencyMs is not None


@pytest.mark.parametrize("client_name", ["visual-studio-code", "neovim"])
async def test_an_invoked_request_gets_ranked_alternatives_from_one_sampled_request(
    tmp_path: Path, client_name: str
) -> None:
    """Alt+] in VS Code, next in Neovim: the greedy suggestion first, then the samples that differ from it, the
    one most samples agree on first; one request to the engine for all the samples, over the same prompt. An
    automatic request (typing) gets the one suggestion, from one engine request."""
    client, session = await start_session(tmp_path, client_name, {"model": {"suggestions": 3}})
    try:
        uri = session.open("several.py", "# case: several\ndef mul(a, b):\n    \n")

        async def ask(kind: lsp.InlineCompletionTriggerKind) -> list[str]:
            result = await client.text_document_inline_completion_async(
                lsp.InlineCompletionParams(
                    text_document=lsp.TextDocumentIdentifier(uri=uri),
                    position=_pos(2, 4),
                    context=lsp.InlineCompletionContext(trigger_kind=kind),
                )
            )
            assert isinstance(result, lsp.InlineCompletionList)
            return [item.insert_text for item in result.items]  # type: ignore[misc]

        assert await ask(lsp.InlineCompletionTriggerKind.Automatic) == ["return a * b"]
        assert [request["n"] for request in session.records("request")] == [1]
        assert await ask(lsp.InlineCompletionTriggerKind.Invoked) == ["return a * b", "return a - b", "return b * a"]
        # the identical request's suggestion is the last answer again: only the samples reach the engine
        greedy, sampled = session.records("request")
        assert (greedy["n"], greedy["temperature"]) == (1, 0.0)
        assert (sampled["n"], sampled["temperature"]) == (4, 0.8)  # two samples per alternative asked for
        assert sampled["prompt"] == greedy["prompt"]
    finally:
        await client.shutdown_session()
        await client.stop()
