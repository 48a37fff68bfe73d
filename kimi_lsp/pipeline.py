"""One request to the model, from a document snapshot to the text an editor inserts.

    snapshot -> prompt (prompt/: cross-file context, template, healing; credentials scrubbed)
             -> generation (model/: supersede, debounce, stream, stop early, abort)
             -> post-processing (cut at the block end, drop suffix overlap, reject new syntax errors)

Inline completion, completion and the quick fix all come through here, so every request to the model gets
the same rules: a secret file is never sent, credentials are scrubbed, engine failures become "no suggestion"
plus a status change. The pipeline receives what it needs (settings, the index, the engine host, the open
documents' versions) and never sees the server.

Less waiting, no waste (`suggest`): per key (a document and feature) the last prediction asked of the engine
is kept with its anchor (typed_through.py). A request whose document is that one with the predicted text typed
at its cursor is answered from the rest of the prediction, post-processed for the new cursor, with no new
engine request; if the prediction is still streaming and may still serve, the stream is kept (followed)
instead of superseded. An identical request (same version and cursor) gets the last answer. Otherwise one new
request goes to the engine, superseding the one in flight for the key (at most one per key), after the
debounce (none for an explicitly invoked request). An answer is given only to the newest request for its key,
and only while the document is still at the version it was computed for.

Several suggestions (`alternatives`): for a suggestion the user asked for, more ones to cycle through come
from one engine request for SAMPLES_PER_SLOT samples per slot at SAMPLE_TEMPERATURE (SGLang's parallel
sampling: the prompt, already in the engine's prefix cache from the suggestion itself, is prefilled once for
all of them), each post-processed like the suggestion, deduplicated against it and each other, and ranked by
how many samples agree on it (`ranked`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from . import postprocess, typed_through
from .index.documents import OpenDocument, uri_to_path
from .index.languages import spec_for_path
from .index.secrets import scrub_text, secret_at
from .index.workspace import WorkspaceIndex
from .model.client import EngineError
from .model.generation import Flight, Generation, Generator, Sampling
from .model.host import EngineHost
from .model.tokenizer import counter_for
from .prompt import context, healing
from .prompt.context import Budget, Prompt
from .prompt.render import comment_for
from .prompt.templates import Template, template_for
from .settings import Settings
from .snapshot import DocumentSnapshot
from .syntax import errors_with_insertion
from .typed_through import Anchor
from .workspace_context import WorkspaceContext, shown_path, withheld

log = logging.getLogger(__name__)
# a request whose caller was cancelled keeps its stream this long for a newer request it may serve: editors
# cancel the last request on every keystroke, before they send the next one
ORPHAN_GRACE_S = 0.25
NEARBY_CHARS = 4096  # of the document on each side of the cursor, for post-processing a reused prediction
MIN_PROMPT_TOKENS = 256  # a prompt keeps at least this much, whatever the answer reserves
SAMPLE_TEMPERATURE = 0.8  # at least, for alternatives: greedy samples would all equal the suggestion
SAMPLES_PER_SLOT = 2  # samples asked for per alternative wanted: duplicates vote, and the slots still fill


@dataclass(slots=True, frozen=True)
class _Asked:
    """The last prediction asked of the engine for a key: where, the flight that streams it, on which engine."""

    anchor: Anchor
    flight: Flight
    generator: Generator


@dataclass(slots=True, frozen=True)
class _Answered:
    """The last answer given for a key, and the request it answered (an identical one gets it again)."""

    uri: str
    version: int
    offset: int
    mode: tuple[object, ...]
    generator: Generator
    text: str | None


class Pipeline:
    """Owns the engine host's use for suggestions, the per-document cache of cross-file snippets, and per key the
    last prediction and answer (for typed-through reuse). `version_of(uri)`: the open document's version now
    (None: unknown), so that no answer computed for an older version is given."""

    def __init__(self, engines: EngineHost, version_of: Callable[[str], int | None] = lambda uri: None) -> None:
        self.engines = engines
        self._version_of = version_of
        self._context = WorkspaceContext()
        self._asked: dict[str, _Asked] = {}
        self._answered: dict[str, _Answered] = {}
        self._newest: dict[str, int] = {}  # key -> the number of its newest request
        self._numbers = itertools.count()

    def forget(self, uri: str) -> None:
        """The document closed: drop what was cached for it."""
        self._context.forget(uri)
        for key in [key for key, asked in self._asked.items() if asked.anchor.uri == uri]:
            del self._asked[key]
        for key in [key for key, answered in self._answered.items() if answered.uri == uri]:
            del self._answered[key]
        for key in [key for key in self._newest if key == uri or key.startswith(f"{uri}#")]:
            del self._newest[key]

    async def suggest(
        self,
        snapshot: DocumentSnapshot,
        settings: Settings,
        index: WorkspaceIndex | None,
        *,
        key: str,
        single_line: bool,
        max_tokens: int | None = None,
        invoked: bool = False,
    ) -> str | None:
        """The suggestion to insert at the snapshot's cursor, or None. Answered from the last prediction for `key`
        when the user typed what it predicted (module docstring); else from a new engine request, debounced
        unless `invoked` (the user asked explicitly). None as well when a newer request for `key` came, or the
        document moved past the snapshot's version. Raises CancelledError if cancelled."""
        number = next(self._numbers)
        self._newest[key] = number
        generator = self.engines.usable()
        if generator is None:
            return None
        max_new = max_tokens or settings.model.max_tokens
        mode: tuple[object, ...] = (settings.model.profile, max_new, settings.model.temperature, single_line)
        answered = self._answered.get(key)
        if (
            answered is not None
            and (answered.uri, answered.version, answered.offset) == (snapshot.uri, snapshot.version, snapshot.offset)
            and (answered.mode, answered.generator) == (mode, generator)
            and self._may_reuse(snapshot, index)
        ):
            return answered.text  # an identical request
        served, reused = await self._typed_through(key, snapshot, index, generator, mode, single_line)
        if served or self._newest.get(key) != number:
            return self._answer(key, number, snapshot, mode, generator, reused)
        template = template_for(settings.model.profile)
        prompt = self._prompt(snapshot, settings, template, index, max(max_new, settings.model.max_tokens))
        if prompt is None:
            return None
        tail = prompt.tail
        sampling = Sampling(
            max_new,
            settings.model.temperature,
            # a newline in the tail is the model's to write: end the line in stop_at instead
            template.stop + (("\n",) if single_line and "\n" not in tail else ()),
        )
        debounce_s = 0.0 if invoked else generator.debounce(settings.debounce_ms / 1000)
        flight = generator.start(key, prompt.text, sampling, debounce_s, _stop_rule(snapshot, tail, single_line))
        self._asked[key] = _Asked(typed_through.anchor(snapshot, tail, mode), flight, generator)
        result = await self._wait(generator, flight)
        text = healing.unheal(result.text, tail) if result is not None else None
        if text is None:
            return None
        finished = _finish(text, prompt.prefix, prompt.suffix, snapshot, index, single_line)
        return self._answer(key, number, snapshot, mode, generator, finished)

    async def alternatives(
        self,
        snapshot: DocumentSnapshot,
        settings: Settings,
        index: WorkspaceIndex | None,
        *,
        key: str,
        first: str,
        count: int,
    ) -> tuple[str, ...]:
        """Up to `count` other suggestions at the snapshot's cursor than `first` (the one `suggest` gave), best
        first (module docstring). The prompt is `_prompt`'s (the same refusals and scrubbing); sampled at
        SAMPLE_TEMPERATURE or the setting if higher. Empty when the engine fails, a newer request for `key`
        supersedes this one, or the document moved past the snapshot's version. Raises CancelledError if
        cancelled (the engine request is aborted)."""
        template = template_for(settings.model.profile)
        prompt = self._prompt(snapshot, settings, template, index, settings.model.max_tokens)
        generator = self.engines.usable()
        if prompt is None or generator is None or count < 1:
            return ()
        temperature = max(SAMPLE_TEMPERATURE, settings.model.temperature)
        sampling = Sampling(settings.model.max_tokens, temperature, template.stop)
        stop_rule = _stop_rule(snapshot, prompt.tail, False)
        try:
            samples = await generator.sample(key, prompt.text, sampling, count * SAMPLES_PER_SLOT, stop_rule)
        except EngineError:
            return ()  # the host was told (the generator's on_error)
        if samples is None or self._version_of(snapshot.uri) not in (None, snapshot.version):
            return ()
        finished = [
            _finish(text, prompt.prefix, prompt.suffix, snapshot, index, False)
            for sample in samples
            if (text := healing.unheal(sample, prompt.tail)) is not None
        ]
        return ranked(first, finished)[:count]

    async def _typed_through(
        self,
        key: str,
        snapshot: DocumentSnapshot,
        index: WorkspaceIndex | None,
        generator: Generator,
        mode: tuple[object, ...],
        single_line: bool,
    ) -> tuple[bool, str | None]:
        """(served, answer): whether the key's last prediction serves the snapshot (it typed through it), and then
        the answer: its rest, post-processed. Not served: no prediction, another document or mode, it predicted
        something else, or nothing of it is left. A rest that post-processing turns into no suggestion serves
        too when the prediction was complete (the model ended it, or it reached the block's end): a fresh request
        would start with the same text; not when it was cut short (a fresh one would go on further). A
        prediction still streaming that may serve is followed and waited for."""
        asked = self._asked.get(key)
        if asked is None or asked.anchor.mode != mode or asked.generator is not generator:
            return False, None
        need = typed_through.typed(asked.anchor, snapshot)
        if need is None or not self._may_reuse(snapshot, index):
            return False, None
        flight = asked.flight
        if not flight.done and flight.streaming and typed_through.may_serve(flight.text, need):
            generator.follow(flight, _stop_rule(snapshot, need, single_line))
            await self._wait(generator, flight)
        if not flight.done:
            return False, None  # still debouncing, or it cannot serve: a new request supersedes it
        rest = typed_through.rest(flight.text, need)
        if not rest:
            return False, None
        before = snapshot.text[max(0, snapshot.offset - NEARBY_CHARS) : snapshot.offset].replace("\r\n", "\n")
        after = snapshot.text[snapshot.offset : snapshot.offset + NEARBY_CHARS].replace("\r\n", "\n")
        answer = _finish(rest, before, after, snapshot, index, single_line)
        return answer is not None or flight.finish in ("stop", "cut"), answer

    def _may_reuse(self, snapshot: DocumentSnapshot, index: WorkspaceIndex | None) -> bool:
        """Whether an earlier prediction for this document may be shown at `snapshot`: where `_prompt` would
        allow a new one (an engine is usable, the document is not withheld now, the cursor is not on a credential)."""
        if self.engines.usable() is None or secret_at(snapshot.text, snapshot.offset):
            return False
        return not withheld(index, uri_to_path(snapshot.uri))

    def _answer(
        self,
        key: str,
        number: int,
        snapshot: DocumentSnapshot,
        mode: tuple[object, ...],
        generator: Generator,
        text: str | None,
    ) -> str | None:
        """`text`, if request `number` is still the newest for `key` and the document is still at the snapshot's
        version (remembered for an identical request); else None."""
        if self._newest.get(key) != number or self._version_of(snapshot.uri) not in (None, snapshot.version):
            return None
        self._answered[key] = _Answered(snapshot.uri, snapshot.version, snapshot.offset, mode, generator, text)
        return text

    async def _wait(self, generator: Generator, flight: Flight) -> Generation | None:
        try:
            return await generator.wait(flight, ORPHAN_GRACE_S)
        except EngineError:
            return None  # the host was told (the generator's on_error)

    async def fill_lines(
        self, hole: DocumentSnapshot, settings: Settings, index: WorkspaceIndex | None, original_chars: int, lines: int
    ) -> str | None:
        """The model's text for a hole of `lines` whole lines at the cursor (ending in a newline), or None.
        A model that continues the prefix has no end of its own: it gets as many lines as the hole had."""
        template = template_for(settings.model.profile)
        max_new = max(32, original_chars // 2)
        prompt = self._prompt(hole, settings, template, index, max_new)
        if prompt is None:
            return None

        def after_lines(body: str) -> int | None:
            return len(body) if body.count("\n") >= lines else None

        def enough(text: str) -> int | None:
            return healing.stop_at(text, prompt.tail, after_lines) if template.left_to_right else None

        sampling = Sampling(max_new, 0.0, template.stop)
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
        task = scrub_text(task)
        reserve = max_tokens + counter_for(settings.model.profile).count(task)
        prompt = self._prompt(snapshot, settings, template, index, reserve)
        if prompt is None:
            return None
        asked = replace(prompt, text=prompt.text + task)
        sampling = Sampling(max_tokens, 0.0, template.stop + stop, json_schema)
        result = await self._generate(key, asked, sampling, 0.0, lambda text: None)
        return result.text if result is not None and result.finish_reason != "abort" else None

    def _prompt(
        self,
        snapshot: DocumentSnapshot,
        settings: Settings,
        template: Template,
        index: WorkspaceIndex | None,
        reserve: int,
    ) -> Prompt | None:
        """The prompt for `snapshot`, or None when it must not reach a model: no engine, or a secret file, or one
        the ignore rules exclude (.gitignore, .kimiignore, the exclude setting), or a cursor inside a credential
        (the two halves would be scrubbed apart, and might each pass). `context.promptTokens` is the model's
        window, which the prompt shares with what comes after it: `reserve` tokens (the answer's max_new_tokens,
        and a task's instruction) are kept free, so the engine never refuses a request as too long."""
        path = uri_to_path(snapshot.uri)
        if self.engines.usable() is None or withheld(index, path):
            return None
        if secret_at(snapshot.text, snapshot.offset):
            return None
        prompt_tokens = max(MIN_PROMPT_TOKENS, settings.context.prompt_tokens - reserve)
        budget = Budget(prompt_tokens, min(settings.context.cross_file_tokens, prompt_tokens // 2))
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
        except EngineError:
            return None  # the host was told (the generator's on_error)


def ranked(first: str, candidates: list[str | None]) -> tuple[str, ...]:
    """The distinct `candidates` other than `first` and None (no suggestion), most frequent first (samples
    that agree vote for it), ties in their order. Texts equal but for trailing whitespace are one. Pure."""
    votes: dict[str, int] = {}
    for candidate in candidates:
        if candidate is not None and candidate.strip() and candidate.rstrip() != first.rstrip():
            votes[candidate.rstrip()] = votes.get(candidate.rstrip(), 0) + 1
    shown = {candidate.rstrip(): candidate for candidate in reversed(candidates) if candidate is not None}
    order = sorted(votes, key=lambda text: -votes[text])  # stable: ties keep the candidates' order
    return tuple(shown[text] for text in order)


def _stop_rule(snapshot: DocumentSnapshot, need: str, single_line: bool) -> Callable[[str], int | None]:
    """When to stop reading a stream for `snapshot`: the model's text must start with `need` (the healed
    whitespace, or that plus what was typed since the prompt), then it ends at the cursor's block end."""
    line_start = snapshot.text.rfind("\n", 0, snapshot.offset) + 1
    body_end = partial(_body_end, snapshot.text[line_start : snapshot.offset], single_line)
    return partial(healing.stop_at, tail=need, body_end=body_end)


def _finish(
    text: str, prefix: str, suffix: str, snapshot: DocumentSnapshot, index: WorkspaceIndex | None, single_line: bool
) -> str | None:
    """Post-processing of the model's text at the snapshot's cursor, in the document's line endings."""
    if single_line:
        text = text.split("\n", 1)[0]
    finished = postprocess.finish(text, prefix, suffix, _error_counter(index, snapshot))
    return _line_endings_of(snapshot, finished) if finished else finished


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
