"""The floor: a bare pygls server whose inline completion handler returns a constant. No kimi-lsp code."""

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

server = LanguageServer("bare", "0")


@server.feature(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, lsp.InlineCompletionOptions())
def inline_completion(params: lsp.InlineCompletionParams) -> lsp.InlineCompletionList:
    at = lsp.Range(start=params.position, end=params.position)
    return lsp.InlineCompletionList(items=[lsp.InlineCompletionItem(insert_text="return a + b", range=at)])


if __name__ == "__main__":
    server.start_io()
