"""Model review as diagnostics and its code actions, end to end over stdio with the scripted engine, for each
recorded client (VS Code takes pushed diagnostics, Neovim pulls them)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types as lsp

from kimi_lsp.review import FINDINGS_SCHEMA_TEXT

from .conftest import CLIENTS, Session, start_session


def _finding(line: int, message: str, replacement: str | None = None, confidence: float = 0.9) -> dict[str, Any]:
    found: dict[str, Any] = {
        "startLine": line,
        "endLine": line,
        "severity": "warning",
        "message": message,
        "confidence": confidence,
    }
    if replacement is not None:
        found["replacement"] = replacement
    return found


def _answer(*findings: dict[str, Any]) -> str:
    return json.dumps({"findings": list(findings)})


OPENED = "def total(items):\n    s = 0\n    return s\n\n\ndef other():\n    return 1\n"
BUGGY = (
    "def total(items):\n    s = 0\n    for i in items:\n        s = i\n    return s\n\n\ndef other():\n    return 1\n"
)
REVIEWS: list[dict[str, Any]] = [
    # file line numbers are 1-based in the prompt: line 4 is "        s = i"
    {
        "contains": "    4 |         s = i\n",
        "text": _answer(
            _finding(4, "s is overwritten: the sum is lost", "        s += i"),
            _finding(2, "not sure about this", confidence=0.2),  # under review.minConfidence
            _finding(40, "a line outside the function"),  # dropped
        ),
    },
    {"contains": "    3 |     # slow", "text": _answer(_finding(2, "stale finding")), "delay_ms": 100},
    {"contains": "    3 |     # quick", "text": _answer(_finding(2, "fresh finding"))},
    {"contains": "    9 |     return 2", "text": _answer(_finding(9, "other returns 2"))},
    {"contains": "    8 |     return 2", "text": _answer(_finding(8, "other returns 2"))},
    {"contains": "    3 |     # garbage", "text": "this is not JSON"},
    {"contains": "documentation for the function `total`", "text": ' """Sum the items."""\n'},
    {"contains": "documentation for the function `add`", "text": " Adds two numbers.\n"},
]


class Published(dict[str, Sequence[lsp.Diagnostic]]):
    """pytest-lsp's record of pushed diagnostics, keeping every publication too."""

    def __init__(self) -> None:
        super().__init__()
        self.history: list[tuple[str, list[lsp.Diagnostic]]] = []

    def __setitem__(self, uri: str, diagnostics: Sequence[lsp.Diagnostic]) -> None:
        self.history.append((uri, list(diagnostics)))
        super().__setitem__(uri, diagnostics)


async def _start(tmp_path: Path, client_name: str, options: dict[str, Any] | None = None) -> Session:
    record = tmp_path / "engine-record.jsonl"
    script = tmp_path / "review-engine.json"
    script.write_text(json.dumps({"responses": REVIEWS, "default": "", "record": str(record), "chunk_chars": 16}))
    files = {".gitignore": "private/\n", "private/algo.py": OPENED, "vendor/lib.py": OPENED}
    settings = {"review": {"idleMs": 600_000}, "exclude": ["vendor/"], **(options or {})}
    client, session = await start_session(
        tmp_path, client_name, init_options=settings, engine=f"scripted:{script}", files=files
    )
    client.diagnostics = Published()
    return session


@pytest_asyncio.fixture(params=CLIENTS)
async def session(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Session]:
    session = await _start(tmp_path, request.param)
    yield session
    await session.client.shutdown_session()
    await session.client.stop()


def _pos(line: int, character: int) -> lsp.Position:
    return lsp.Position(line=line, character=character)


def _change(session: Session, uri: str, version: int, first: int, last: int, text: str) -> None:
    """Replace lines first..last-1 (whole lines) with `text`."""
    session.client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(start=_pos(first, 0), end=_pos(last, 0)), text=text
                )
            ],
        )
    )


def _save(session: Session, uri: str) -> None:
    session.client.text_document_did_save(
        lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )


async def _current(session: Session, uri: str) -> list[lsp.Diagnostic]:
    if session.pulls_diagnostics:
        report = await session.client.text_document_diagnostic_async(
            lsp.DocumentDiagnosticParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
        )
        assert isinstance(report, lsp.RelatedFullDocumentDiagnosticReport)
        return list(report.items)
    return list(session.client.diagnostics.get(uri, []))


async def _until(
    session: Session, uri: str, done: Callable[[list[lsp.Diagnostic]], bool], what: str
) -> list[lsp.Diagnostic]:
    """The document's diagnostics once `done` holds for them (pushed, or pulled again and again)."""
    for _ in range(500):
        found = await _current(session, uri)
        if done(found):
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"never {what}: {await _current(session, uri)}")


def _messages(found: list[lsp.Diagnostic]) -> list[str]:
    return [d.message for d in found if d.source == "kimi"]


