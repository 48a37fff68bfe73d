"""Asking the model for code at a cursor: the one path that inline completion, completion and the syntax
fix share. Builds the prompt, runs the generation (stopping early at the block end), post-processes, and
turns engine failures into "no suggestion" plus a status change."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .. import context, postprocess
from ..engine_client import EngineError
from ..generation import Sampling
from ..snapshot import DocumentSnapshot
from ..syntax import count_errors
from ..templates import template_for
from ..trees import MAX_PARSE_BYTES
from ..index.languages import spec_for_path, spec_named

if TYPE_CHECKING:
    from ..server import KimiLanguageServer

log = logging.getLogger(__name__)


async def suggest(ls: KimiLanguageServer, snapshot: DocumentSnapshot, *, key: str, single_line: bool,
                  max_tokens: int | None = None) -> str | None:
    """The suggestion to insert at the snapshot's cursor, or None. Raises CancelledError if cancelled."""
    generator = ls.engines.generator
    if generator is None:
        return None
    template = template_for(ls.settings.model.profile)
    prompt = context.build(snapshot, template)
    spec = spec_named(snapshot.language_id) or spec_for_path(snapshot.uri)
    line_prefix = prompt.prefix.rsplit("\n", 1)[-1]
    sampling = Sampling(
        max_tokens or ls.settings.model.max_tokens,
        ls.settings.model.temperature,
        template.stop + (("\n",) if single_line else ()),
    )
    try:
        result = await generator.generate(
            key, prompt.text, sampling, ls.settings.debounce_ms / 1000,
            stop_at=lambda text: postprocess.block_end(text, line_prefix),
        )
    except EngineError as error:
        ls.engines.failed(error)
        return None
    if result is None:
        return None
    errors = None
    if spec is not None and len(prompt.prefix) + len(prompt.suffix) < MAX_PARSE_BYTES:
        errors = lambda text: count_errors(spec, text)  # noqa: E731
    return postprocess.finish(result.text, prompt.prefix, prompt.suffix, errors)
