from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from kimi_lsp.model.client import Chunk, EngineError, GenerateRequest, parse_sse_line
from kimi_lsp.model.generation import Generator, Sampling
from kimi_lsp.model.host import EngineChoice, connect, parse_engine_choice, routing_key
from kimi_lsp.model.openai import OpenAIEngine, parse_completion_line
from kimi_lsp.model.scripted import ScriptedEngine, ScriptedResponse
from kimi_lsp.settings import EngineSettings


def test_sse_lines_from_sglang() -> None:
    event = {"text": "ret", "meta_info": {"finish_reason": {"type": "abort"}, "prompt_tokens": 10, "cached_tokens": 8}}
    assert parse_sse_line("data: " + json.dumps(event)) == Chunk("ret", "abort", 10, 8)
    assert parse_sse_line('data: {"text": "x", "meta_info": {"finish_reason": null}}') == Chunk("x")
    assert parse_sse_line("data: [DONE]") is None
    assert parse_sse_line("") is None and parse_sse_line(": keep-alive") is None
    with pytest.raises(EngineError, match="unreadable"):
        parse_sse_line("data: <html>")


def test_completion_chunks_from_an_openai_compatible_server() -> None:
    chunk = {"choices": [{"index": 0, "text": "ret", "finish_reason": None}]}
    assert parse_completion_line("data: " + json.dumps(chunk)) == ([(0, "ret", None)], None)
    last = {"choices": [{"index": 1, "text": "", "finish_reason": "length"}]}  # the second of n samples
    assert parse_completion_line("data: " + json.dumps(last)) == ([(1, "", "length")], None)
    usage = {"choices": [], "usage": {"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 8}}}
    assert parse_completion_line("data: " + json.dumps(usage)) == ([], (10, 8))
    no_details = {"choices": [], "usage": {"prompt_tokens": 10, "prompt_tokens_details": None}}  # llama.cpp, Ollama
    assert parse_completion_line("data: " + json.dumps(no_details)) == ([], (10, 0))
    assert parse_completion_line("data: [DONE]") is None and parse_completion_line("") is None
    with pytest.raises(EngineError, match=r"reported an error: .*overloaded"):
        parse_completion_line('data: {"error": {"message": "overloaded"}}')
    with pytest.raises(EngineError, match="unreadable"):
        parse_completion_line("data: <html>")


async def test_engine_api_setting_picks_the_client() -> None:
    native = connect(EngineSettings(workers=("http://w1:1/",)), "http://router:1", "key")
    openai = connect(EngineSettings(api="openai", model="m"), "http://router:1")
    assert not isinstance(native, OpenAIEngine) and native.abort_urls == ("http://w1:1",)
    assert isinstance(openai, OpenAIEngine) and openai.model == "m"
    await native.close()
    await openai.close()


def test_routing_key_is_stable_per_user_and_workspace_and_names_neither() -> None:
    key = routing_key("ada", ["/src/b", "/src/a"])
    assert key == routing_key("ada", ["/src/a", "/src/b"]) and len(key) == 16
    assert key != routing_key("bob", ["/src/a", "/src/b"]) and key != routing_key("ada", ["/src/a"])
    assert "ada" not in key and "src" not in key


def test_engine_choices() -> None:
    assert parse_engine_choice("none") == EngineChoice("none")
    assert parse_engine_choice("http://127.0.0.1:30000") == EngineChoice("url", "http://127.0.0.1:30000")
    assert parse_engine_choice("scripted:/tmp/s.json") == EngineChoice("scripted", "/tmp/s.json")
    with pytest.raises(ValueError, match="--engine"):
        parse_engine_choice("gpu")


def test_a_broken_script_is_a_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text("{not json")
    with pytest.raises(EngineError, match="invalid engine script"):
        ScriptedEngine.from_file(script)


async def test_stopping_early_aborts_and_superseding_returns_none(tmp_path: Path) -> None:
    record = tmp_path / "r.jsonl"
    engine = ScriptedEngine((ScriptedResponse("", "aaaa\nbbbb\ncccc\n", 20),), record=record, chunk_chars=5)
    generator = Generator(engine)
    sampling = Sampling(16, 0.0, ())
    result = await generator.generate("doc", "p", sampling, stop_at=lambda text: 5 if "\n" in text else None)
    assert result is not None and (result.text, result.finish_reason) == ("aaaa\n", "cut")
    first = asyncio.create_task(generator.generate("doc", "p", sampling))
    await asyncio.sleep(0.01)
    second = await generator.generate("doc", "p", sampling)
    assert await first is None and second is not None and second.finish_reason == "stop"
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    requests = [r["rid"] for r in rows if r["event"] == "request"]
    aborts = [r["rid"] for r in rows if r["event"] == "abort"]
    assert len(requests) == 3 and sorted(aborts) == sorted(requests[:2])  # the cut one and the superseded one


async def test_a_cancelled_caller_aborts_the_engine_request(tmp_path: Path) -> None:
    record = tmp_path / "r.jsonl"
    generator = Generator(ScriptedEngine((ScriptedResponse("", "x" * 100, 50),), record=record))
    task = asyncio.create_task(generator.generate("doc", "p", Sampling(16, 0.0, ())))
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    assert [r["event"] for r in rows] == ["request", "end", "abort"] and rows[0]["rid"] == rows[2]["rid"]
    assert rows[1] == {"event": "end", "rid": rows[0]["rid"], "finished": False}


def test_generate_request_is_frozen() -> None:
    request = GenerateRequest("r", "p", 1, 0.0)
    with pytest.raises(AttributeError):
        request.rid = "x"  # type: ignore[misc]


def test_sse_lines_of_parallel_samples_say_which_sample() -> None:
    event = {"text": "b", "index": 2, "meta_info": {"finish_reason": None, "prompt_tokens": 4, "cached_tokens": 4}}
    assert parse_sse_line("data: " + json.dumps(event)) == Chunk("b", None, 4, 4, 2)


async def test_samples_end_each_on_their_own_in_one_request(tmp_path: Path) -> None:
    """Each sample is cut by the stop rule by itself; the one request ends when all of them ended, and is
    aborted then (the longest sample was still going)."""
    record = tmp_path / "r.jsonl"
    samples = ("one\nmore", "two\n" + "x" * 40, "three")
    engine = ScriptedEngine((ScriptedResponse("", "", 0, "", samples),), record=record, chunk_chars=4)
    generator = Generator(engine)
    cut = generator.sample("doc#samples", "p", Sampling(16, 0.8, ()), 3, lambda text: text.find("\n") + 1 or None)
    assert await cut == ("one\n", "two\n", "three")
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    (request,) = [r for r in rows if r["event"] == "request"]
    assert (request["n"], request["temperature"]) == (3, 0.8)
    assert [r["rid"] for r in rows if r["event"] == "abort"] == [request["rid"]]