async def _records_until(session: Session, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    for _ in range(500):
        records = session.records()
        if done(records):
            return records
        await asyncio.sleep(0.02)
    raise AssertionError(f"the engine never saw it: {session.records()}")


async def _requests(session: Session) -> int:
    """The requests the engine saw, after a round trip to the server (what it was sent before is recorded)."""
    await session.client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status", arguments=[]))
    return len(session.records("request"))


async def _buggy(session: Session, name: str = "calc.py") -> str:
    """Open OPENED, make `total` BUGGY, save, and wait for its one finding."""
    uri = session.open(name, OPENED)
    _change(session, uri, 2, 2, 2, "    for i in items:\n        s = i\n")
    _save(session, uri)
    await _until(session, uri, lambda found: bool(_messages(found)), "reviewed")
    return uri


async def test_review_findings_appear_on_save_cached_and_cleared_when_fixed(session: Session) -> None:
    uri = session.open("calc.py", OPENED)
    _save(session, uri)  # nothing changed since it was opened: nothing to review
    _change(session, uri, 2, 2, 2, "    for i in items:\n        s = i\n")
    _save(session, uri)
    found = await _until(session, uri, lambda found: bool(_messages(found)), "reviewed")
    review = [d for d in found if d.source == "kimi"]
    assert review == [
        lsp.Diagnostic(
            range=lsp.Range(start=_pos(3, 8), end=_pos(3, 13)),
            message="s is overwritten: the sum is lost",
            severity=lsp.DiagnosticSeverity.Warning,
            source="kimi",
            code="review",
        )
    ]
    (request,) = session.records("request")
    assert request["json_schema"] == FINDINGS_SCHEMA_TEXT
    assert "Code review of `total`, lines 1-5" in request["prompt"]

    _save(session, uri)  # unchanged: answered from the cache
    _change(session, uri, 3, 8, 9, "    return 2\n")  # `other` changes: one more review, after the one above
    _save(session, uri)
    found = await _until(session, uri, lambda found: "other returns 2" in _messages(found), "re-reviewed")
    assert _messages(found) == ["s is overwritten: the sum is lost", "other returns 2"]  # nothing duplicated
    assert len(session.records("request")) == 2
    assert await _requests(session) == 2

    _change(session, uri, 4, 3, 4, "        s += i\n")  # the fix: its finding goes at once
    found = await _until(session, uri, lambda found: _messages(found) == ["other returns 2"], "cleared")
    assert found[0].range.start.line == 8


async def test_a_review_runs_after_the_idle_time(tmp_path: Path) -> None:
    session = await _start(tmp_path, "visual-studio-code", {"review": {"idleMs": 100}})
    try:
        uri = session.open("calc.py", OPENED)
        _change(session, uri, 2, 2, 2, "    for i in items:\n        s = i\n")
        found = await _until(session, uri, lambda found: bool(_messages(found)), "reviewed when idle")
        assert _messages(found) == ["s is overwritten: the sum is lost"]
    finally:
        await session.client.shutdown_session()
        await session.client.stop()


async def test_review_off_sends_nothing(tmp_path: Path) -> None:
    session = await _start(tmp_path, "neovim", {"review": {"enabled": False, "idleMs": 100}})
    try:
        uri = session.open("calc.py", OPENED)
        _change(session, uri, 2, 2, 2, "    for i in items:\n        s = i\n")
        _save(session, uri)
        assert _messages(await _current(session, uri)) == []
        assert await _requests(session) == 0
    finally:
        await session.client.shutdown_session()
        await session.client.stop()


async def test_a_stale_review_is_never_published(session: Session) -> None:
    uri = session.open("calc.py", OPENED)
    _change(session, uri, 2, 2, 2, "    # slow\n")
    _save(session, uri)
    await _records_until(session, lambda records: any(r["event"] == "request" for r in records))
    _change(session, uri, 3, 2, 3, "    # quick\n")  # while the slow review streams
    _save(session, uri)
    found = await _until(session, uri, lambda found: "fresh finding" in _messages(found), "reviewed again")
    assert _messages(found) == ["fresh finding"]
    assert len(session.records("request")) == 2
    if isinstance(session.client.diagnostics, Published):
        assert all("stale finding" not in _messages(found) for _, found in session.client.diagnostics.history)


async def test_closing_the_document_cancels_its_review(session: Session) -> None:
    uri = session.open("calc.py", OPENED)
    _change(session, uri, 2, 2, 2, "    # slow\n")
    _save(session, uri)
    records = await _records_until(session, lambda records: any(r["event"] == "request" for r in records))
    rid = records[0]["rid"]
    session.client.text_document_did_close(
        lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    records = await _records_until(session, lambda records: any(r["event"] == "abort" for r in records))
    assert [r["rid"] for r in records if r["event"] == "abort"] == [rid]
    if isinstance(session.client.diagnostics, Published):
        assert all("stale finding" not in _messages(found) for _, found in session.client.diagnostics.history)


async def test_an_answer_that_is_not_json_is_no_findings(session: Session) -> None:
    uri = session.open("calc.py", OPENED)
    _change(session, uri, 2, 2, 2, "    # garbage\n")
    _save(session, uri)
    _change(session, uri, 3, 7, 8, "    return 2\n")  # reviewed after the one above
    _save(session, uri)
    found = await _until(session, uri, lambda found: bool(_messages(found)), "reviewed")
    assert _messages(found) == ["other returns 2"]
    assert len(session.records("request")) == 2


async def test_secret_ignored_and_excluded_files_get_no_review_request(session: Session) -> None:
    for name in ("private/algo.py", "vendor/lib.py"):
        uri = session.open(name, OPENED)
        _change(session, uri, 2, 2, 2, "    for i in items:\n        s = i\n")
        _save(session, uri)
    await _buggy(session)  # a file that may be reviewed, after them
    (request,) = session.records("request")
    assert request["prompt"].startswith("<|file_sep|>calc.py")


async def _actions(
    session: Session, uri: str, selection: lsp.Range, only: list[str] | None = None
) -> list[lsp.CodeAction]:
    actions = await session.client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=selection,
            context=lsp.CodeActionContext(diagnostics=[], only=only),  # none sent: computed from the range
        )
    )
    assert actions is not None
    return [action for action in actions if isinstance(action, lsp.CodeAction)]


