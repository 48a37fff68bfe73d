"""Syntax diagnostics from tree-sitter, with the model's review findings beside them (features/review.py):
pulled (textDocument/diagnostic, with resultId) by clients that support it, pushed (publishDiagnostics) on every
change, and when a review finishes, to clients that do not."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Protocol, cast

from lsprotocol import types as lsp
from pygls.workspace import TextDocument

from ..convert import SOURCE, lsp_diagnostic
from ..index.documents import OpenDocument
from ..settings import Settings
from ..snapshot import LineIndex
from ..syntax import syntax_problems
from . import review

if TYPE_CHECKING:
    from ..server import KimiLanguageServer

OPTIONS = lsp.DiagnosticOptions(identifier=SOURCE, inter_file_dependencies=False, workspace_diagnostics=False)


class DiagnosticsServer(Protocol):
    """What diagnostics use of the server (a Protocol, so that command handlers' hints resolve at run time)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def encoding(self) -> str: ...

    @property
    def client_capabilities(self) -> lsp.ClientCapabilities: ...

    def document(self, uri: str) -> TextDocument: ...

    def parsed(self, uri: str, version: int) -> OpenDocument | None: ...

    def text_document_publish_diagnostics(self, params: lsp.PublishDiagnosticsParams) -> None: ...


def client_pulls(ls: DiagnosticsServer) -> bool:
    text_document = ls.client_capabilities.text_document
    return text_document is not None and text_document.diagnostic is not None


def compute(ls: DiagnosticsServer, uri: str) -> tuple[int, list[lsp.Diagnostic]]:
    """(version, diagnostics) of an open document; none when diagnostics are off or it cannot be parsed."""
    document = ls.document(uri)
    version = document.version or 0
    if not ls.settings.features.diagnostics:
        return version, []
    parsed = ls.parsed(uri, version)
    if parsed is None:
        return version, []
    lines = LineIndex.of(document.source, ls.encoding)
    found = [lsp_diagnostic(problem, lines) for problem in syntax_problems(parsed.tree)]
    return version, found + review.review_diagnostics(cast("KimiLanguageServer", ls), uri, version)


def push(ls: DiagnosticsServer, uri: str) -> None:
    if client_pulls(ls):
        return
    version, found = compute(ls, uri)
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=found))


def pull_diagnostics(ls: DiagnosticsServer, params: lsp.DocumentDiagnosticParams) -> lsp.DocumentDiagnosticReport:
    version, found = compute(ls, params.text_document.uri)
    # the version alone does not tell: a review's findings arrive later, for the same version
    digest = hashlib.blake2b(repr(found).encode(), digest_size=8).hexdigest()
    result_id = f"{version}:{int(ls.settings.features.diagnostics)}:{digest}"
    if params.previous_result_id == result_id:
        return lsp.RelatedUnchangedDocumentDiagnosticReport(result_id=result_id)
    return lsp.RelatedFullDocumentDiagnosticReport(items=found, result_id=result_id)
