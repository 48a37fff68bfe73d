"""Off-loop work: a cancelled caller does not leave its thread running behind its cleanup."""

from __future__ import annotations

import asyncio
import threading

import pytest

from kimi_lsp.index.jobs import in_thread_settled


async def test_cancelling_waits_for_the_thread_before_raising() -> None:
    release, finished = threading.Event(), threading.Event()

    def work() -> str:
        release.wait()
        finished.set()
        return "done"

    task = asyncio.create_task(in_thread_settled(work))
    await asyncio.sleep(0.05)  # the thread is now inside work()
    task.cancel()
    task.cancel()  # a second cancel (a shutdown racing a close) must not cut the wait short either
    try:
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert not task.done(), "cancellation propagated while the thread was still running"
    finally:
        release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished.is_set()


async def test_result_and_errors_pass_through() -> None:
    assert await in_thread_settled(lambda a, b: a + b, 2, 3) == 5

    def fail() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        await in_thread_settled(fail)
