"""workspace/executeCommand: the commands editors bind to buttons and keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import diagnostics

if TYPE_CHECKING:
    from ..server import KimiLanguageServer


def status(ls: KimiLanguageServer, *args: Any) -> dict[str, object]:
    """The engine status, as in the kimi/status notification."""
    return ls.engines.status.to_json()


async def reindex(ls: KimiLanguageServer, *args: Any) -> dict[str, object]:
    """Re-walk the workspace (new ignore rules, files changed behind our back) and refresh diagnostics.
    Returns how many files the index holds and how many documents are open."""
    if ls.index is not None and ls.index.ready:  # while the first index runs, it already sees everything
        await ls.index.reindex()
    uris = list(ls.workspace.text_documents)
    for uri in uris:
        diagnostics.push(ls, uri)
    return {"files": len(ls.index.files) if ls.index is not None else 0, "documents": len(uris)}


COMMANDS: dict[str, Callable[..., Any]] = {"kimi.status": status, "kimi.reindex": reindex}
