"""Which engine the server talks to, and what state it is in.

Owns the choice (`--engine URL|embedded|none|scripted:PATH`), the live `Engine` and its `Generator`, and the
engine status the client sees (`kimi/status`: off, starting, ready, down; last latency; cache ratio). Engine
failures are reported once per transition to "down", never once per request; the next successful request
brings the state back to "ready".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .engine_client import Engine, EngineError, SGLangEngine
from .generation import Generation, Generator
from .scripted_engine import ScriptedEngine

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class EngineChoice:
    kind: str  # none | url | scripted | embedded
    value: str = ""


def parse_engine_choice(arg: str) -> EngineChoice:
    """Parse the --engine flag. Raises ValueError with a readable message for anything else."""
    if arg in ("none", "embedded"):
        return EngineChoice(arg)
    if arg.startswith(("http://", "https://")):
        return EngineChoice("url", arg)
    if arg.startswith("scripted:") and len(arg) > len("scripted:"):
        return EngineChoice("scripted", arg.removeprefix("scripted:"))
    raise ValueError(f"--engine must be an http(s) URL, 'embedded', 'none' or 'scripted:PATH', not {arg!r}")


@dataclass(slots=True, frozen=True)
class EngineStatus:
    engine: str = "off"  # off | starting | ready | down
    latency_ms: float | None = None
    cache_ratio: float | None = None
    message: str = ""

    def to_json(self) -> dict[str, object]:
        return {"engine": self.engine, "latencyMs": self.latency_ms, "cacheRatio": self.cache_ratio,
                "message": self.message}


class EngineHost:
    """Holds at most one engine. `generator` is None while no engine is usable (off or starting)."""

    def __init__(self, notify: Callable[[EngineStatus], None]) -> None:
        self._notify = notify
        self.status = EngineStatus()
        self.engine: Engine | None = None
        self.generator: Generator | None = None

    def _set(self, status: EngineStatus) -> None:
        changed = status != self.status
        self.status = status
        if changed:
            self._notify(status)

    def attach(self, engine: Engine, description: str) -> None:
        """Start using `engine` (already running)."""
        self.engine = engine
        self.generator = Generator(engine, self.record)
        self._set(EngineStatus("ready", message=f"engine: {description}"))
        log.info("engine ready: %s", description)

    def starting(self, message: str) -> None:
        self._set(replace(self.status, engine="starting", message=message))

    def off(self, message: str) -> None:
        self.engine, self.generator = None, None
        self._set(EngineStatus("off", message=message))

    def record(self, result: Generation) -> None:
        """A generation finished: the engine is up; remember latency and cache ratio."""
        ratio = result.cached_tokens / result.prompt_tokens if result.prompt_tokens else None
        self._set(EngineStatus("ready", round(result.latency_ms, 1), ratio, self.status.message
                               if self.status.engine == "ready" else "engine is back"))

    def failed(self, error: EngineError) -> None:
        """A request failed: report once per transition to down."""
        if self.status.engine != "down":
            log.warning("engine down: %s (completions fall back to the index until it answers again)", error)
        self._set(replace(self.status, engine="down", message=str(error)))

    async def close(self) -> None:
        if self.generator is not None:
            await self.generator.close()
        if self.engine is not None:
            await self.engine.close()
        self.engine, self.generator = None, None


def make_engine(choice: EngineChoice, api_key: str | None, timeout_s: float) -> Engine | None:
    """The engine for a url or scripted choice (None for none/embedded, which the server handles)."""
    if choice.kind == "url":
        return SGLangEngine(choice.value, api_key, timeout_s)
    if choice.kind == "scripted":
        return ScriptedEngine.from_file(Path(choice.value))
    return None
