"""Running indexing jobs off the event loop: a process pool for many files, a thread for a few.

Inputs are batches of immutable (path, known digest) pairs, taken from an async iterator as they come (the walk
still runs: `ThreadFeed` hands a blocking iterator's items to the loop); results come back batch by batch the
same way, so the caller merges them on the loop while the next batches are parsed. Owns the pool's lifetime.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, Generic, TypeVar

from kimi_lsp.index.worker import FileResult, index_batch, index_batch_plain
from kimi_lsp.processes import die_with_parent

T = TypeVar("T")

Job = tuple[str, bytes | None]
POOL_THRESHOLD = 200  # fewer files than this are indexed in a thread; starting processes costs more


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def start_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool whose workers start (process, imports) right away, in the background, so that they are
    ready when the walk has found the files. Queries are compiled on first use: all nine cost 0.4 s."""
    pool = _new_pool(workers)
    for _ in range(workers):
        pool.submit(warm_up)
    return pool


def warm_up() -> None:
    """Nothing: running it makes a worker process start and import this module (tree-sitter included)."""


async def run_jobs(
    batches: AsyncIterator[list[Job]], max_bytes: int, workers: int, pool: Executor | None = None
) -> AsyncIterator[list[FileResult]]:
    """Index the jobs `batches` yields (one pool task each), yielding results batch by batch in completion
    order while `batches` may still be producing (the walk). Chooses once POOL_THRESHOLD files are queued or
    `batches` ended: fewer go to a thread, more to `pool` (or a new one, if workers > 0). Shuts the pool
    down at the end either way."""
    try:
        head: list[list[Job]] = []
        queued = 0
        async for batch in batches:
            head.append(batch)
            queued += len(batch)
            if queued >= POOL_THRESHOLD:
                break
        rest = _after(head, batches)
        if workers <= 0 or queued < POOL_THRESHOLD:
            async for batch in rest:
                yield await asyncio.to_thread(index_batch, batch, max_bytes)
            return
        pool = pool or _new_pool(workers)
        async for results in _drive(asyncio.get_running_loop(), pool, rest, max_bytes, workers * 3):
            yield results
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


async def listed(batches: Iterable[list[Job]]) -> AsyncIterator[list[Job]]:
    """Batches already at hand, as run_jobs takes them."""
    for batch in batches:
        yield batch


async def _after(head: list[list[Job]], rest: AsyncIterator[list[Job]]) -> AsyncIterator[list[Job]]:
    for batch in head:
        yield batch
    async for batch in rest:
        yield batch


async def _drive(
    loop: asyncio.AbstractEventLoop, pool: Executor, batches: AsyncIterator[list[Job]], max_bytes: int, limit: int
) -> AsyncIterator[list[FileResult]]:
    """Keeps up to `limit` tasks in the pool, taking the next batch as soon as there is room for it."""
    pending: set[asyncio.Future[Any]] = set()
    feed: asyncio.Future[Any] | None = asyncio.ensure_future(anext(batches, None))
    try:
        while feed is not None or pending:
            waiting = (pending | {feed}) if feed is not None and len(pending) < limit else pending
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if feed in done:
                done.remove(feed)
                batch = feed.result()
                feed = None
                if batch is not None:
                    pending.add(loop.run_in_executor(pool, index_batch_plain, batch, max_bytes))
                    feed = asyncio.ensure_future(anext(batches, None))
            pending -= done
            for future in done:
                yield list(map(FileResult._make, future.result()))
    finally:
        if feed is not None:
            feed.cancel()


class ThreadFeed(Generic[T]):
    """A blocking iterator run in a thread of its own from construction on; `chunks()` hands its items to the
    loop in lists of up to `chunk`. `close()` stops the thread at its next chunk. An error in the iterator is
    raised in the consumer."""

    def __init__(self, items: Callable[[], Iterable[T]], chunk: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[list[T] | BaseException | None] = asyncio.Queue()
        self._stop = threading.Event()
        threading.Thread(target=self._run, args=(items, chunk), name="kimi-lsp-feed", daemon=True).start()

    def _run(self, items: Callable[[], Iterable[T]], chunk: int) -> None:
        try:
            buffer: list[T] = []
            for item in items():
                buffer.append(item)
                if len(buffer) >= chunk:
                    if self._stop.is_set():
                        return
                    self._put(buffer)
                    buffer = []
            self._put(buffer)
            self._put(None)
        except BaseException as exc:  # handed to the consumer, who raises it
            self._put(exc)

    def _put(self, item: list[T] | BaseException | None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self._stop.set()

    async def chunks(self) -> AsyncIterator[list[T]]:
        try:
            while (item := await self._queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()


async def in_thread_settled(function: Callable[..., T], *args: object) -> T:
    """`asyncio.to_thread`, except that cancelling the caller waits for the thread to finish before the
    CancelledError propagates. A cancelled to_thread leaves its thread running: the caller's cleanup (closing
    the SQLite cache) would then race it, and closing a connection another thread is reading crashes."""
    future = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        while not future.done():
            try:
                await asyncio.wait([future])
            except asyncio.CancelledError:
                continue
        raise


def release_heap() -> None:
    """Hand the heap freed after an indexing burst back to the OS (glibc's malloc_trim; elsewhere nothing)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def _new_pool(workers: int) -> ProcessPoolExecutor:
    """Workers die with their parent: the forkserver, which dies with this process (`forkserver_guard`)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        forkserver = multiprocessing.get_context("forkserver")
        # import the worker once, fork workers from that
        forkserver.set_forkserver_preload(["kimi_lsp.index.forkserver_guard", "kimi_lsp.index.worker"])
        return ProcessPoolExecutor(max_workers=workers, mp_context=forkserver, initializer=die_with_parent)
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent
    )
