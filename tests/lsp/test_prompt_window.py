"""`context.promptTokens` is the model's window: a prompt leaves room in it for the answer it asks for (and a
task's instruction), so a server never refuses a request as longer than its context length."""

from __future__ import annotations

import json
from pathlib import Path

from lsprotocol import types as lsp

from kimi_lsp.model.tokenizer import counter_for

from .conftest import start_session

WINDOW = 1024
LONG = "".join(f"def helper_{i}(value):\n    return value * {i} + {i * 7}\n\n\n" for i in range(400))


async def test_prompts_leave_room_for_their_answers(tmp_path: Path) -> None:
    script = tmp_path / "window-engine.json"
    record = tmp_path / "window-record.jsonl"
    script.write_text(json.dumps({"responses": [], "default": "x", "record": str(record), "chunk_chars": 16}))
    client, session = await start_session(
        tmp_path,
        "neovim",
        init_options={
            # no cross-file part: the document's text gets the whole prompt budget
            "context": {"promptTokens": WINDOW, "crossFileTokens": 0},
            "model": {"maxTokens": 200},
            "review": {"enabled": False},
        },
        engine=f"scripted:{script}",
    )
    try:
        uri = session.open("long.py", LONG)
        middle = LONG.count("\n") // 2
        await client.text_document_inline_completion_async(
            lsp.InlineCompletionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                position=lsp.Position(line=middle, character=0),
                context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
            )
        )
        selection = {"start": {"line": middle, "character": 0}, "end": {"line": middle + 2, "character": 0}}
        await client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(command="kimi.explain", arguments=[uri, selection])
        )
    finally:
        await client.shutdown_session()
        await client.stop()
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    requests = [row for row in rows if row["event"] == "request"]
    assert len(requests) >= 2  # the suggestion and the explanation
    count = counter_for("kimi-tiny").count
    for row in requests:
        used = count(row["prompt"]) + row["max_new_tokens"]
        assert WINDOW * 0.8 < used <= WINDOW, (used, row["max_new_tokens"])  # the window is filled, not passed
