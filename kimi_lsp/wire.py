"""Where pygls' handling of the wire needs help: the rules of LSP that it bends, kept in one place.

Owns three things `server.py`'s protocol class uses:

- `LspWorkspace` / `LspTextDocument`: pygls splits a document into lines with `str.splitlines`, which also
  breaks at form feeds, U+2028 and six other characters, and it misplaces an edit past the end of the last
  line. LSP breaks lines at "\\n", "\\r\\n" and "\\r" only, and a character past the end of a line means the
  end of that line. An incremental change is applied here with `snapshot.offset_at`, the same conversion
  every request uses, so the server's text is the editor's text.
- `RememberingReader`: the message stream, remembering the body of the last message read, so that a request
  pygls cannot read (invalid UTF-8, nesting too deep for the JSON decoder, not JSON) can still be answered
  with an error instead of leaving the client waiting forever.
- `request_id`: the id of the request in such a body, found without decoding it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, BinaryIO

from lsprotocol import types as lsp
from pygls.workspace import TextDocument, Workspace

from .snapshot import UTF16, Position, PositionError, offset_at

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class LspTextDocument(TextDocument):
    """A pygls TextDocument whose lines and incremental changes follow LSP's rules (module docstring)."""

    @property
    def lines(self) -> Sequence[str]:
        return tuple(_LINE.findall(self.source))

    def _apply_incremental_change(self, change: lsp.TextDocumentContentChangePartial) -> None:
        text = self.source
        encoding = str(self.position_codec.encoding or UTF16)
        start = _offset(text, change.range.start, encoding)
        end = _offset(text, change.range.end, encoding)
        if end < start:  # a reversed range: the same span
            start, end = end, start
        self._source = text[:start] + change.text + text[end:]


def _offset(text: str, position: lsp.Position, encoding: str) -> int:
    """The string offset of a change's position; a line past the end means the end of the document."""
    try:
        return offset_at(text, Position(position.line, position.character), encoding)
    except PositionError:
        return len(text)


class LspWorkspace(Workspace):
    """A pygls Workspace whose documents are `LspTextDocument`s."""

    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return LspTextDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=self._sync_kind,
            position_codec=self._position_codec,
        )


class RememberingReader:
    """The protocol's input stream (what pygls reads: `readline` for headers, `read` for a body), remembering
    the last body read. pygls reads and handles one message at a time, so when it reports a message it could
    not read, `last_body` is that message."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.last_body = b""

    def readline(self) -> bytes:
        return self._stream.readline()

    def read(self, size: int = -1) -> bytes:
        self.last_body = self._stream.read(size)
        return self.last_body


_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\]]', re.DOTALL)
_VALUE = re.compile(rb'\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")', re.DOTALL)


def request_id(body: bytes) -> int | str | None:
    """The id of the request in a message body that could not be decoded: the top-level "id" member of a
    message that also has a top-level "method" (None: a notification, a response, or no id to be found).
    Scans strings and brackets only, so nesting costs nothing and invalid UTF-8 is no obstacle."""
    depth = 0
    found: int | str | None = None
    has_method = False
    for token in _TOKEN.finditer(body):
        text = token.group()
        if text in (b"{", b"["):
            depth += 1
        elif text in (b"}", b"]"):
            depth -= 1
        elif depth == 1 and text in (b'"id"', b'"method"'):
            value = _VALUE.match(body, token.end())
            if value is None:
                continue
            if text == b'"method"':
                has_method = True
            else:
                found = _decode_id(value.group(1))
        if has_method and found is not None:
            return found
    return None


def _decode_id(raw: bytes) -> int | str | None:
    try:
        value: Any = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return None
    return value if isinstance(value, (int, str)) else None
