"""Syntax diagnostics from tree-sitter: pulled (textDocument/diagnostic, with resultId) by clients that
support it, pushed (publishDiagnostics) on every change to clients that do not."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..convert import SOURCE, lsp_diagnostic
from ..snapshot import LineIndex
from ..syntax import syntax_problems

if TYPE_CHECKING:
    from ..server import KimiLanguageServer

OPTIONS = lsp.DiagnosticOptions(identifier=SOURCE, inter_file_dependencies=False, workspace_diagnostics=False)


def client_pulls(ls: KimiLanguageServer) -> bool:
    text_document = ls.client_capabilities.text_document
    return text_document is not None and text_document.diagnostic is not None


def compute(ls: KimiLanguageServer, uri: str) -> tuple[int, list[lsp.Diagnostic]]:
    """(version, diagnostics) of an open document; none when diagnostics are off or it cannot be parsed."""
    document = ls.document(uri)
    version = document.version or 0
    if not ls.settings.features.diagnostics:
        return version, []
    parsed = ls.parsed(uri, version)
    if parsed is None:
        return version, []
    lines = LineIndex.of(document.source, ls.encoding)
    return version, [lsp_diagnostic(problem, lines) for problem in syntax_problems(parsed.tree)]


def push(ls: KimiLanguageServer, uri: str) -> None:
    if client_pulls(ls):
        return
    version, found = compute(ls, uri)
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=found))


def pull_diagnostics(ls: KimiLanguageServer, params: lsp.DocumentDiagnosticParams) -> lsp.DocumentDiagnosticReport:
    version, found = compute(ls, params.text_document.uri)
    result_id = f"{version}:{int(ls.settings.features.diagnostics)}"
    if params.previous_result_id == result_id:
        return lsp.RelatedUnchangedDocumentDiagnosticReport(result_id=result_id)
    return lsp.RelatedFullDocumentDiagnosticReport(items=found, result_id=result_id)
