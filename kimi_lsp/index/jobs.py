"""Running indexing jobs off the event loop: a process pool for big batches, a thread for small ones.

Inputs are immutable (path, known digest) pairs; results come back to the loop batch by batch through an async
iterator, so the caller merges them on the loop while the next batches are parsed. Owns the pool's lifetime.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import TypeVar

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


async def run_jobs(jobs: Sequence[Job], max_bytes: int, workers: int, batch_size: int = 48,
                   pool: ProcessPoolExecutor | None = None) -> AsyncIterator[list[FileResult]]:
    """Index `jobs`, yielding results batch by batch (in completion order). Uses `pool` (or a new one) when
    there are enough jobs; shuts the pool down at the end either way."""
    try:
        if workers <= 0 or len(jobs) < POOL_THRESHOLD:
            for i in range(0, len(jobs), batch_size):
                yield await asyncio.to_thread(index_batch, jobs[i:i + batch_size], max_bytes)
            return
        pool = pool or _new_pool(workers)
        async for results in _drive(asyncio.get_running_loop(), pool, jobs, max_bytes, workers, batch_size):
            yield results
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


async def _drive(loop: asyncio.AbstractEventLoop, pool: Executor, jobs: Sequence[Job], max_bytes: int,
                 workers: int, batch_size: int) -> AsyncIterator[list[FileResult]]:
    batches = [jobs[i:i + batch_size] for i in range(0, len(jobs), batch_size)]
    pending: set[asyncio.Future[list[tuple[object, ...]]]] = set()
    next_batch = 0
    while next_batch < len(batches) or pending:
        while next_batch < len(batches) and len(pending) < workers * 3:
            pending.add(loop.run_in_executor(pool, index_batch_plain, batches[next_batch], max_bytes))
            next_batch += 1
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for future in done:
            yield list(map(FileResult._make, future.result()))


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
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=die_with_parent)
