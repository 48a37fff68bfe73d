"""Pure converters between our types and lsprotocol types. No server state, no I/O.

Positions from the index are 0-based lines and UTF-16 columns; for a client that negotiated another encoding,
a `Recode` built from the line's text converts the columns of non-ASCII lines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

from lsprotocol import types as lsp

from .index.model import Definition, Span, SymbolLocation
from .review import Finding
from .snapshot import UTF16, LineIndex, Position, byte_column_to_character, units
from .syntax import SyntaxProblem

SOURCE = "kimi-lsp"
REVIEW_SOURCE, REVIEW_CODE = "kimi", "review"  # the model's review findings (review.py)
REVIEW_SEVERITIES: dict[str, lsp.DiagnosticSeverity] = {
    "error": lsp.DiagnosticSeverity.Error,
    "warning": lsp.DiagnosticSeverity.Warning,
    "information": lsp.DiagnosticSeverity.Information,
    "hint": lsp.DiagnosticSeverity.Hint,
}
Recode = Callable[[int, int], int]  # (line, UTF-16 column) -> column in the client's encoding

SYMBOL_KINDS: dict[str, lsp.SymbolKind] = {
    "module": lsp.SymbolKind.Module,
    "namespace": lsp.SymbolKind.Namespace,
    "class": lsp.SymbolKind.Class,
    "interface": lsp.SymbolKind.Interface,
    "struct": lsp.SymbolKind.Struct,
    "enum": lsp.SymbolKind.Enum,
    "trait": lsp.SymbolKind.Interface,
    "impl": lsp.SymbolKind.Object,
    "type": lsp.SymbolKind.TypeParameter,
    "function": lsp.SymbolKind.Function,
    "method": lsp.SymbolKind.Method,
    "constructor": lsp.SymbolKind.Constructor,
    "field": lsp.SymbolKind.Field,
    "variable": lsp.SymbolKind.Variable,
    "constant": lsp.SymbolKind.Constant,
    "macro": lsp.SymbolKind.Function,
}
COMPLETION_KINDS: dict[str, lsp.CompletionItemKind] = {
    "module": lsp.CompletionItemKind.Module,
    "namespace": lsp.CompletionItemKind.Module,
    "class": lsp.CompletionItemKind.Class,
    "interface": lsp.CompletionItemKind.Interface,
    "struct": lsp.CompletionItemKind.Struct,
    "enum": lsp.CompletionItemKind.Enum,
    "trait": lsp.CompletionItemKind.Interface,
    "impl": lsp.CompletionItemKind.Class,
    "type": lsp.CompletionItemKind.Class,
    "function": lsp.CompletionItemKind.Function,
    "method": lsp.CompletionItemKind.Method,
    "constructor": lsp.CompletionItemKind.Constructor,
    "field": lsp.CompletionItemKind.Field,
    "variable": lsp.CompletionItemKind.Variable,
    "constant": lsp.CompletionItemKind.Constant,
    "macro": lsp.CompletionItemKind.Function,
}


def lsp_position(position: Position) -> lsp.Position:
    return lsp.Position(line=position.line, character=position.character)


def point_to_position(point: tuple[int, int], lines: LineIndex) -> lsp.Position:
    """A tree-sitter point (row, utf-8 byte column) -> an LSP position in the index's encoding."""
    row, byte_column = point
    if row >= len(lines.starts):
        return lsp_position(lines.position(len(lines.text)))
    start = lines.starts[row]
    end = lines.starts[row + 1] if row + 1 < len(lines.starts) else len(lines.text)
    line_bytes = lines.text[start:end].encode("utf-8", "surrogatepass")
    return lsp.Position(line=row, character=byte_column_to_character(line_bytes, byte_column, lines.encoding))


def lsp_diagnostic(problem: SyntaxProblem, lines: LineIndex) -> lsp.Diagnostic:
    start = point_to_position(problem.start, lines)
    end = point_to_position(problem.end, lines)
    if (end.line, end.character) == (start.line, start.character):  # MISSING nodes are empty: show one char
        end = lsp.Position(line=start.line, character=start.character + 1)
    return lsp.Diagnostic(
        range=lsp.Range(start=start, end=end),
        message=problem.message,
        severity=lsp.DiagnosticSeverity.Error,
        source=SOURCE,
        code="syntax",
    )


def inline_list(texts: tuple[str, ...], position: lsp.Position) -> lsp.InlineCompletionList:
    """Ghost-text suggestions inserted at the cursor, in their order (the editor shows the first)."""
    at = lsp.Range(start=position, end=position)
    return lsp.InlineCompletionList(items=[lsp.InlineCompletionItem(insert_text=text, range=at) for text in texts])


def model_item(word: str, suggestion: str, word_start: lsp.Position, cursor: lsp.Position) -> lsp.CompletionItem:
    """The model's suggestion as a completion item replacing the word being typed."""
    label = word + suggestion
    return lsp.CompletionItem(
        label=label,
        kind=lsp.CompletionItemKind.Snippet,
        detail="Kimi",
        sort_text=f"0{label}",
        filter_text=label,
        insert_text_format=lsp.InsertTextFormat.PlainText,
        text_edit=lsp.TextEdit(range=lsp.Range(start=word_start, end=cursor), new_text=label),
    )


