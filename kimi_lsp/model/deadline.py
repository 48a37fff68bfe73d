"""The total deadline of one generation (`engine.deadlineMs`).

Owns `DeadlineEngine`, an `Engine` that wraps another: a stream that has not finished `deadline_s()` seconds
after it was asked for is closed, its request is aborted at the engine (in the background: the answer does
not wait for the abort), and `EngineError` is raised, so an engine that sends one token a second, or accepts
a request and then says nothing, cannot hold a request (or the document's slot) for longer than that. The
read timeout (`engine.timeoutMs`) bounds the silence between two bytes; this bounds the whole. Everything
else passes through.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable

from .client import Chunk, Engine, EngineError, GenerateRequest

log = logging.getLogger(__name__)


class DeadlineEngine:
    """`engine` with a deadline on every stream; `deadline_s` is read when a stream starts (settings change)."""

    def __init__(self, engine: Engine, deadline_s: Callable[[], float]) -> None:
        self.engine = engine
        self._deadline_s = deadline_s
        self._aborts: set[asyncio.Task[None]] = set()  # aborts on their way; close() waits for them

    async def stream(self, request: GenerateRequest) -> AsyncGenerator[Chunk, None]:
        """One timer for the whole stream (not one a chunk): when it fires while the stream waits for the
        engine, it cancels that wait; when it fires while the caller holds a chunk, the stream ends before the
        next one. A cancel from anyone else passes through as a cancel."""
        limit_s = self._deadline_s()
        waiter: asyncio.Task[object] | None = None  # the task waiting for the next chunk, while one does
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            if waiter is not None:
                waiter.cancel()

        timer = asyncio.get_running_loop().call_later(limit_s, expire)
        chunks = self.engine.stream(request)
        try:
            while not expired:
                task = waiter = asyncio.current_task()
                assert task is not None
                cancelling = task.cancelling()
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if not expired or task.uncancel() > cancelling:
                        raise
                    break
                finally:
                    waiter = None
                yield chunk
            self._abort_soon(request.rid)
            log.info("request %s ran past the deadline (%.0f ms): aborted", request.rid, limit_s * 1000)
            raise EngineError(f"the engine gave no complete answer within {limit_s * 1000:.0f} ms (engine.deadlineMs)")
        finally:
            timer.cancel()
            await chunks.aclose()

    def _abort_soon(self, rid: str) -> None:
        task = asyncio.create_task(self.engine.abort(rid))
        self._aborts.add(task)
        task.add_done_callback(self._aborts.discard)

    async def abort(self, rid: str) -> None:
        await self.engine.abort(rid)

    async def health(self) -> bool:
        return await self.engine.health()

    async def close(self) -> None:
        while self._aborts:
            await asyncio.gather(*self._aborts, return_exceptions=True)
        await self.engine.close()
