"""Asking the model for code at a cursor: the one path that inline completion and completion share.

Builds the prompt (cross-file snippets from the index, credentials scrubbed; secret files are never sent),
runs the generation (stopping early at the block end), post-processes, and turns engine failures into
"no suggestion" plus a status change."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from .. import context, healing, postprocess
from ..engine_client import EngineError
from ..generation import Sampling
from ..snapshot import DocumentSnapshot
from ..index.documents import uri_to_path
from ..index.secrets import is_secret_file, scrub_text
from ..repo_context import import_snippets
from ..syntax import errors_with_insertion
from ..templates import Snippet
from ..templates import template_for

if TYPE_CHECKING:
    from ..server import KimiLanguageServer

log = logging.getLogger(__name__)
SNIPPET_TTL_S = 2.0


async def suggest(ls: KimiLanguageServer, snapshot: DocumentSnapshot, *, key: str, single_line: bool,
                  max_tokens: int | None = None) -> str | None:
    """The suggestion to insert at the snapshot's cursor, or None. Raises CancelledError if cancelled."""
    generator = ls.engines.generator
    if generator is None or is_secret_file(uri_to_path(snapshot.uri)):
        return None
    template = template_for(ls.settings.model.profile)
    prompt = context.build(snapshot, template, cross_file_snippets(ls, snapshot.uri), scrub=scrub_text,
                           path=shown_path(ls, snapshot.uri))
    tail = prompt.tail
    sampling = Sampling(
        max_tokens or ls.settings.model.max_tokens,
        ls.settings.model.temperature,
        # a newline in the tail is the model's to write: end the line in stop_at instead
        template.stop + (("\n",) if single_line and "\n" not in tail else ()),
    )
    try:
        result = await generator.generate(
            key, prompt.text, sampling, ls.settings.debounce_ms / 1000,
            stop_at=partial(healing.stop_at, tail=tail,
                            body_end=partial(_body_end, prompt.prefix.rsplit("\n", 1)[-1], single_line)),
        )
    except EngineError as error:
        ls.engines.failed(error)
        return None
    if result is None:
        return None
    text = healing.unheal(result.text, tail)
    if text is None:
        return None
    if single_line:
        text = text.split("\n", 1)[0]
    return postprocess.finish(text, prompt.prefix, prompt.suffix, _error_counter(ls, snapshot))


def _body_end(cursor_line_prefix: str, single_line: bool, text: str) -> int | None:
    """Where the completion (without the healed tail) ends: at its first newline (single_line), or where it
    leaves the cursor's block. None: keep going."""
    if single_line and "\n" in text:
        return text.index("\n")
    return postprocess.block_end(text, cursor_line_prefix)


def _error_counter(ls: KimiLanguageServer, snapshot: DocumentSnapshot) -> Callable[[str], int] | None:
    """Counts syntax errors in the document with a candidate inserted at the cursor (None: cannot parse)."""
    parsed = ls.parsed(snapshot.uri, snapshot.version)
    if parsed is None:
        return None
    byte_offset = len(snapshot.prefix.encode("utf-8", "surrogatepass"))
    return partial(errors_with_insertion, parsed.spec, parsed.tree, parsed.source, byte_offset)


def shown_path(ls: KimiLanguageServer, uri: str) -> str:
    """The document's path as the model sees it: relative to the workspace root, else its file name."""
    path = uri_to_path(uri)
    root = ls.index.roots[0] if ls.index is not None and ls.index.roots else None
    if root is not None and path.startswith(os.path.join(root, "")):
        return os.path.relpath(path, root)
    return os.path.basename(path)


def cross_file_snippets(ls: KimiLanguageServer, uri: str) -> tuple[Snippet, ...]:
    """Outlines of the workspace files this document imports, from the index; recomputed at most every
    SNIPPET_TTL_S per document (resolving imports on every keystroke would cost more than the rest of a
    request, and context a second old is as good)."""
    index = ls.index
    if index is None:
        return ()
    now = time.monotonic()
    cached = ls.snippet_cache.get(uri)
    if cached is not None and cached[0] > now:
        return cached[1]
    root = index.roots[0] if index.roots else None
    snippets = import_snippets(uri_to_path(uri), index.imports_of(uri), index.outline, root)
    ls.snippet_cache[uri] = (now + SNIPPET_TTL_S, snippets)
    return snippets
