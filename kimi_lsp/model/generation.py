"""Running one generation against the engine: supersede, debounce, stream, stop early, abort.

Owns the life of a model request. For each key (a document URI) at most one generation is in flight: a new
one cancels the older, whose handler then answers "no suggestion". Whenever a generation ends before the
engine finished (superseded, the LSP request was cancelled, or `stop_at` decided the text is complete) the
engine is told to abort that request id, so no GPU time is spent on text nobody will see.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from .client import Engine, EngineError, FinishReason, GenerateRequest

log = logging.getLogger(__name__)


class Generation(NamedTuple):
    text: str
    finish_reason: FinishReason  # "cut": stop_at ended it; "abort": it ended without finishing
    prompt_tokens: int
    cached_tokens: int
    latency_ms: float


@dataclass(slots=True, frozen=True)
class Sampling:
    max_new_tokens: int
    temperature: float
    stop: tuple[str, ...]
    json_schema: str | None = None  # constrain the output to this JSON Schema (text), as SGLang's sampling param


class Generator:
    """Runs generations on one engine. All methods run on the server's event loop."""

    def __init__(self, engine: Engine, on_result: Callable[[Generation], None] = lambda g: None) -> None:
        self.engine = engine
        self.on_result = on_result
        self._inflight: dict[str, asyncio.Task[Generation]] = {}
        self._ids = itertools.count()
        self._prefix = f"kimi-{os.getpid()}-{int(time.time())}"

    def next_rid(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    async def generate(
        self,
        key: str,
        prompt: str,
        sampling: Sampling,
        debounce_s: float = 0.0,
        stop_at: Callable[[str], int | None] = lambda text: None,
    ) -> Generation | None:
        """Generate for `key`, superseding any generation in flight for it. None when superseded.

        Raises EngineError when the engine is down or answers garbage; CancelledError when the caller is
        cancelled (the engine request is aborted first)."""
        previous = self._inflight.pop(key, None)
        if previous is not None:
            previous.cancel()
        request = GenerateRequest(
            self.next_rid(), prompt, sampling.max_new_tokens, sampling.temperature, sampling.stop, sampling.json_schema
        )
        task = asyncio.create_task(self._run(request, debounce_s, stop_at))
        self._inflight[key] = task
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # our caller was cancelled ($/cancelRequest): propagate
            return None  # the inner task was superseded
        finally:
            if self._inflight.get(key) is task:
                del self._inflight[key]

    async def close(self) -> None:
        """Cancel every generation in flight (each aborts its engine request) and wait for them to end."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(
        self, request: GenerateRequest, debounce_s: float, stop_at: Callable[[str], int | None]
    ) -> Generation:
        if debounce_s > 0:
            await asyncio.sleep(debounce_s)  # cancelled here = never reached the engine
        started = time.perf_counter()
        text, num_prompt, num_cached = "", 0, 0
        finish: FinishReason = "abort"
        finished = False
        try:
            async for chunk in self.engine.stream(request):
                text, num_prompt, num_cached = chunk.text, chunk.prompt_tokens, chunk.cached_tokens
                if chunk.finish_reason is not None:
                    finish, finished = chunk.finish_reason, True
                    break
                cut = stop_at(text)
                if cut is not None:
                    text, finish = text[:cut], "cut"
                    break
            else:
                finished = True  # the stream ended on its own
        except EngineError:
            finished = True  # nothing to abort on an engine that failed
            raise
        finally:
            if not finished:
                await asyncio.shield(self.engine.abort(request.rid))
        result = Generation(text, finish, num_prompt, num_cached, (time.perf_counter() - started) * 1000)
        self.on_result(result)
        return result


__all__ = ["EngineError", "Generation", "Generator", "Sampling"]
