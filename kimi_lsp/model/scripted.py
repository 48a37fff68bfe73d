"""A scripted engine for deterministic tests, benchmarks and demos without a model.

Replays canned answers from a JSON file and records every request and abort it receives, and the end of each
stream (`finished`: whether its last chunk went out), one JSON line each, so tests can assert what reached
"the GPU" and how long each request held it. It streams like a real engine: the answer arrives in pieces, with
an optional delay per piece, and stops promptly when the consumer goes away.

Script format: {"responses": [{"contains": "...", "ends_with": "...", "text": "...", "delay_ms": 0,
"samples": ["...", ...]}], "default": "", "record": "/path/requests.jsonl", "chunk_chars": 8}. The first response
whose `contains` occurs in the prompt and whose `ends_with` ends it (both optional) wins, else `default`. A
request for n > 1 samples gets sample i from `samples` (cycled; `text` when there are none), their chunks
interleaved as SGLang streams them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client import Chunk, EngineError, GenerateRequest


@dataclass(slots=True, frozen=True)
class ScriptedResponse:
    contains: str
    text: str
    delay_ms: float = 0.0
    ends_with: str = ""
    samples: tuple[str, ...] = ()


class ScriptedEngine:
    def __init__(
        self,
        responses: tuple[ScriptedResponse, ...],
        default: str = "",
        record: Path | None = None,
        chunk_chars: int = 8,
    ) -> None:
        self.responses = responses
        self.default = default
        self.record = record
        self.chunk_chars = max(1, chunk_chars)

    @classmethod
    def from_file(cls, path: Path) -> ScriptedEngine:
        """Load a script; raises EngineError naming the file when it is not a valid script."""
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            responses = tuple(
                ScriptedResponse(
                    str(r.get("contains", "")),
                    str(r["text"]),
                    float(r.get("delay_ms", 0)),
                    str(r.get("ends_with", "")),
                    tuple(str(sample) for sample in r.get("samples", ())),
                )
                for r in data.get("responses", [])
            )
            record = Path(data["record"]) if data.get("record") else None
            return cls(responses, str(data.get("default", "")), record, int(data.get("chunk_chars", 8)))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise EngineError(f"invalid engine script {path}: {error}") from error

    def _log(self, event: str, **fields: object) -> None:
        if self.record is not None:
            with self.record.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"event": event, **fields}) + "\n")

    def _answer(self, prompt: str) -> ScriptedResponse:
        for response in self.responses:
            if response.contains in prompt and prompt.endswith(response.ends_with):
                return response
        return ScriptedResponse("", self.default)

    async def stream(self, request: GenerateRequest) -> AsyncGenerator[Chunk, None]:
        self._log(
            "request",
            rid=request.rid,
            prompt=request.prompt,
            max_new_tokens=request.max_new_tokens,
            temperature=request.temperature,
            n=request.n,
            json_schema=request.json_schema,
        )
        answer = self._answer(request.prompt)
        samples = answer.samples or (answer.text,)
        texts = [answer.text] if request.n == 1 else [samples[i % len(samples)] for i in range(request.n)]
        num_prompt = len(request.prompt)
        longest = max(len(text) for text in texts)
        pieces = range(self.chunk_chars, longest + self.chunk_chars, self.chunk_chars)
        finished = False  # the last chunk went out: this engine is done with the request
        try:
            for end in pieces or [0]:
                if answer.delay_ms:
                    await asyncio.sleep(answer.delay_ms / 1000)
                for index, text in enumerate(texts):
                    if end - self.chunk_chars >= len(text) and end > self.chunk_chars:
                        continue  # this sample finished with an earlier piece
                    done = end >= len(text)
                    finished = end >= longest and index == len(texts) - 1
                    yield Chunk(text[:end], "stop" if done else None, num_prompt, 0, index)
        finally:
            self._log("end", rid=request.rid, finished=finished)  # the stream closed, whichever way

    async def abort(self, rid: str) -> None:
        self._log("abort", rid=rid)

    async def health(self) -> bool:
        return True

    async def close(self) -> None:
        return None
