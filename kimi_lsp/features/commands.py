"""workspace/executeCommand: the commands editors bind to buttons and keys.

pygls structures a command's arguments from its handler's type hints, so the hints must resolve at run time:
handlers name `CommandServer` (what they use of the server), not the server class. `kimi.status` and
`kimi.reindex` take no arguments; `kimi.explain` takes a document URI and a range, `kimi.rewrite` those and the
instruction (features/assist.py); a call with other arguments is answered with InvalidParams.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

from lsprotocol import types as lsp
from pygls.workspace import Workspace

from ..index.workspace import WorkspaceIndex
from ..model.host import EngineHost
from . import assist, diagnostics

if TYPE_CHECKING:
    from ..server import KimiLanguageServer


class CommandServer(diagnostics.DiagnosticsServer, Protocol):
    @property
    def engines(self) -> EngineHost: ...

    @property
    def index(self) -> WorkspaceIndex | None: ...

    @property
    def workspace(self) -> Workspace: ...


def status(ls: CommandServer) -> dict[str, object]:
    """The engine status, as in the kimi/status notification."""
    return ls.engines.status.to_json()


async def reindex(ls: CommandServer) -> dict[str, object]:
    """Re-walk the workspace (new ignore rules, files changed behind our back) and refresh diagnostics.
    Returns how many files the index holds and how many documents are open."""
    if ls.index is not None and ls.index.ready:  # while the first index runs, it already sees everything
        await ls.index.reindex()
    uris = [document.uri for document in ls.workspace.text_documents.values()]  # the keys are unquoted
    for uri in uris:
        diagnostics.push(ls, uri)
    return {"files": len(ls.index.files) if ls.index is not None else 0, "documents": len(uris)}


async def explain(ls: CommandServer, uri: str, where: lsp.Range) -> str | None:
    """The model's explanation of the range's lines, also shown with window/showMessage."""
    return await assist.explain(cast("KimiLanguageServer", ls), uri, where)


async def rewrite(ls: CommandServer, uri: str, where: lsp.Range, instruction: str) -> dict[str, bool]:
    """The range's lines rewritten as `instruction` says, applied with workspace/applyEdit: {"applied": bool}."""
    return await assist.rewrite(cast("KimiLanguageServer", ls), uri, where, instruction)
