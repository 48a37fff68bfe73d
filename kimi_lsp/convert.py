"""Pure converters between our types and lsprotocol types. No server state, no I/O."""

from __future__ import annotations

from lsprotocol import types as lsp

from .snapshot import LineIndex, Position, byte_column_to_character
from .syntax import SyntaxProblem

SOURCE = "kimi-lsp"

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


def inline_list(text: str, position: lsp.Position) -> lsp.InlineCompletionList:
    """One ghost-text suggestion inserted at the cursor."""
    at = lsp.Range(start=position, end=position)
    return lsp.InlineCompletionList(items=[lsp.InlineCompletionItem(insert_text=text, range=at)])


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
