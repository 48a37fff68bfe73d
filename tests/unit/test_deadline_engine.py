"""model/deadline.py: a stream past engine.deadlineMs is closed, aborted at the engine (in the background) and
turned into an EngineError; a stream within it passes through untouched."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from kimi_lsp.model.client import EngineError, GenerateRequest
from kimi_lsp.model.deadline import DeadlineEngine
from kimi_lsp.model.scripted import ScriptedEngine, ScriptedResponse


def _rows(record: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in record.read_text().splitlines()]


async def test_a_stream_past_the_deadline_is_aborted_and_fails(tmp_path: Path) -> None:
    record = tmp_path / "r.jsonl"
    slow = ScriptedEngine((ScriptedResponse("", "x" * 400, delay_ms=20),), record=record, chunk_chars=1)
    engine = DeadlineEngine(slow, lambda: 0.2)
    texts = []
    with pytest.raises(EngineError, match=r"engine\.deadlineMs"):
        async for chunk in engine.stream(GenerateRequest("r1", "p", 400, 0.0)):
            texts.append(chunk.text)
    assert 0 < len(texts) < 400  # cut off on the way
    await engine.close()  # waits for the abort on its way
    events = [(row["event"], row["rid"]) for row in _rows(record)]
    assert events == [("request", "r1"), ("end", "r1"), ("abort", "r1")]


async def test_a_stream_within_the_deadline_passes_through(tmp_path: Path) -> None:
    record = tmp_path / "r.jsonl"
    quick = ScriptedEngine((ScriptedResponse("", "hello world"),), record=record, chunk_chars=4)
    engine = DeadlineEngine(quick, lambda: 5.0)
    chunks = [chunk async for chunk in engine.stream(GenerateRequest("r2", "p", 8, 0.0))]
    assert [c.text for c in chunks] == ["hell", "hello wo", "hello world"] and chunks[-1].finish_reason == "stop"
    assert [row["event"] for row in _rows(record)] == ["request", "end"]  # nothing aborted


async def test_the_deadline_is_read_when_a_stream_starts(tmp_path: Path) -> None:
    limit = [5.0]
    slow = ScriptedEngine((ScriptedResponse("", "abcdef", delay_ms=50),), chunk_chars=1)
    engine = DeadlineEngine(slow, lambda: limit[0])
    assert len([c async for c in engine.stream(GenerateRequest("a", "p", 6, 0.0))]) == 6
    limit[0] = 0.01
    with pytest.raises(EngineError):
        async for _ in engine.stream(GenerateRequest("b", "p", 6, 0.0)):
            pass
    await asyncio.sleep(0)
    await engine.close()


async def test_a_deadline_passed_while_the_caller_holds_a_chunk_ends_the_stream_before_the_next(
    tmp_path: Path,
) -> None:
    record = tmp_path / "r.jsonl"
    quick = ScriptedEngine((ScriptedResponse("", "abcdef"),), record=record, chunk_chars=1)
    engine = DeadlineEngine(quick, lambda: 0.05)
    texts = []
    with pytest.raises(EngineError, match=r"engine\.deadlineMs"):
        async for chunk in engine.stream(GenerateRequest("r3", "p", 6, 0.0)):
            texts.append(chunk.text)
            await asyncio.sleep(0.1)  # the caller is busy when the deadline passes
    assert texts == ["a"]
    current = asyncio.current_task()
    assert current is not None and current.cancelling() == 0  # the deadline left no cancel behind
    await engine.close()
    assert [row["event"] for row in _rows(record)][-1] == "abort"


async def test_a_cancel_from_outside_stays_a_cancel(tmp_path: Path) -> None:
    slow = ScriptedEngine((ScriptedResponse("", "x" * 100, delay_ms=20),), chunk_chars=1)
    engine = DeadlineEngine(slow, lambda: 5.0)
    started = asyncio.Event()

    async def consume() -> None:
        async for _ in engine.stream(GenerateRequest("r4", "p", 100, 0.0)):
            started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await engine.close()
