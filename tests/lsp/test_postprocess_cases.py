"""Post-processing end to end: for each rule a scripted engine writes what a looping or copying model writes,
and the ghost text an editor receives is what the rule leaves of it (kimi_lsp/postprocess.py).

kimi-tiny prompts are healed (tests/lsp/conftest.py): after indentation or a space the scripted answer starts
with the whitespace the prompt left out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pytest
from lsprotocol import types as lsp

from .conftest import start_session


class Case(NamedTuple):
    name: str
    language: str
    text: str  # the document; its first line names the case, which selects the scripted answer
    line: int
    character: int
    answer: str  # what the engine writes
    shown: str | None  # the ghost text, or None for no suggestion


LOOP = "items.append(item)\n" + "        self.items.append(item)\n" * 6
CASES = (
    Case(  # the report from Neovim 0.12: after `self.`, one line seven times
        "repeated lines",
        "python",
        "# case: pp repeated lines\nclass Cart:\n    def add(self, item):\n        self.\n",
        3,
        13,
        LOOP,
        "items.append(item)",
    ),
    Case(
        "repeated blocks",
        "python",
        "# case: pp repeated blocks\n\n",
        1,
        0,
        "\n" + "".join(f"def test_{c}():\n    assert run({c!r})\n\n\n" for c in "abcd") + "def test_e(",
        "def test_a():\n    assert run('a')",
    ),
    Case(
        "line ending in repetition",
        "python",
        "# case: pp line end\ntotal = \n",
        1,
        8,
        " compute()\nsize = size = size = size = size = size = size =",
        "compute()",
    ),
    Case(
        "only repeats the prefix",
        "python",
        "# case: pp prefix\nclass Cart:\n    def add(self, item):\n        self.items.append(item)\n        self.\n",
        4,
        13,
        LOOP,
        None,
    ),
    Case(
        "only repeats the suffix",
        "python",
        "# case: pp suffix\ndef total(items):\n    \n    return sum(items)\n",
        2,
        4,
        "\n    return sum(items)",
        None,
    ),
    Case(
        "duplicated block closing line",
        "javascript",
        "// case: pp closing\nfunction check(ok) {\n  if (!ok) {\n    \n  } else {\n    return;\n  }\n}\n",
        3,
        4,
        '\n    throw new Error("check");\n  }',
        'throw new Error("check");',
    ),
)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_what_a_rule_leaves_is_what_the_editor_shows(tmp_path: Path, case: Case) -> None:
    record = tmp_path / "engine-record.jsonl"  # where the session reads the engine's requests from
    script = tmp_path / "postprocess-engine.json"
    marker = case.text.split("\n", 1)[0].split("case: ", 1)[1]
    script.write_text(
        json.dumps({"responses": [{"contains": f"case: {marker}", "text": case.answer}], "record": str(record)})
    )
    client, session = await start_session(tmp_path, "neovim", engine=f"scripted:{script}")
    try:
        suffix = {"python": ".py", "javascript": ".js"}[case.language]
        uri = session.open("case" + suffix, case.text, language_id=case.language)
        result = await client.text_document_inline_completion_async(
            lsp.InlineCompletionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                position=lsp.Position(line=case.line, character=case.character),
                context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
            )
        )
        assert len(session.records("request")) == 1  # the model was asked: an empty answer is the rule's doing
        if case.shown is None:
            assert result is None
        else:
            assert isinstance(result, lsp.InlineCompletionList)
            assert [item.insert_text for item in result.items] == [case.shown]
    finally:
        await client.shutdown_session()
        await client.stop()
