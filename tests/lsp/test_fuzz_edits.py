"""Hypothesis drives random edit sequences through the server - multi-byte characters, CRLF, lone CR, surrogate
pairs (astral characters), lone surrogates, form feeds and U+2028 (not line breaks in LSP) - as didChange
ranges in the negotiated position encoding (utf-8, utf-16, utf-32), and checks that the server's text equals a
reference model's. The server's text is read back from the prompt the recording scripted engine receives
(left-to-right layout: the header, then the document up to the cursor, which is put at the end)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .wire import WireServer

ENCODINGS = ("utf-8", "utf-16", "utf-32")
ALPHABET = ["a", "b", " ", "\t", "é", "中", "😀", "𝔘", "\n", "\r\n", "\r", "\u2028", "\x0c", "\udc80"]
LSP_BREAK = re.compile(r"\r\n|\r|\n")
END = "\n#END"


def position(text: str, offset: int, encoding: str) -> dict[str, int]:
    """The LSP position of `offset` (the reference model's own conversion, independent of the server's)."""
    line, line_start = 0, 0
    for match in LSP_BREAK.finditer(text):
        if match.end() > offset:
            break
        line, line_start = line + 1, match.end()
    segment = text[line_start:offset]
    if encoding == "utf-8":
        units = len(segment.encode("utf-8", "surrogatepass"))
    elif encoding == "utf-16":
        units = len(segment.encode("utf-16-le", "surrogatepass")) // 2
    else:
        units = len(segment)
    return {"line": line, "character": units}


def boundaries(text: str) -> list[int]:
    """Offsets an LSP position can name: every one except between the CR and LF of a CRLF."""
    return [i for i in range(len(text) + 1) if not (0 < i < len(text) and text[i - 1] == "\r" and text[i] == "\n")]


class Fuzzed:
    def __init__(self, server: WireServer, record: Path, encoding: str) -> None:
        self.server, self.record, self.encoding = server, record, encoding
        self.count = 0

    def prompt_after(self, before: int) -> str:
        rows = [json.loads(line) for line in self.record.read_text().splitlines()]
        requests = [row for row in rows if row["event"] == "request"]
        assert len(requests) == before + 1, "one request per check"
        return str(requests[-1]["prompt"])

    def requests(self) -> int:
        if not self.record.exists():
            return 0
        return sum(1 for line in self.record.read_text().splitlines() if '"event": "request"' in line)


@pytest.fixture(scope="module", params=ENCODINGS)
def fuzzed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    record = folder / "record.jsonl"
    script = folder / "engine.json"
    script.write_text(json.dumps({"responses": [], "default": "", "record": str(record)}))
    server = WireServer(engine=f"scripted:{script}")
    result = server.initialize(encodings=[request.param])
    assert result["capabilities"]["positionEncoding"] == request.param
    yield Fuzzed(server, record, request.param)
    server.close()


@st.composite
def edit_sequences(draw: Any) -> tuple[str, list[list[tuple[int, int, str]]]]:
    """An initial text and batches of edits (start, end, new text), each valid for the text it applies to."""
    text_of = st.lists(st.sampled_from(ALPHABET), max_size=12).map("".join)
    initial = draw(text_of)
    text, batches = initial, []
    for _ in range(draw(st.integers(1, 6))):
        batch = []
        for _ in range(draw(st.integers(1, 3))):
            points = boundaries(text)
            start, end = sorted((draw(st.sampled_from(points)), draw(st.sampled_from(points))))
            new = draw(text_of)
            batch.append((start, end, new))
            text = text[:start] + new + text[end:]
        batches.append(batch)
    return initial, batches


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=edit_sequences())
def test_edits_through_the_server_match_the_reference(fuzzed: Fuzzed, case: tuple[str, Any]) -> None:
    initial, batches = case
    server, encoding = fuzzed.server, fuzzed.encoding
    fuzzed.count += 1
    uri = f"file:///fuzz/{fuzzed.count}/fuzz.py"  # outside any workspace: shown as fuzz.py
    server.open(uri, initial)
    text, version = initial, 1
    for batch in batches:
        changes = []
        for start, end, new in batch:
            changes.append({"range": {"start": position(text, start, encoding), "end": position(text, end, encoding)},
                            "text": new})  # fmt: skip
            text = text[:start] + new + text[end:]
        version += 1
        server.change(uri, version, changes)
    end = position(text, len(text), encoding)
    server.change(uri, version + 1, [{"range": {"start": end, "end": end}, "text": END}])
    text += END
    before = fuzzed.requests()
    cursor = position(text, len(text), encoding)
    reply = server.inline(uri, cursor["line"], cursor["character"])
    assert "result" in reply, reply
    prompt = fuzzed.prompt_after(before)
    assert prompt == "<|file_sep|>fuzz.py\n" + text.replace("\r\n", "\n")  # the prompt normalises CRLF
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


def test_the_reference_positions_agree_with_lsp_examples() -> None:
    text = "a😀b\r\nc\rd\u2028e"
    assert position(text, 3, "utf-16") == {"line": 0, "character": 4}
    assert position(text, 3, "utf-8") == {"line": 0, "character": 6}
    assert position(text, 3, "utf-32") == {"line": 0, "character": 3}
    assert position(text, 5, "utf-16") == {"line": 1, "character": 0}  # after CRLF
    assert position(text, 7, "utf-16") == {"line": 2, "character": 0}  # after a lone CR
    assert position(text, 10, "utf-16") == {"line": 2, "character": 3}  # U+2028 is not a line break
    assert 4 not in boundaries(text)  # between CR and LF
