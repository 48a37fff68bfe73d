"""The engine interface, the HTTP plumbing its clients share, and the SGLang client.

Owns talking to a model server: `Engine` is the contract every backend meets; `HttpEngine` is the connection
pool, the headers and the health check every HTTP backend shares; `SGLangEngine` speaks SGLang's native API
(`POST /generate` with `stream: true` and a request id, `POST /abort_request`, `GET /health`); the
OpenAI-compatible client is `openai.py`. `connect` picks one by the `engine.api` setting. It does not build
prompts and knows nothing of LSP.

Behind SGLang's router (`engine/launch.py`'s `team` profile) every request carries the routing key header
(`ROUTING_KEY_HEADER`: one per user and workspace, for the router's key-based policy), and an abort is sent to
the router and to each worker URL given (`abort_urls`): the router forwards `/generate` but not
`/abort_request`, and SGLang ignores an abort for a request id it does not hold.

HTTP client: httpx, because it honours HTTP(S)_PROXY / NO_PROXY and SSL_CERT_FILE out of the box (users sit
behind proxies with private CAs), streams responses, and is pure Python. It costs about 2 ms per request on
these machines, next to hundreds of milliseconds of decoding.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

log = logging.getLogger(__name__)

FinishReason = Literal["stop", "length", "abort", "cut"]  # "cut": the client stopped reading (never the engine)
ENGINE_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length", "abort": "abort"}
_JSON = {"Content-Type": "application/json"}
ROUTING_KEY_HEADER = "X-SMG-Routing-Key"  # SGLang's router (sglang-router 0.3): the key its manual policy pins
DRAIN_S = 2.0  # the longest a stream the consumer left is read on in the background
ENDED_WAIT_S = 0.002  # an abort first waits this long for the left stream to show the engine already finished


@dataclass(slots=True, frozen=True)
class GenerateRequest:
    rid: str
    prompt: str
    max_new_tokens: int
    temperature: float
    stop: tuple[str, ...] = ()
    json_schema: str | None = None  # a JSON Schema (as text) the output must match: SGLang's constrained decoding
    n: int = 1  # samples of the same prompt (SGLang's parallel sampling: the prompt is prefilled once, then cached)


@dataclass(slots=True, frozen=True)
class Chunk:
    """One streamed update. `text` is cumulative: everything generated so far for this request."""

    text: str
    finish_reason: FinishReason | None = None
    prompt_tokens: int = 0
    cached_tokens: int = 0
    index: int = 0  # which sample of a request with n > 1 (each sample's chunks are cumulative on their own)


class EngineError(RuntimeError):
    """The engine could not be reached, or answered something we cannot use. The message says which."""


class Engine(Protocol):
    """A model server.

    `stream` yields cumulative chunks until the engine finishes (for a request with n > 1: each sample's chunks,
    interleaved, told apart by `index`, until every sample finished); closing the generator early (`aclose`, or
    cancellation of the consuming task) ends the HTTP stream on our side but does NOT stop decoding on the
    server: callers that stop early must call `abort(rid)`. `stream` raises EngineError when the engine is down or
    answers garbage. `abort` and `health` never raise.
    """

    def stream(self, request: GenerateRequest) -> AsyncGenerator[Chunk, None]: ...

    async def abort(self, rid: str) -> None: ...

    async def health(self) -> bool: ...

    async def close(self) -> None: ...


class HttpEngine:
    """What every HTTP backend shares: one pooled connection set, the API key and routing key headers, TLS,
    `/health` and closing."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        ca_bundle: str | None = None,
        routing_key: str | None = None,
    ) -> None:
        """`api_key` goes to this engine only (httpx follows no redirects); `ca_bundle`: a PEM file of the
        authorities to trust instead of the system's (else SSL_CERT_FILE / SSL_CERT_DIR, else certifi's);
        `routing_key`: sent as ROUTING_KEY_HEADER on every request. Raises EngineError for a CA bundle that
        cannot be loaded. TLS certificates are always verified."""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        if routing_key:
            headers[ROUTING_KEY_HEADER] = routing_key
        self.base_url = base_url.rstrip("/")
        verify: ssl.SSLContext | bool = True
        if ca_bundle:
            try:
                verify = ssl.create_default_context(cafile=ca_bundle)
            except (OSError, ssl.SSLError) as error:
                raise EngineError(f"engine.caBundle {ca_bundle!r} cannot be loaded: {error}") from error
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=2.0),
            trust_env=True,
            verify=verify,
            follow_redirects=False,
        )

    async def _open(self, path: str, body: dict[str, object]) -> httpx.Response:
        """POST `body` to `path` as a stream. Raises EngineError when the engine cannot be reached or answers
        anything but 200 (the response is closed then)."""
        # our own encoding: httpx's would raise on a lone surrogate (a document may hold one); "?" stands in
        content = json.dumps(body, ensure_ascii=False).encode("utf-8", "replace")
        post = self._client.build_request("POST", path, content=content, headers=_JSON)
        try:
            response = await self._client.send(post, stream=True)
        except httpx.HTTPError as error:
            raise EngineError(f"engine at {self.base_url} unreachable: {type(error).__name__}: {error}") from error
        if response.status_code != 200:
            try:
                detail = (await response.aread())[:200].decode("utf-8", "replace")
            except httpx.HTTPError:
                detail = ""
            finally:
                await response.aclose()
            raise EngineError(f"engine answered HTTP {response.status_code}: {detail}")
        return response

    async def health(self) -> bool:
        try:
            return (await self._client.get("/health", timeout=2.0)).status_code == 200
        except httpx.HTTPError:
            return False

    async def close(self) -> None:
        await self._client.aclose()


