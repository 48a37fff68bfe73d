"""The engine interface and its SGLang client.

Owns talking to a model server: `Engine` is the contract every backend meets; `SGLangEngine` speaks SGLang's
native API (`POST /generate` with `stream: true` and a request id, `POST /abort_request`, `GET /health`).
It keeps prompt/cached token counts per request for the status line. It does not build prompts and knows
nothing of LSP.

HTTP client: httpx, because it honours HTTP(S)_PROXY / NO_PROXY and SSL_CERT_FILE out of the box (users sit
behind proxies with private CAs), streams responses, and is pure Python. It costs about 2 ms per request on
these machines, next to hundreds of milliseconds of decoding.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

log = logging.getLogger(__name__)

FinishReason = Literal["stop", "length", "abort", "cut"]  # "cut": the client stopped reading (never the engine)
_ENGINE_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length", "abort": "abort"}


@dataclass(slots=True, frozen=True)
class GenerateRequest:
    rid: str
    prompt: str
    max_new_tokens: int
    temperature: float
    stop: tuple[str, ...] = ()
    json_schema: str | None = None  # a JSON Schema (as text) the output must match: SGLang's constrained decoding


@dataclass(slots=True, frozen=True)
class Chunk:
    """One streamed update. `text` is cumulative: everything generated so far for this request."""

    text: str
    finish_reason: FinishReason | None = None
    prompt_tokens: int = 0
    cached_tokens: int = 0


class EngineError(RuntimeError):
    """The engine could not be reached, or answered something we cannot use. The message says which."""


class Engine(Protocol):
    """A model server.

    `stream` yields cumulative chunks until the engine finishes; closing the iterator early (break, or
    cancellation of the consuming task) closes the HTTP stream but does NOT stop decoding on the server:
    callers that stop early must call `abort(rid)`. `stream` raises EngineError when the engine is down or
    answers garbage. `abort` and `health` never raise.
    """

    def stream(self, request: GenerateRequest) -> AsyncIterator[Chunk]: ...

    async def abort(self, rid: str) -> None: ...

    async def health(self) -> bool: ...

    async def close(self) -> None: ...


class SGLangEngine:
    """SGLang's native HTTP API. One pooled connection set per engine."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout_s: float = 10.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=httpx.Timeout(timeout_s, connect=2.0), trust_env=True
        )

    async def stream(self, request: GenerateRequest) -> AsyncIterator[Chunk]:
        body = {
            "text": request.prompt,
            "rid": request.rid,
            "stream": True,
            "sampling_params": {
                "max_new_tokens": request.max_new_tokens,
                "temperature": request.temperature,
                "stop": list(request.stop),
                **({"json_schema": request.json_schema} if request.json_schema is not None else {}),
            },
        }
        try:
            async with self._client.stream("POST", "/generate", json=body) as response:
                if response.status_code != 200:
                    detail = (await response.aread())[:200].decode("utf-8", "replace")
                    raise EngineError(f"engine answered HTTP {response.status_code}: {detail}")
                async for line in response.aiter_lines():
                    chunk = parse_sse_line(line)
                    if chunk is not None:
                        yield chunk
        except httpx.HTTPError as error:
            raise EngineError(f"engine at {self.base_url} unreachable: {type(error).__name__}: {error}") from error

    async def abort(self, rid: str) -> None:
        if self._client.is_closed:  # shutting down: the engine goes away with us
            return
        try:
            await self._client.post("/abort_request", json={"rid": rid}, timeout=2.0)
        except httpx.HTTPError as error:
            log.warning("abort of %s failed: %s", rid, error)

    async def health(self) -> bool:
        try:
            return (await self._client.get("/health", timeout=2.0)).status_code == 200
        except httpx.HTTPError:
            return False

    async def close(self) -> None:
        await self._client.aclose()


def parse_sse_line(line: str) -> Chunk | None:
    """One line of SGLang's server-sent events -> a Chunk, or None for blank lines, comments and [DONE].

    Raises EngineError on a data line that is not the JSON object SGLang sends."""
    if not line.startswith("data:"):
        return None
    payload = line[5:].strip()
    if payload == "[DONE]":
        return None
    try:
        event = json.loads(payload)
        meta = event.get("meta_info") or {}
        finish = meta.get("finish_reason")
        finish_type = finish.get("type") if isinstance(finish, dict) else finish
        return Chunk(
            text=str(event["text"]),
            # a finish type this client does not know still ends the request
            finish_reason=None if finish_type is None else _ENGINE_FINISH.get(str(finish_type), "stop"),
            prompt_tokens=int(meta.get("prompt_tokens") or 0),
            cached_tokens=int(meta.get("cached_tokens") or 0),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise EngineError(f"engine sent an unreadable event: {payload[:120]!r}") from error
