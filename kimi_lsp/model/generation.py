"""Running one generation against the engine: supersede, debounce, stream, stop early, abort.

Owns the life of a model request. For each key (a document URI, plus the feature) at most one generation is in
flight: a `Flight`. A new one supersedes the older, whose waiters then get "no suggestion" (None). A newer
request that the stream's prediction still serves does not supersede it: it `follow`s the flight (re-points
its stop rule at the newer cursor) and waits for the same stream. A waiter whose caller is cancelled leaves
the flight orphaned for a short grace (a follower may still join: editors cancel the last request on every
keystroke, before they send the next one), then it is cancelled.

Whenever a generation ends before the engine finished (superseded, cancelled, or `stop_at` decided the text is
complete) the engine is told to abort that request id, so no GPU time is spent on text nobody will see. The
abort never sits on an answer's path: after a cut it is sent in the background (the task is kept until done,
and `close` waits for every one of them), so the answer goes out at once.

Several samples (`sample`): one engine request for n samples of the same prompt (SGLang's parallel sampling:
the prompt is prefilled once and its cache serves every sample), each cut by the stop rule on its own; it
supersedes and is superseded per key like any other generation.

Debounce (`debounce`): a request waits before it reaches the engine, so that a burst of keystrokes sends one
request, not one each; the wait is a quarter of the engine's median latency over its last LATENCY_WINDOW
generations, and never more than the setting (`debounceMs`, the user's ceiling), which applies alone until a
first generation is measured. The wait it adds thus stays small next to the engine's own, and an engine that
answers in a few milliseconds is not made to wait for more than that. Explicitly invoked requests skip it (the
caller passes 0).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import statistics
import time
from collections import deque
from collections.abc import Callable, Sequence
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


LATENCY_WINDOW = 16  # generations whose latency sets the debounce
DEBOUNCE_SHARE = 0.25  # of the engine's median latency


def adaptive_debounce(setting_s: float, latencies_ms: Sequence[float]) -> float:
    """The wait before a request goes to the engine: DEBOUNCE_SHARE of the median of `latencies_ms` (the
    engine's last generations), at most `setting_s`; `setting_s` while nothing was measured. Pure."""
    if not latencies_ms:
        return setting_s
    return min(setting_s, statistics.median(latencies_ms) * DEBOUNCE_SHARE / 1000)


class Flight:
    """One generation in flight for a key: its request, the text streamed so far and the rule the stream is
    cut by. Live state, owned by the `Generator` (only it changes the fields); callers read `text`, `streaming`
    and `done`, and re-point `stop_at` through `Generator.follow`."""

    __slots__ = (
        "_orphaned",
        "_waiters",
        "finish",
        "key",
        "request",
        "samples",
        "stop_at",
        "streaming",
        "task",
        "text",
    )

    def __init__(self, key: str, request: GenerateRequest, stop_at: Callable[[str], int | None]) -> None:
        self.key = key
        self.request = request
        self.stop_at = stop_at
        self.text = ""  # everything generated so far (after a cut: up to the cut)
        self.samples: tuple[str, ...] = ()  # a request for n > 1 samples: each one's text, once it ended
        self.streaming = False  # the request reached the engine (its debounce is over)
        self.finish: FinishReason | None = None  # how it ended, once it ended without being cancelled or failing
        self.task: asyncio.Task[Generation] | None = None
        self._waiters = 0  # how many waiters joined; the newest one decides when its caller is cancelled
        self._orphaned: asyncio.TimerHandle | None = None

    @property
    def done(self) -> bool:
        """The stream ended: finished, cut, superseded, cancelled or failed. `text` will not change again."""
        return self.task is not None and self.task.done()


class Generator:
    """Runs generations on one engine. All methods run on the server's event loop."""

    def __init__(
        self,
        engine: Engine,
        on_result: Callable[[Generation], None] = lambda g: None,
        on_error: Callable[[EngineError], None] = lambda e: None,
    ) -> None:
        self.engine = engine
        self.on_result = on_result
        self.on_error = on_error  # once per failed generation, whoever waits for it
        self.sent = 0  # requests that reached the engine
        self._inflight: dict[str, Flight] = {}
        self._background: set[asyncio.Task[None]] = set()  # aborts on their way; close() waits for them
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._ids = itertools.count()
        self._prefix = f"kimi-{os.getpid()}-{int(time.time())}"

    def next_rid(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    def debounce(self, setting_s: float) -> float:
        """The debounce for a request now (module docstring): adapted to the engine's measured latency."""
        return adaptive_debounce(setting_s, self._latencies)

    def flight(self, key: str) -> Flight | None:
        """The generation in flight for `key`, if any."""
        return self._inflight.get(key)

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
        return await self.wait(self.start(key, prompt, sampling, debounce_s, stop_at))

    async def sample(
        self, key: str, prompt: str, sampling: Sampling, n: int, stop_at: Callable[[str], int | None]
    ) -> tuple[str, ...] | None:
        """`n` samples of `prompt` in one engine request (module docstring), each cut by `stop_at` on its own, in
        the engine's order; superseding the generation in flight for `key`. None when superseded. Raises as
        `generate`."""
        flight = self.start(key, prompt, sampling, 0.0, stop_at, n)
        return flight.samples if await self.wait(flight) is not None else None

    def start(
        self,
        key: str,
        prompt: str,
        sampling: Sampling,
        debounce_s: float = 0.0,
        stop_at: Callable[[str], int | None] = lambda text: None,
        n: int = 1,
    ) -> Flight:
        """Start a generation for `key` (after `debounce_s`), superseding the one in flight for it: that one is
        cancelled, aborted at the engine, and its waiters get None. Returns at once; `wait` for the result."""
        previous = self._inflight.pop(key, None)
        if previous is not None and previous.task is not None:
            previous.task.cancel()
        request = GenerateRequest(
            self.next_rid(),
            prompt,
            sampling.max_new_tokens,
            sampling.temperature,
            sampling.stop,
            sampling.json_schema,
            n,
        )
        flight = Flight(key, request, stop_at)
        flight.task = asyncio.create_task(self._run(flight, debounce_s) if n == 1 else self._run_samples(flight))
        flight.task.add_done_callback(lambda _: self._landed(flight))
        self._inflight[key] = flight
        return flight

    def follow(self, flight: Flight, stop_at: Callable[[str], int | None]) -> None:
        """A newer request that this flight's prediction still serves takes it over: from the next chunk on the
        stream is cut by `stop_at` (the newer cursor's rule) instead. The caller then `wait`s for it."""
        flight.stop_at = stop_at

    async def wait(self, flight: Flight, orphan_grace_s: float = 0.0) -> Generation | None:
        """The flight's result, as its newest waiter. None when it was superseded (or cancelled for lack of
        waiters). Raises EngineError as `generate`. When the caller is cancelled and no newer waiter has
        joined, the flight is cancelled (and aborted) after `orphan_grace_s` unless a waiter joins by then; with
        no grace this returns once the engine was told."""
        assert flight.task is not None
        flight._waiters += 1
        me = flight._waiters
        if flight._orphaned is not None:
            flight._orphaned.cancel()
            flight._orphaned = None
        try:
            return await asyncio.shield(flight.task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is None or not current.cancelling():
                return None  # the flight was superseded
            if flight._waiters == me and not flight.task.done():  # our caller was cancelled, and nobody else waits
                if orphan_grace_s > 0:
                    flight._orphaned = asyncio.get_running_loop().call_later(orphan_grace_s, flight.task.cancel)
                else:
                    flight.task.cancel()
                    await asyncio.wait({flight.task})  # it ends once the engine was told
            raise

    async def close(self) -> None:
        """Cancel every generation in flight (each aborts its engine request) and wait for them to end, and
        for every abort still on its way."""
        flights = [flight.task for flight in self._inflight.values() if flight.task is not None]
        for task in flights:
            task.cancel()
        await asyncio.gather(*flights, return_exceptions=True)
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _landed(self, flight: Flight) -> None:
        if self._inflight.get(flight.key) is flight:
            del self._inflight[flight.key]
        if flight._orphaned is not None:
            flight._orphaned.cancel()
            flight._orphaned = None

    def _abort(self, rid: str) -> asyncio.Task[None]:
        """Tell the engine to stop `rid`, in the background; the task is kept until it is done."""
        task = asyncio.create_task(self.engine.abort(rid))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _run(self, flight: Flight, debounce_s: float) -> Generation:
        request = flight.request
        if debounce_s > 0:
            await asyncio.sleep(debounce_s)  # cancelled here = never reached the engine
        started = time.perf_counter()
        num_prompt, num_cached = 0, 0
        finish: FinishReason = "abort"
        finished = False
        flight.streaming = True
        self.sent += 1
        chunks = self.engine.stream(request)
        try:
            async for chunk in chunks:
                flight.text, num_prompt, num_cached = chunk.text, chunk.prompt_tokens, chunk.cached_tokens
                if chunk.finish_reason is not None:
                    finish, finished = chunk.finish_reason, True
                    break
                cut = flight.stop_at(flight.text)
                if cut is not None:
                    flight.text, finish = flight.text[:cut], "cut"
                    break
            else:
                finished = True  # the stream ended on its own
        except EngineError as error:
            finished = True  # nothing to abort on an engine that failed
            flight.text = ""  # what a failed stream sent (cut mid-token, or garbage) predicts nothing
            self.on_error(error)
            raise
        finally:
            await chunks.aclose()  # an engine's own clean-up (an HTTP stream handed to the background) runs now
            if not finished:
                abort = self._abort(request.rid)  # after a cut, the answer goes out without waiting for it
                if finish != "cut":
                    await asyncio.shield(abort)  # superseded or cancelled: nobody waits for an answer
        latency_ms = (time.perf_counter() - started) * 1000
        self._latencies.append(latency_ms)
        flight.finish = finish
        result = Generation(flight.text, finish, num_prompt, num_cached, latency_ms)
        self.on_result(result)
        return result

    async def _run_samples(self, flight: Flight) -> Generation:
        """`_run` for a request of n > 1 samples: each sample's stream ends on its own (finished, or cut by
        `stop_at`); once all ended the request is done. Its latency does not set the debounce (that is for
        single suggestions)."""
        request = flight.request
        started = time.perf_counter()
        texts, ended = [""] * request.n, [False] * request.n
        num_prompt, num_cached = 0, 0
        finished = False
        flight.streaming = True
        self.sent += 1
        chunks = self.engine.stream(request)
        try:
            async for chunk in chunks:
                index = chunk.index
                if not 0 <= index < request.n or ended[index]:
                    continue
                texts[index], num_prompt, num_cached = chunk.text, chunk.prompt_tokens, chunk.cached_tokens
                cut = None if chunk.finish_reason is not None else flight.stop_at(chunk.text)
                if cut is not None:
                    texts[index] = chunk.text[:cut]
                ended[index] = chunk.finish_reason is not None or cut is not None
                if all(ended):
                    break
            else:
                finished = True
        except EngineError as error:
            finished = True
            texts = [""] * request.n
            self.on_error(error)
            raise
        finally:
            flight.samples = tuple(texts)
            await chunks.aclose()
            if not finished:
                abort = self._abort(request.rid)
                if not all(ended):
                    await asyncio.shield(abort)  # superseded or cancelled: nobody waits for an answer
        flight.text, flight.finish = texts[0], "cut" if all(ended) and not finished else "stop"
        result = Generation(flight.text, flight.finish, num_prompt, num_cached, (time.perf_counter() - started) * 1000)
        self.on_result(result)
        return result


__all__ = ["EngineError", "Flight", "Generation", "Generator", "Sampling", "adaptive_debounce"]
