"""The OpenAI-compatible client: `POST /v1/completions`, streamed (`engine.api = "openai"`).

Owns speaking the completions API that SGLang, vLLM, llama.cpp's server and Ollama all serve, behind the same
`Engine` contract as the native client (client.py): the same prompt (the profile's template, built by the one
prompt path), chunks made cumulative, the finish reason, and the cached tokens read from the usage the server
reports (`usage.prompt_tokens_details.cached_tokens`: SGLang with `--enable-cache-report`, vLLM with
`--enable-prompt-tokens-details`; 0 where a server reports none), and several samples (`n`) told apart by their
choice index. The usage comes in a last chunk after the finishing ones (`stream_options.include_usage`), so
the finishing chunks are held until the stream ends.

Cancelling is closing the stream: the API has no abort by request id, and SGLang (like vLLM) aborts a request
whose client went away. A stream the consumer left is therefore closed at once, never drained, and `abort` has
nothing left to do. The model name the server wants is `engine.model`, else the first of its `GET /v1/models`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

import httpx

from .client import Chunk, EngineError, FinishReason, GenerateRequest, HttpEngine, finish_reason, sse_payload


class OpenAIEngine(HttpEngine):
    """An OpenAI-compatible completions server. One pooled connection set per engine."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        ca_bundle: str | None = None,
        routing_key: str | None = None,
        model: str | None = None,
    ) -> None:
        """As HttpEngine; `model`: the model name sent with each request (None: the server's first)."""
        super().__init__(base_url, api_key, timeout_s, ca_bundle, routing_key)
        self.model = model

    async def _model(self) -> str:
        """The model to ask for: the configured one, else the first the server lists (asked once)."""
        if self.model is None:
            try:
                listed = (await self._client.get("/v1/models", timeout=5.0)).json()["data"][0]["id"]
            except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
                raise EngineError(
                    f"engine at {self.base_url} lists no model at /v1/models ({type(error).__name__}): set engine.model"
                ) from error
            self.model = str(listed)
        return self.model

    async def stream(self, request: GenerateRequest) -> AsyncGenerator[Chunk, None]:
        body: dict[str, object] = {
            "model": await self._model(),
            "prompt": request.prompt,
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "stop": list(request.stop),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.json_schema is not None:
            schema = json.loads(request.json_schema)
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
        if request.n > 1:
            body["n"] = request.n
        response = await self._open("/v1/completions", body)
        texts: dict[int, str] = {}
        finished: dict[int, FinishReason] = {}  # held until the usage that follows them has come
        prompt_tokens, cached_tokens, events = 0, 0, 0
        try:
            async for line in response.aiter_lines():
                event = parse_completion_line(line)
                if event is None:
                    continue
                events += 1
                choices, usage = event
                if usage is not None:
                    prompt_tokens, cached_tokens = usage
                for index, delta, finish in choices:
                    if index in finished:
                        continue
                    texts[index] = texts.get(index, "") + delta
                    if finish is not None:
                        finished[index] = finish
                    elif delta:
                        yield Chunk(texts[index], None, prompt_tokens, cached_tokens, index)
            if not events:  # an answer, but not a stream of events (a proxy's page, another server)
                raise EngineError(f"engine at {self.base_url} sent no events: is it an OpenAI-compatible server?")
            for index in sorted(texts) or [0]:
                yield Chunk(texts.get(index, ""), finished.get(index, "stop"), prompt_tokens, cached_tokens, index)
        except httpx.HTTPError as error:
            raise EngineError(f"engine at {self.base_url} unreachable: {type(error).__name__}: {error}") from error
        finally:
            await response.aclose()  # left early: closing the connection is the cancel

    async def abort(self, rid: str) -> None:
        """Nothing to do: the stream the consumer left was closed, and the server aborts on that."""


Choice = tuple[int, str, FinishReason | None]  # (sample index, text delta, finish reason)


def parse_completion_line(line: str) -> tuple[list[Choice], tuple[int, int] | None] | None:
    """One line of a streamed `/v1/completions` answer -> (its choices, (prompt tokens, cached tokens) when the
    chunk carries usage), or None for blank lines, comments and [DONE].

    Raises EngineError on a data line that is not a completion chunk."""
    payload = sse_payload(line)
    if payload is None:
        return None
    try:
        event = json.loads(payload)
        if "error" in event:
            raise EngineError(f"engine reported an error: {str(event['error'])[:200]}")
        choices: list[Choice] = []
        for choice in event.get("choices") or []:
            reason = finish_reason(choice.get("finish_reason"))
            choices.append((int(choice.get("index") or 0), str(choice.get("text") or ""), reason))
        usage = event.get("usage")
        counts = None
        if isinstance(usage, dict):
            details = usage.get("prompt_tokens_details") or {}
            counts = (int(usage.get("prompt_tokens") or 0), int(details.get("cached_tokens") or 0))
        return choices, counts
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise EngineError(f"engine sent an unreadable event: {payload[:120]!r}") from error