class SGLangEngine(HttpEngine):
    """SGLang's native HTTP API. One pooled connection set per engine."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        ca_bundle: str | None = None,
        routing_key: str | None = None,
        abort_urls: tuple[str, ...] = (),
    ) -> None:
        """As HttpEngine; `abort_urls`: the workers behind a router, each told of an abort besides the router."""
        super().__init__(base_url, api_key, timeout_s, ca_bundle, routing_key)
        self.abort_urls = tuple(url.rstrip("/") for url in abort_urls)
        # streams left early, read to their end in the background: rid -> True once the stream ended on its own
        self._draining: dict[str, asyncio.Task[bool]] = {}

    async def stream(self, request: GenerateRequest) -> AsyncGenerator[Chunk, None]:
        body = {
            "text": request.prompt,
            "rid": request.rid,
            "stream": True,
            "sampling_params": {
                "max_new_tokens": request.max_new_tokens,
                "temperature": request.temperature,
                "stop": list(request.stop),
                **({"json_schema": request.json_schema} if request.json_schema is not None else {}),
                **({"n": request.n} if request.n > 1 else {}),
            },
        }
        response = await self._open("/generate", body)
        lines = response.aiter_lines()
        left_early = False
        try:
            events = 0
            async for line in lines:
                chunk = parse_sse_line(line)
                if chunk is not None:
                    events += 1
                    try:
                        yield chunk
                    except GeneratorExit:
                        left_early = True  # the consumer stopped reading (it aborts the request)
                        raise
            if not events:  # an answer, but not a stream of events (a proxy's page, another server)
                raise EngineError(f"engine at {self.base_url} sent no events: is it SGLang's /generate?")
        except httpx.HTTPError as error:
            raise EngineError(f"engine at {self.base_url} unreachable: {type(error).__name__}: {error}") from error
        finally:
            if left_early and request.n > 1:
                # SGLang gives each sample an id of its own, so abort_request cannot reach them: closing the
                # connection now is what makes it abort them
                await response.aclose()
            elif left_early:
                task = asyncio.create_task(self._drain(lines, response))
                self._draining[request.rid] = task
                task.add_done_callback(lambda _: self._draining.pop(request.rid, None))
            else:
                await response.aclose()

    async def _drain(self, lines: AsyncIterator[str], response: httpx.Response) -> bool:
        """Read what is left of a stream the consumer left early (after the abort the engine ends it soon), so
        its keep-alive connection goes back to the pool instead of a new one being opened for the next request;
        closed after DRAIN_S at most. True when the stream ended on its own: the engine finished the request."""
        try:
            async with asyncio.timeout(DRAIN_S):
                async for _ in lines:
                    pass
            return True
        except (httpx.HTTPError, TimeoutError):
            return False
        finally:
            await response.aclose()

    async def abort(self, rid: str) -> None:
        """Tell SGLang to stop `rid`. A stream left early whose end had already arrived (a fast engine finishes
        before the consumer even looks) needs none: up to ENDED_WAIT_S is given to its drain to show that."""
        draining = self._draining.get(rid)
        if draining is not None:
            await asyncio.wait({draining}, timeout=ENDED_WAIT_S)
            if draining.done() and not draining.cancelled() and draining.result():
                return
        if self._client.is_closed:  # shutting down: the engine goes away with us
            return
        targets = ["/abort_request", *(f"{url}/abort_request" for url in self.abort_urls)]
        results = await asyncio.gather(
            *(self._client.post(target, json={"rid": rid}, timeout=2.0) for target in targets), return_exceptions=True
        )
        for target, result in zip(targets, results, strict=True):
            if isinstance(result, httpx.HTTPError):
                log.warning("abort of %s at %s failed: %s", rid, target, result)
            elif isinstance(result, BaseException):
                raise result

    async def close(self) -> None:
        if self._draining:
            await asyncio.gather(*self._draining.values(), return_exceptions=True)
        await super().close()


def sse_payload(line: str) -> str | None:
    """The payload of a server-sent event's data line, or None for blank lines, comments and [DONE]."""
    if not line.startswith("data:"):
        return None
    payload = line[5:].strip()
    return None if payload == "[DONE]" else payload


def finish_reason(raw: object) -> FinishReason | None:
    """An engine's finish reason as this client's: None while the request runs; one it does not know still
    ends the request."""
    return None if raw is None else ENGINE_FINISH.get(str(raw), "stop")


def parse_sse_line(line: str) -> Chunk | None:
    """One line of SGLang's server-sent events -> a Chunk, or None for blank lines, comments and [DONE].

    Raises EngineError on a data line that is not the JSON object SGLang sends."""
    payload = sse_payload(line)
    if payload is None:
        return None
    try:
        event = json.loads(payload)
        meta = event.get("meta_info") or {}
        finish = meta.get("finish_reason")
        finish_type = finish.get("type") if isinstance(finish, dict) else finish
        return Chunk(
            text=str(event["text"]),
            finish_reason=finish_reason(finish_type),
            prompt_tokens=int(meta.get("prompt_tokens") or 0),
            cached_tokens=int(meta.get("cached_tokens") or 0),
            index=int(event.get("index") or 0),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise EngineError(f"engine sent an unreadable event: {payload[:120]!r}") from error