def line_range(first_line: int, last_line: int, num_lines: int, last_line_length: int) -> lsp.Range:
    """The range covering whole lines first..last (inclusive), ending at the next line's start if any."""
    if last_line + 1 < num_lines:
        end = lsp.Position(line=last_line + 1, character=0)
    else:
        end = lsp.Position(line=last_line, character=last_line_length)
    return lsp.Range(start=lsp.Position(line=first_line, character=0), end=end)


def _same(line: int, col: int) -> int:
    return col


def recoder(source: bytes, encoding: str) -> Recode:
    """Converts UTF-16 columns of `source` (UTF-8 bytes, lines split at \\n as tree-sitter counts them) to
    `encoding` columns. Identity for UTF-16 clients and on ASCII lines."""
    if encoding == UTF16 or source.isascii():  # most source files: no line to split
        return _same
    lines = source.split(b"\n")

    def recode(line: int, col: int) -> int:
        if not 0 <= line < len(lines) or lines[line].isascii():
            return col
        text, seen = lines[line].decode("utf-8", "replace"), 0
        for i, ch in enumerate(text):
            if seen >= col:
                return units(text[:i], encoding)
            seen += 2 if ord(ch) > 0xFFFF else 1
        return units(text, encoding)

    return recode


def lsp_range(span: Span, recode: Recode = _same) -> lsp.Range:
    return lsp.Range(
        start=lsp.Position(line=span.start_line, character=recode(span.start_line, span.start_col)),
        end=lsp.Position(line=span.end_line, character=recode(span.end_line, span.end_col)),
    )


def document_symbol_tree(definitions: Sequence[Definition], recode: Recode = _same) -> list[lsp.DocumentSymbol]:
    """The outline as nested DocumentSymbols (children under their parent definition)."""
    children: list[list[lsp.DocumentSymbol]] = [[] for _ in definitions]
    symbols = [
        lsp.DocumentSymbol(
            name=d.name,
            kind=SYMBOL_KINDS.get(d.kind, lsp.SymbolKind.Variable),
            range=lsp_range(d.span, recode),
            selection_range=lsp_range(d.name_span, recode),
            detail=d.signature or None,
            children=kids,
        )
        for d, kids in zip(definitions, children)
    ]
    roots: list[lsp.DocumentSymbol] = []
    for d, symbol in zip(definitions, symbols):
        (children[d.parent] if 0 <= d.parent < len(symbols) else roots).append(symbol)
    return roots


def workspace_symbol(location: SymbolLocation, recode: Recode = _same) -> lsp.WorkspaceSymbol:
    end_col = location.col + len(location.name.encode("utf-16-le")) // 2
    start = lsp.Position(line=location.line, character=recode(location.line, location.col))
    end = lsp.Position(line=location.line, character=recode(location.line, end_col))
    uri, name = uri_and_name(location.path)
    return lsp.WorkspaceSymbol(
        name=location.name,
        kind=SYMBOL_KINDS.get(location.kind, lsp.SymbolKind.Variable),
        location=lsp.Location(uri=uri, range=lsp.Range(start=start, end=end)),
        container_name=name,
    )


@lru_cache(maxsize=4096)
def uri_and_name(path: str) -> tuple[str, str]:
    """A file's URI and name: a results list names the same file many times, and a Path costs 10 us."""
    p = Path(path)
    return p.as_uri(), p.name


def member_item(definition: Definition) -> lsp.CompletionItem:
    doc = lsp.MarkupContent(kind=lsp.MarkupKind.PlainText, value=definition.doc) if definition.doc else None
    return lsp.CompletionItem(
        label=definition.name,
        kind=COMPLETION_KINDS.get(definition.kind),
        detail=definition.signature or None,
        documentation=doc,
        sort_text="1" + definition.name,
    )


def class_member_item(definition: Definition, owner: str, depth: int) -> lsp.CompletionItem:
    """A member of the class around the cursor (depth 0) or of a base `depth` classes up: the class that
    defines it is shown beside the name; nearer classes sort first, and dunder names after the rest."""
    doc = lsp.MarkupContent(kind=lsp.MarkupKind.PlainText, value=definition.doc) if definition.doc else None
    dunder = definition.name.startswith("__") and definition.name.endswith("__")
    return lsp.CompletionItem(
        label=definition.name,
        label_details=lsp.CompletionItemLabelDetails(description=owner),
        kind=COMPLETION_KINDS.get(definition.kind),
        detail=definition.signature or None,
        documentation=doc,
        sort_text=f"1{int(dunder)}{min(depth, 9)}{definition.name}",
    )


def review_diagnostic(finding: Finding, lines: Sequence[str], encoding: str) -> lsp.Diagnostic:
    """A review finding (lines placed in the document, `lines` its text split as LSP splits it) as a diagnostic
    from the first non-blank character of its first line to the end of its last line."""
    first = lines[finding.start_line] if finding.start_line < len(lines) else ""
    last = lines[finding.end_line] if finding.end_line < len(lines) else ""
    indent = first[: len(first) - len(first.lstrip())]
    return lsp.Diagnostic(
        range=lsp.Range(
            start=lsp.Position(line=finding.start_line, character=units(indent, encoding)),
            end=lsp.Position(line=finding.end_line, character=units(last, encoding)),
        ),
        message=finding.message,
        severity=REVIEW_SEVERITIES[finding.severity],
        source=REVIEW_SOURCE,
        code=REVIEW_CODE,
    )
