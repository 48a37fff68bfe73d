"""Off-loop work: a cancelled caller does not leave its thread running behind its cleanup; the walk's feed;
jobs that start while their batches are still coming."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NoReturn

import pytest

from kimi_lsp.index import jobs
from kimi_lsp.index.jobs import Job, ThreadFeed, in_thread_settled, listed, run_jobs


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


async def test_a_feed_hands_over_its_items_in_chunks_while_its_thread_runs() -> None:
    more = threading.Event()

    def items() -> Iterator[int]:
        yield from range(5)
        more.wait(5)
        yield from range(5, 7)

    chunks = ThreadFeed(items, chunk=2).chunks()
    assert [await anext(chunks), await anext(chunks)] == [[0, 1], [2, 3]]  # before the iterator ends
    more.set()
    assert [chunk async for chunk in chunks] == [[4, 5], [6]]


async def test_a_feed_raises_its_iterators_error_in_the_consumer() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise OSError("walk failed")

    with pytest.raises(OSError, match="walk failed"):
        [chunk async for chunk in ThreadFeed(items, chunk=10).chunks()]


async def test_a_closed_feed_stops_its_thread() -> None:
    produced: list[int] = []

    def items() -> Iterator[int]:
        for i in range(1000):
            produced.append(i)
            yield i
            time.sleep(0.001)

    feed = ThreadFeed(items, chunk=1)
    chunks = feed.chunks()
    await anext(chunks)
    await chunks.aclose()
    count = len(produced)
    await asyncio.sleep(0.1)
    assert len(produced) <= count + 1 < 1000


def job_files(tmp_path: Path, count: int) -> list[Job]:
    for i in range(count):
        (tmp_path / f"m{i}.py").write_text(f"def f{i}():\n    pass\n")
    return [(str(tmp_path / f"m{i}.py"), None) for i in range(count)]


async def test_jobs_run_in_the_pool_while_the_batches_are_still_coming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "POOL_THRESHOLD", 2)
    (tmp_path / "more").mkdir()
    first, second = job_files(tmp_path, 2), job_files(tmp_path / "more", 2)
    results_seen = asyncio.Event()

    async def batches() -> AsyncIterator[list[Job]]:
        yield first
        await asyncio.wait_for(results_seen.wait(), 5)  # only once the first batch came back indexed
        yield second

    pool = ThreadPoolExecutor(2)
    names = []
    async for results in run_jobs(batches(), 1_000_000, workers=2, pool=pool):
        names += [r.path.rpartition("/")[2] for r in results if r.status == "indexed"]
        results_seen.set()
    assert sorted(names) == ["m0.py", "m0.py", "m1.py", "m1.py"]
    assert pool._shutdown  # type: ignore[attr-defined]


async def test_few_jobs_stay_in_a_thread(tmp_path: Path) -> None:
    class NoPool(ThreadPoolExecutor):
        def submit(self, *args: object, **kwargs: object) -> NoReturn:
            raise AssertionError("a pool for two files")

    out = [r async for results in run_jobs(listed([job_files(tmp_path, 2)]), 1_000_000, 2, NoPool(1)) for r in results]
    assert [r.status for r in out] == ["indexed", "indexed"]
