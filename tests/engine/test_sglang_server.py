"""The real SGLang server (cpu-tiny) speaks what kimi_lsp's engine client relies on:
streaming /generate with meta_info, prefix caching (cached_tokens) and /abort_request."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.engine

FIM_PROMPT = (
    '<|fim_prefix|>def area(width, height):\n    """Return the area of a rectangle."""\n'
    "    <|fim_suffix|>\n\n\ndef perimeter(width, height):\n    return 2 * (width + height)\n"
    "<|fim_middle|>"
)


def _stream(client: httpx.Client, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    with client.stream("POST", "/generate", json={**body, "stream": True}) as resp:
        resp.raise_for_status()
        for line in resp.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line.removeprefix("data:").strip()
            if data == "[DONE]":
                return
            yield json.loads(data)


@pytest.fixture
def client(sglang_engine: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sglang_engine, timeout=120) as c:
        yield c


def test_health(client: httpx.Client) -> None:
    assert client.get("/health").status_code == 200


def test_generate_streams_cumulative_text_and_meta_info(client: httpx.Client) -> None:
    # skip_special_tokens off: 8 tokens always decode to visible text, whatever the weights say
    params = {"max_new_tokens": 8, "temperature": 0.0, "ignore_eos": True, "skip_special_tokens": False}
    chunks = list(_stream(client, {"text": FIM_PROMPT, "sampling_params": params, "rid": uuid.uuid4().hex}))
    assert chunks, "no SSE chunks"
    texts = [c["text"] for c in chunks]
    assert texts[-1] and all(b.startswith(a) for a, b in itertools.pairwise(texts))  # cumulative
    meta = chunks[-1]["meta_info"]
    assert meta["prompt_tokens"] > 10
    assert meta["completion_tokens"] == 8
    assert meta["finish_reason"]["type"] == "length"
    assert "cached_tokens" in meta


def test_fim_prompt_gets_a_completion_that_stops(client: httpx.Client) -> None:
    body = {"text": FIM_PROMPT, "sampling_params": {"max_new_tokens": 48, "temperature": 0.0}}
    out = client.post("/generate", json=body).json()
    assert out["meta_info"]["finish_reason"]["type"] in ("stop", "length")
    assert isinstance(out["text"], str)


def test_repeated_prefix_is_served_from_the_radix_cache(client: httpx.Client) -> None:
    shared = "".join(f"def helper_{i}(value):\n    return value * {i} + {i * 7}\n\n\n" for i in range(20))
    params = {"max_new_tokens": 4, "temperature": 0.0}
    first = client.post("/generate", json={"text": shared + "def alpha(", "sampling_params": params}).json()
    second = client.post("/generate", json={"text": shared + "def beta(", "sampling_params": params}).json()
    assert first["meta_info"]["prompt_tokens"] > 200
    assert second["meta_info"]["cached_tokens"] > 200
    assert second["meta_info"]["cached_tokens"] < second["meta_info"]["prompt_tokens"]


def test_abort_request_ends_the_stream_with_finish_reason_abort(client: httpx.Client) -> None:
    rid = uuid.uuid4().hex
    params = {"max_new_tokens": 4000, "temperature": 0.0, "ignore_eos": True}
    chunks: list[dict[str, Any]] = []
    with httpx.Client(base_url=str(client.base_url), timeout=30) as control:
        for chunk in _stream(client, {"text": FIM_PROMPT, "sampling_params": params, "rid": rid}):
            chunks.append(chunk)
            if len(chunks) == 2:
                assert control.post("/abort_request", json={"rid": rid}).status_code == 200
    final = chunks[-1]["meta_info"]
    assert final["finish_reason"]["type"] == "abort"
    assert final["completion_tokens"] < 4000


def test_the_served_weights_predict_code_not_only_end_of_text(client: httpx.Client) -> None:
    # Guards the export: SGLang's Qwen3-MoE ignores tie_word_embeddings; a tied checkpoint serves an
    # empty output layer whose argmax is always token 0 (<|endoftext|>).
    params = {"max_new_tokens": 8, "temperature": 0.0, "ignore_eos": True, "skip_special_tokens": False}
    out = client.post("/generate", json={"text": "import os\nimport sys\nimport ", "sampling_params": params}).json()
    assert out["text"].replace("<|endoftext|>", "").strip()
