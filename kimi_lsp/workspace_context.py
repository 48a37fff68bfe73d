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
from dataclasses import dataclass

from .index.documents import uri_to_path
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


@dataclass(slots=True, frozen=True)
class _Shown:
    expires: float
    keys: tuple[str, ...]
    snippets: tuple[Snippet, ...]


class WorkspaceContext:
    """Per-document memory of the cross-file context shown; all methods run on the event loop."""

    def __init__(self) -> None:
        self._shown: dict[str, _Shown] = {}

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
            index,
            lambda p: shown_path(index, p),
            windows(snapshot, template, budget).first_line,
            _others(index, snapshot.uri),
        )
        chosen = select(found, counter, budget.cross_file_tokens, shown.keys if shown is not None else ())
        result = snippets(chosen)
        self._shown[snapshot.uri] = _Shown(now + REFRESH_S, tuple(c.key for c in chosen), result)
        return result


def _others(index: WorkspaceIndex, uri: str) -> list[tuple[str, str]]:
    """(path, text) of the other open documents that may be shown: not secret, not excluded."""
    others = []
    for document in index.documents:
        if document.uri != uri and not is_secret_file(document.path) and not index.excluded(document.path):
            others.append((document.path, document.source.decode("utf-8", "replace")))
        if len(others) >= MAX_OTHER_DOCUMENTS:
            break
    return others


def shown_path(index: WorkspaceIndex | None, uri_or_path: str) -> str:
    """A path as the model sees it: relative to the innermost workspace folder that holds it, else its name."""
    path = uri_to_path(uri_or_path)
    roots = [r for r in (index.roots if index is not None else ()) if path.startswith(os.path.join(r, ""))]
    return os.path.relpath(path, max(roots, key=len)) if roots else os.path.basename(path)
