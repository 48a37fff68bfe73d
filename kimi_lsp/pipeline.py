"""One request to the model, from a document snapshot to the text an editor inserts.

    snapshot -> prompt (prompt/: cross-file context, template, healing; credentials scrubbed)
             -> generation (model/: supersede, debounce, stream, stop early, abort)
             -> post-processing (cut at the block end, drop suffix overlap, reject new syntax errors)

Inline completion, completion and the quick fix all come through here, so every request to the model gets
the same rules: a secret file is never sent, credentials are scrubbed, engine failures become "no suggestion"
plus a status change. The pipeline receives what it needs (settings, the index, the engine host) and never
sees the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from . import postprocess
from .index.documents import OpenDocument, uri_to_path
from .index.languages import spec_for_path
from .index.secrets import is_secret_file, scrub_text
from .index.workspace import WorkspaceIndex
from .model.client import EngineError
from .model.generation import Generation, Sampling
from .model.host import EngineHost
from .model.tokenizer import counter_for
from .prompt import context, healing
from .prompt.context import Budget, Prompt
from .prompt.render import comment_for
from .prompt.templates import Template, template_for
from .settings import Settings
from .snapshot import DocumentSnapshot
from .syntax import errors_with_insertion
from .workspace_context import WorkspaceContext, shown_path

log = logging.getLogger(__name__)


class Pipeline:
    """Owns the engine host's use for suggestions and the per-document cache of cross-file snippets."""

    def __init__(self, engines: EngineHost) -> None:
        self.engines = engines
        self._context = WorkspaceContext()

    def forget(self, uri: str) -> None:
        """The document closed: drop what was cached for it."""
        self._context.forget(uri)

    async def suggest(
        self,
        snapshot: DocumentSnapshot,
        settings: Settings,
        index: WorkspaceIndex | None,
        *,
        key: str,
        single_line: bool,
        max_tokens: int | None = None,
    ) -> str | None:
        """The suggestion to insert at the snapshot's cursor, or None. Raises CancelledError if cancelled."""
        template = template_for(settings.model.profile)
        prompt = self._prompt(snapshot, settings, template, index)
        if prompt is None:
            return None
        tail = prompt.tail
        sampling = Sampling(
            max_tokens or settings.model.max_tokens,
            settings.model.temperature,
            # a newline in the tail is the model's to write: end the line in stop_at instead
            template.stop + (("\n",) if single_line and "\n" not in tail else ()),
        )
        body_end = partial(_body_end, prompt.prefix.rsplit("\n", 1)[-1], single_line)
        result = await self._generate(
            key, prompt, sampling, settings.debounce_ms / 1000, partial(healing.stop_at, tail=tail, body_end=body_end)
        )
        text = healing.unheal(result.text, tail) if result is not None else None
        if text is None:
            return None
        if single_line:
            text = text.split("\n", 1)[0]
        finished = postprocess.finish(text, prompt.prefix, prompt.suffix, _error_counter(index, snapshot))
        return _line_endings_of(snapshot, finished) if finished else finished

    async def fill_lines(
        self, hole: DocumentSnapshot, settings: Settings, index: WorkspaceIndex | None, original_chars: int, lines: int
    ) -> str | None:
        """The model's text for a hole of `lines` whole lines at the cursor (ending in a newline), or None.
        A model that continues the prefix has no end of its own: it gets as many lines as the hole had."""
        template = template_for(settings.model.profile)
        prompt = self._prompt(hole, settings, template, index)
        if prompt is None:
            return None

        def after_lines(body: str) -> int | None:
            return len(body) if body.count("\n") >= lines else None

        def enough(text: str) -> int | None:
            return healing.stop_at(text, prompt.tail, after_lines) if template.left_to_right else None

        sampling = Sampling(max(32, original_chars // 2), 0.0, template.stop)
        result = await self._generate(f"{hole.uri}#fix", prompt, sampling, 0.0, enough)
        text = healing.unheal(result.text, prompt.tail) if result is not None else None
        if text is None or not text.strip():
            return None
        if template.left_to_right:
            text = "".join(text.splitlines(keepends=True)[:lines])
        return text if text.endswith("\n") else text + "\n"

    async def ask(
        self,
        snapshot: DocumentSnapshot,
        settings: Settings,
        index: WorkspaceIndex | None,
        *,
        key: str,
        task: str,
        max_tokens: int,
        json_schema: str | None = None,
        stop: tuple[str, ...] = (),
    ) -> str | None:
        """The model's answer to `task` (an instruction about the document: review a function, write a doc
        comment), or None. The prompt is `_prompt`'s for the snapshot's cursor - the same refusals (no engine,
        secret or excluded file, cursor on a credential), scrubbing and cross-file context as a completion -
        followed by `task`, itself scrubbed of credentials. Greedy; the output is constrained to `json_schema`
        (a JSON Schema as text, SGLang's sampling parameter) when given. None as well when the engine fails or
        a newer request for `key` supersedes this one. Raises CancelledError if cancelled (the engine request
        is aborted)."""
        template = template_for(settings.model.profile)
        prompt = self._prompt(snapshot, settings, template, index)
        if prompt is None:
            return None
        asked = replace(prompt, text=prompt.text + scrub_text(task))
        sampling = Sampling(max_tokens, 0.0, template.stop + stop, json_schema)
        result = await self._generate(key, asked, sampling, 0.0, lambda text: None)
        return result.text if result is not None and result.finish_reason != "abort" else None

    def _prompt(
        self, snapshot: DocumentSnapshot, settings: Settings, template: Template, index: WorkspaceIndex | None
    ) -> Prompt | None:
        """The prompt for `snapshot`, or None when it must not reach a model: no engine, or a secret file, or one
        the ignore rules exclude (.gitignore, .kimiignore, the exclude setting)."""
        path = uri_to_path(snapshot.uri)
        if self.engines.usable() is None or is_secret_file(path) or (index is not None and index.excluded(path)):
            return None
        budget = Budget(
            settings.context.prompt_tokens, min(settings.context.cross_file_tokens, settings.context.prompt_tokens // 2)
        )
        counter = counter_for(settings.model.profile)
        language = spec.name if (spec := spec_for_path(path)) is not None else ""
        return context.build(
            snapshot,
            template,
            self._context.snippets(snapshot, template, budget, index, counter),
            budget,
            scrub=scrub_text,
            path=shown_path(index, snapshot.uri),
            comment=comment_for(language),
        )

    async def _generate(
        self, key: str, prompt: Prompt, sampling: Sampling, debounce_s: float, stop_at: Callable[[str], int | None]
    ) -> Generation | None:
        generator = self.engines.usable()
        if generator is None:
            return None
        try:
            return await generator.generate(key, prompt.text, sampling, debounce_s, stop_at=stop_at)
        except EngineError as error:
            self.engines.failed(error)
            return None


def _body_end(cursor_line_prefix: str, single_line: bool, text: str) -> int | None:
    """Where the completion (without the healed tail) ends: at its first newline (single_line), or where it
    leaves the cursor's block. None: keep going."""
    if single_line and "\n" in text:
        return text.index("\n")
    return postprocess.block_end(text, cursor_line_prefix)


def _line_endings_of(snapshot: DocumentSnapshot, text: str) -> str:
    """`text` (the model works on "\n") with the line endings of the document around the cursor."""
    around = snapshot.text[max(0, snapshot.offset - 4096) : snapshot.offset + 4096]
    return text.replace("\n", "\r\n") if "\r\n" in around else text


def _error_counter(index: WorkspaceIndex | None, snapshot: DocumentSnapshot) -> Callable[[str], int] | None:
    """Counts syntax errors in the document with a candidate inserted at the cursor (None: cannot parse)."""
    parsed = parsed_document(index, snapshot.uri, snapshot.version)
    if parsed is None:
        return None
    byte_offset = len(snapshot.prefix.encode("utf-8", "surrogatepass"))
    return partial(errors_with_insertion, parsed.spec, parsed.tree, parsed.source, byte_offset)


def parsed_document(index: WorkspaceIndex | None, uri: str, version: int) -> OpenDocument | None:
    """The open document's syntax tree at `version` (None: a language we do not parse, or a stale tree)."""
    document = index.documents.get(uri) if index is not None else None
    return document if document is not None and document.version == version else None
