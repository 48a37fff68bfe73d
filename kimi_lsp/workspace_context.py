"""What the workspace contributes to a prompt: the bridge between the index and the pure prompt/ functions.

`WorkspaceContext` reads what prompt/sources.py needs (the document's outline and resolved imports, imported
files' outlines, other open documents that may be shown), lets prompt/select.py choose within the token budget,
and remembers per document what it showed, so the next prompt keeps its head. Candidates are recomputed at most
every REFRESH_S per document: resolving imports on every keystroke would cost more than the rest of a request,
and context a second old is as good. Secret and excluded files never become context.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import dataclass

from .index.documents import uri_to_path
from .index.model import Outline, ResolvedImport
from .index.secrets import is_secret_file
from .index.workspace import WorkspaceIndex
from .prompt.context import Budget, windows
from .prompt.select import select, snippets
from .prompt.sources import Document, candidates
from .prompt.templates import Snippet, Template
from .prompt.tokens import TokenCounter
from .snapshot import DocumentSnapshot

REFRESH_S = 2.0
MAX_OTHER_DOCUMENTS = 20
DECODED_OUTLINES = 512


@dataclass(slots=True, frozen=True)
class _Shown:
    expires: float
    keys: tuple[str, ...]
    snippets: tuple[Snippet, ...]


class _Outlines:
    """The index as prompt/sources.py reads it, with closed files' outlines kept decoded (by path and content
    digest): decoding one from the cache costs more than the rest of a context build."""

    def __init__(self, index: WorkspaceIndex, decoded: OrderedDict[tuple[str, bytes], Outline | None]) -> None:
        self._index = index
        self._decoded = decoded

    def outline(self, path_or_uri: str) -> Outline | None:
        record = self._index.files.get(path_or_uri)
        if record is None or path_or_uri in self._index.documents:
            return self._index.outline(path_or_uri)
        key = (path_or_uri, record.digest)
        if key in self._decoded:
            self._decoded.move_to_end(key)
            return self._decoded[key]
        outline = self._decoded[key] = self._index.outline(path_or_uri)
        if len(self._decoded) > DECODED_OUTLINES:
            self._decoded.popitem(last=False)
        return outline

    def imports_of(self, path_or_uri: str) -> tuple[ResolvedImport, ...]:
        return self._index.imports_of(path_or_uri)


class WorkspaceContext:
    """Per-document memory of the cross-file context shown; all methods run on the event loop."""

    def __init__(self) -> None:
        self._shown: dict[str, _Shown] = {}
        self._decoded: OrderedDict[tuple[str, bytes], Outline | None] = OrderedDict()

    def forget(self, uri: str) -> None:
        """The document closed: the next prompt for it starts afresh."""
        self._shown.pop(uri, None)

    def snippets(
        self,
        snapshot: DocumentSnapshot,
        template: Template,
        budget: Budget,
        index: WorkspaceIndex | None,
        counter: TokenCounter,
    ) -> tuple[Snippet, ...]:
        """The cross-file snippets for a prompt at `snapshot`, within `budget.cross_file_tokens`."""
        if index is None or budget.cross_file_tokens <= 0:
            return ()
        now = time.monotonic()
        shown = self._shown.get(snapshot.uri)
        if shown is not None and shown.expires > now:
            return shown.snippets
        path = uri_to_path(snapshot.uri)
        document = Document(
            path, snapshot.text, snapshot.offset, index.outline(snapshot.uri), index.imports_of(snapshot.uri)
        )
        found = candidates(
            document,
            _Outlines(index, self._decoded),
            lambda p: shown_path(index, p),
            windows(snapshot, template, budget).first_line,
            _others(index, snapshot.uri),
        )
        chosen = select(found, counter, budget.cross_file_tokens, shown.keys if shown is not None else ())
        result = snippets(chosen)
        self._shown[snapshot.uri] = _Shown(now + REFRESH_S, tuple(c.key for c in chosen), result)
        return result


def withheld(index: WorkspaceIndex | None, path: str) -> bool:
    """Must nothing of the file at `path` reach a model? True for a secret file (keys, .env, credentials: by
    its name, place or symlink target) and for one the ignore rules exclude (.gitignore, .kimiignore, the
    exclude setting). The one rule for a document's own prompt, an earlier prediction and context from others."""
    return is_secret_file(path) or (index is not None and index.excluded(path))


def _others(index: WorkspaceIndex, uri: str) -> list[tuple[str, str]]:
    """(path, text) of the other open documents that may be shown: not secret, not excluded."""
    others = []
    for document in index.documents:
        if document.uri != uri and not withheld(index, document.path):
            others.append((document.path, document.source.decode("utf-8", "replace")))
        if len(others) >= MAX_OTHER_DOCUMENTS:
            break
    return others


def shown_path(index: WorkspaceIndex | None, uri_or_path: str) -> str:
    """A path as the model sees it: relative to the innermost workspace folder that holds it, else its name."""
    path = uri_to_path(uri_or_path)
    roots = [r for r in (index.roots if index is not None else ()) if path.startswith(os.path.join(r, ""))]
    return os.path.relpath(path, max(roots, key=len)) if roots else os.path.basename(path)
