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


def reindex(ls: KimiLanguageServer, *args: Any) -> dict[str, object]:
    """Re-parse every open document and refresh its diagnostics. Returns how many documents were refreshed."""
    uris = list(ls.workspace.text_documents)
    for uri in uris:
        ls.trees.forget(uri)
        diagnostics.push(ls, uri)
    return {"documents": len(uris)}


COMMANDS: dict[str, Callable[..., Any]] = {"kimi.status": status, "kimi.reindex": reindex}
