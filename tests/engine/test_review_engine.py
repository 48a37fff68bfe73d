"""Model review and code actions against a real SGLang server on the CPU (cpu-tiny): the `json_schema`
constrained answer is the findings JSON (whole, within REVIEW_MAX_TOKENS), a review over LSP publishes its
findings as diagnostics inside the reviewed function, and "Generate unit tests" resolves into its edit."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from lsprotocol import types as lsp

from kimi_lsp.review import FINDINGS_SCHEMA_TEXT, REVIEW_MAX_TOKENS, Unit, parse_findings, review_task
from tests.lsp.conftest import start_session
from tests.lsp.test_review import Published

pytestmark = pytest.mark.engine

OPENED = "def total(items):\n    s = 0\n    return s\n"
BUGGY = "def total(items):\n    s = 0\n    for i in items:\n        s = i\n    return s\n"


def test_the_constrained_answer_is_the_findings_json(sglang_engine: str) -> None:
    unit = Unit("total", 0, 4, BUGGY.rstrip("\n"), "key")
    prompt = "<|file_sep|>calc.py\n" + BUGGY.rstrip("\n") + review_task(unit, "#")
    sampling = {"max_new_tokens": REVIEW_MAX_TOKENS, "temperature": 0, "json_schema": FINDINGS_SCHEMA_TEXT}
    answer = httpx.post(
        f"{sglang_engine}/generate", json={"text": prompt, "sampling_params": sampling}, timeout=300
    ).json()["text"]
    found = json.loads(answer)  # whole JSON: not cut by the token limit
    assert isinstance(found, dict) and isinstance(found["findings"], list)
    for item in found["findings"]:
        assert {"startLine", "endLine", "severity", "message", "confidence"} <= set(item)
    kept = parse_findings(answer, unit)
    assert all(0 <= f.start_line <= f.end_line <= 4 for f in kept)


async def _published(published: Published, count: int) -> None:
    for _ in range(3000):
        if len(published.history) >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{count} publications expected: {published.history}")


async def test_review_and_an_action_over_lsp(sglang_engine: str, tmp_path: Path) -> None:
    # a deadline far above the CPU engine's time for a whole review on a busy machine
    settings = {"review": {"idleMs": 600_000, "minConfidence": 0}, "engine": {"deadlineMs": 300_000}}
    client, session = await start_session(tmp_path, "visual-studio-code", settings, engine=sglang_engine)
    client.diagnostics = Published()
    try:
        uri = session.open("calc.py", OPENED)
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=BUGGY)],
            )
        )
        await _published(client.diagnostics, 2)  # on open, on the change
        client.text_document_did_save(lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))
        await _published(client.diagnostics, 3)  # the review's, once the engine answered and it was parsed
        status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
        assert status["engine"] == "ready" and status["requests"] == 1
        review = [d for d in client.diagnostics[uri] if d.source == "kimi"]
        assert all(0 <= d.range.start.line <= d.range.end.line <= 4 and d.code == "review" for d in review)

        actions = await client.text_document_code_action_async(
            lsp.CodeActionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                range=lsp.Range(start=lsp.Position(line=1, character=4), end=lsp.Position(line=1, character=4)),
                context=lsp.CodeActionContext(diagnostics=[], only=[lsp.CodeActionKind.Refactor]),
            )
        )
        (tests,) = [a for a in actions or () if isinstance(a, lsp.CodeAction) and a.title.startswith("Generate")]
        resolved = await client.code_action_resolve_async(tests)
        assert resolved.edit is not None
        create, insert = resolved.edit.document_changes or ()
        test_uri = (session.root / "tests" / "test_calc.py").as_uri()
        assert create == lsp.CreateFile(uri=test_uri, options=lsp.CreateFileOptions(ignore_if_exists=True))
        assert isinstance(insert, lsp.TextDocumentEdit) and insert.text_document.uri == test_uri
        (edit,) = insert.edits
        assert isinstance(edit, lsp.TextEdit) and edit.range.start == edit.range.end == lsp.Position(
            line=0, character=0
        )
        assert edit.new_text.startswith("from calc import total\n\n\ndef test_") and edit.new_text.endswith("\n")
    finally:
        await client.shutdown_session()
        await client.stop()
