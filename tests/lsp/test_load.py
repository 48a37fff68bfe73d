"""Load: 5,000 didChange and 1,000 inline completion requests in quick succession, over several documents,
against a slow scripted engine that records every request, the end of every stream and every abort. Nothing
crashes; every request is answered (or cancelled, for those the client cancels); at most one engine request
is in flight per document and feature at any moment (a review, after a pause in a document's typing, may run
beside its suggestion); and every engine request that did not finish was aborted."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcRequestCancelled
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

DOCUMENTS = 4
CHANGES = 5_000
REQUESTS = 1_000
CANCEL_EVERY = 7  # the client cancels every 7th request ($/cancelRequest)
MARK = re.compile(r"# load document (\d+)")


async def _start(tmp_path: Path) -> tuple[LanguageClient, Path]:
    record = tmp_path / "record.jsonl"
    script = tmp_path / "engine.json"
    slow = {"contains": "# load", "text": "\n    total = total + 1\n" * 8, "delay_ms": 20}
    script.write_text(json.dumps({"responses": [slow], "record": str(record), "chunk_chars": 8}))
    root = tmp_path / "workspace"
    root.mkdir()
    command = [sys.executable, "-m", "kimi_lsp", "--stdio", "--engine", f"scripted:{script}"]
    client = await ClientServerConfig(server_command=command, client_factory=make_test_lsp_client).start()
    assert isinstance(client, LanguageClient)
    await client.initialize_session(
        lsp.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=root.as_uri(),
            workspace_folders=[lsp.WorkspaceFolder(uri=root.as_uri(), name="workspace")],
            initialization_options={"debounceMs": 5, "engine": {"deadlineMs": 60_000}},
        )
    )
    return client, record


def _inline(uri: str, line: int, character: int) -> lsp.InlineCompletionParams:
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=lsp.Position(line=line, character=character),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
    )


async def test_a_burst_of_typing_and_requests_is_held(tmp_path: Path) -> None:
    client, record = await _start(tmp_path)
    try:
        uris = [(tmp_path / "workspace" / f"doc{n}.py").as_uri() for n in range(DOCUMENTS)]
        for n, uri in enumerate(uris):
            client.text_document_did_open(
                lsp.DidOpenTextDocumentParams(
                    lsp.TextDocumentItem(
                        uri=uri, language_id="python", version=1, text=f"# load document {n}\ndef f(total):\n    \n"
                    )
                )
            )
        versions = dict.fromkeys(uris, 1)
        columns = dict.fromkeys(uris, 4)
        pending: list[tuple[int, asyncio.Future[Any]]] = []
        per_request = CHANGES // REQUESTS
        for i in range(CHANGES):
            uri = uris[i % DOCUMENTS]
            versions[uri] += 1
            character = columns[uri]
            client.text_document_did_change(
                lsp.DidChangeTextDocumentParams(
                    text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=versions[uri]),
                    content_changes=[
                        lsp.TextDocumentContentChangePartial(
                            range=lsp.Range(start=lsp.Position(2, character), end=lsp.Position(2, character)),
                            text="x",
                        )
                    ],
                )
            )
            columns[uri] += 1
            if i % per_request == per_request - 1:
                msg_id = 100_000 + i
                future = client.protocol.send_request_async(
                    lsp.TEXT_DOCUMENT_INLINE_COMPLETION, _inline(uri, 2, columns[uri]), msg_id=msg_id
                )
                pending.append((msg_id, asyncio.ensure_future(future)))
                if len(pending) % CANCEL_EVERY == 0:
                    client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=msg_id))
            if i % 50 == 0:
                await asyncio.sleep(0)  # let the client's reader keep up
        assert len(pending) == REQUESTS
        results = await asyncio.wait_for(asyncio.gather(*(f for _, f in pending), return_exceptions=True), 600)
        unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, JsonRpcRequestCancelled)]
        assert unexpected == [], unexpected[:3]
        answered = [r for r in results if not isinstance(r, BaseException)]
        assert all(r is None or isinstance(r, lsp.InlineCompletionList) for r in answered)
        assert any(isinstance(r, lsp.InlineCompletionList) for r in answered), "the last requests got answers"
        status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
        assert status["engine"] == "ready"  # and the server is still there
    finally:
        await client.shutdown_session()
        await client.stop()
    _check_record(record)


def _check_record(record: Path) -> None:
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    document_of: dict[str, tuple[str, str]] = {}  # rid -> (document, feature): a review may run beside a suggestion
    in_flight: dict[tuple[str, str], set[str]] = defaultdict(set)
    ended: dict[str, bool] = {}
    aborted: set[str] = set()
    most = 0
    for row in rows:
        rid = row["rid"]
        if row["event"] == "request":
            marks = MARK.findall(row["prompt"])  # the document's own text comes last (other open ones may
            assert marks  # be shown before it as context)
            feature = "review" if row.get("json_schema") else "suggestion"
            document = document_of[rid] = (marks[-1], feature)
            assert not in_flight[document], f"document {document}: {rid} while {in_flight[document]} in flight"
            in_flight[document].add(rid)
            most = max(most, sum(len(v) for v in in_flight.values()))
        elif row["event"] == "end":
            in_flight[document_of[rid]].discard(rid)
            ended[rid] = row["finished"]
        elif row["event"] == "abort":
            aborted.add(rid)
    requests = set(document_of)
    assert len(requests) > 10, "the engine was asked"
    assert set(ended) == requests, "every stream ended (shutdown ends the rest)"
    unfinished = {rid for rid, finished in ended.items() if not finished}
    assert unfinished, "some requests were cut short (superseded or cancelled)"
    assert unfinished <= aborted, f"{len(unfinished - aborted)} unfinished requests were never aborted"
    assert most <= 2 * DOCUMENTS
