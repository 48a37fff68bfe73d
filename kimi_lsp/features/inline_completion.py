"""textDocument/inlineCompletion: ghost text from the model at the cursor. An explicitly invoked request
(InlineCompletionTriggerKind.Invoked: the user asked, or cycles to the next suggestion) skips the debounce and
gets up to `model.suggestions` items, the suggestion first, then the pipeline's ranked alternatives; an
automatic one gets the one suggestion (typing must stay fast)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..convert import inline_list

if TYPE_CHECKING:
    from ..server import KimiLanguageServer


async def inline_completion(
    ls: KimiLanguageServer, params: lsp.InlineCompletionParams
) -> lsp.InlineCompletionList | None:
    if not ls.settings.features.inline_completion:
        return None
    snapshot = ls.snapshot(params.text_document.uri, params.position)
    invoked = params.context.trigger_kind == lsp.InlineCompletionTriggerKind.Invoked  # asked for: no debounce
    text = await ls.pipeline.suggest(
        snapshot, ls.settings, ls.index, key=snapshot.uri, single_line=False, invoked=invoked
    )
    if not text:
        return None
    count = ls.settings.model.suggestions - 1
    more = (
        await ls.pipeline.alternatives(
            snapshot, ls.settings, ls.index, key=f"{snapshot.uri}#samples", first=text, count=count
        )
        if invoked and count > 0
        else ()
    )
    return inline_list((text, *more), params.position)