async def test_apply_suggested_fix_replaces_the_finding_lines(session: Session) -> None:
    uri = await _buggy(session)
    actions = await _actions(session, uri, lsp.Range(start=_pos(3, 10), end=_pos(3, 10)))
    assert [(a.title, a.kind) for a in actions] == [
        ("Apply suggested fix: s is overwritten: the sum is lost", lsp.CodeActionKind.QuickFix),
        ("Add docstring with Kimi", lsp.CodeActionKind.RefactorRewrite),
        ("Generate unit tests with Kimi", lsp.CodeActionKind.Refactor),
    ]
    assert all(action.edit is None for action in actions)  # resolved lazily
    resolved = await session.client.code_action_resolve_async(actions[0])
    assert resolved.edit is not None and list(resolved.edit.changes) == [uri]
    assert list(resolved.edit.changes[uri]) == [
        lsp.TextEdit(range=lsp.Range(start=_pos(3, 0), end=_pos(4, 0)), new_text="        s += i\n")
    ]
    assert len(session.records("request")) == 1  # the fix came with the review


async def test_a_fix_for_an_older_version_is_refused(session: Session) -> None:
    uri = await _buggy(session)
    (fix, _, _) = await _actions(session, uri, lsp.Range(start=_pos(3, 0), end=_pos(3, 0)))
    _change(session, uri, 3, 0, 0, "import os\n")
    resolved = await session.client.code_action_resolve_async(fix)
    assert resolved.edit is None
    assert any("changed since" in message.message for message in session.client.messages)


async def test_add_docstring_under_the_def_line(session: Session) -> None:
    uri = session.open("calc.py", OPENED)
    (action,) = await _actions(session, uri, lsp.Range(start=_pos(1, 4), end=_pos(2, 4)), ["refactor.rewrite"])
    assert action.title == "Add docstring with Kimi"
    assert session.records("request") == []  # listing asks no model
    resolved = await session.client.code_action_resolve_async(action)
    assert resolved.edit is not None
    assert list(resolved.edit.changes[uri]) == [
        lsp.TextEdit(range=lsp.Range(start=_pos(1, 0), end=_pos(1, 0)), new_text='    """Sum the items."""\n')
    ]
    (request,) = session.records("request")
    assert request["prompt"].startswith("<|file_sep|>calc.py\n" + OPENED.split("\n\n")[0])


async def test_crlf_lines_fix_and_doc_comment(session: Session) -> None:
    uri = session.open("calc.py", OPENED.replace("\n", "\r\n"))
    _change(session, uri, 2, 2, 2, "    for i in items:\r\n        s = i\r\n")
    _save(session, uri)
    await _until(session, uri, lambda found: bool(_messages(found)), "reviewed")
    actions = await _actions(session, uri, lsp.Range(start=_pos(2, 0), end=_pos(4, 0)))  # over CRLF lines
    resolved = await session.client.code_action_resolve_async(actions[0])
    assert resolved.edit is not None
    assert list(resolved.edit.changes[uri]) == [
        lsp.TextEdit(range=lsp.Range(start=_pos(3, 0), end=_pos(4, 0)), new_text="        s += i\r\n")
    ]

    js = session.open("add.js", "const x = 1;\r\nexport function add(a, b) {\r\n  return a + b;\r\n}\r\n", "javascript")
    (action,) = await _actions(session, js, lsp.Range(start=_pos(2, 2), end=_pos(2, 2)), ["refactor.rewrite"])
    assert action.title == "Add doc comment with Kimi"
    resolved = await session.client.code_action_resolve_async(action)
    assert resolved.edit is not None
    assert list(resolved.edit.changes[js]) == [
        lsp.TextEdit(
            range=lsp.Range(start=_pos(1, 0), end=_pos(1, 0)), new_text="/**\r\n * Adds two numbers.\r\n */\r\n"
        )
    ]
