"""Which engine the server talks to, its whole life, and the state the client sees.

`EngineHost` owns the choice (`--engine URL|embedded|none|scripted:PATH`, else the `engine.url` setting, else
the embedded engine), starting it (the embedded one boots in the background while index features work),
attaching it (an attached URL must answer /health), the live `Engine` and its `Generator`, stopping it (at
once: an embedded engine's processes end in the background), and the status the client sees (`kimi/status`:
off, starting, ready, down; last latency; cache ratio).

An engine that fails is "down": the user is told once per transition (a message naming the engine and what to
do), and requests wait out a backoff (1 s, doubling to 60 s) instead of trying on every keystroke; the first
one that succeeds brings the state back to "ready". It reaches the client only through `HostClient`; it never
imports the server.
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import logging
import os
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Protocol

from ..redact import keep_out
from ..settings import EngineSettings
from .client import Engine, EngineError, SGLangEngine
from .deadline import DeadlineEngine
from .embedded import EmbeddedEngine, EmbeddedError
from .generation import Generation, Generator
from .openai import OpenAIEngine
from .scripted import ScriptedEngine

log = logging.getLogger(__name__)

EngineKind = Literal["none", "url", "scripted", "embedded"]
EngineState = Literal["off", "starting", "ready", "down"]
Severity = Literal["error", "warning", "info"]
FIRST_RETRY_S = 1.0
LAST_RETRY_S = 60.0
API_KEY_VARIABLE = "KIMI_LSP_API_KEY"  # the engine's API key when the engine.apiKey setting is not given
STATUS_INTERVAL_S = 0.5  # kimi/status for new figures alone (latency, cache ratio) at most this often


@dataclass(slots=True, frozen=True)
class EngineChoice:
    kind: EngineKind
    value: str = ""


def parse_engine_choice(arg: str) -> EngineChoice:
    """Parse the --engine flag. Raises ValueError with a readable message for anything else."""
    if arg == "none":
        return EngineChoice("none")
    if arg == "embedded":
        return EngineChoice("embedded")
    if arg.startswith(("http://", "https://")):
        return EngineChoice("url", arg)
    if arg.startswith("scripted:") and len(arg) > len("scripted:"):
        return EngineChoice("scripted", arg.removeprefix("scripted:"))
    raise ValueError(f"--engine must be an http(s) URL, 'embedded', 'none' or 'scripted:PATH', not {arg!r}")


def routing_key(user: str, roots: Sequence[str]) -> str:
    """The key a router routes one user's requests in one workspace by: stable across restarts, and naming
    neither (a hash). Pure."""
    return hashlib.sha256("\0".join([user, *sorted(roots)]).encode()).hexdigest()[:16]


def current_user() -> str:
    """The user's login name, or "" where the system cannot tell."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return ""


def connect(
    settings: EngineSettings, url: str, key: str | None = None, *, embedded: bool = False
) -> SGLangEngine | OpenAIEngine:
    """The client for the engine at `url` in the API `engine.api` names: SGLang's native one, or OpenAI's
    completions. The embedded engine (our own process) gets no API key, CA bundle or workers. Raises
    EngineError as the clients do (a CA bundle that cannot be loaded)."""
    api_key = None if embedded else settings.api_key or os.environ.get(API_KEY_VARIABLE) or None
    keep_out(api_key)  # never logged
    timeout_s = settings.timeout_ms / 1000
    ca_bundle = None if embedded else settings.ca_bundle
    if settings.api == "openai":
        return OpenAIEngine(url, api_key, timeout_s, ca_bundle, key, settings.model)
    return SGLangEngine(url, api_key, timeout_s, ca_bundle, key, () if embedded else settings.workers)


@dataclass(slots=True, frozen=True)
class EngineStatus:
    engine: EngineState = "off"
    latency_ms: float | None = None
    cache_ratio: float | None = None
    message: str = ""
    requests: int = 0  # generations that reached this engine so far (answers reused without one do not count)

    def to_json(self) -> dict[str, object]:
        return {
            "engine": self.engine,
            "latencyMs": self.latency_ms,
            "cacheRatio": self.cache_ratio,
            "message": self.message,
            "requests": self.requests,
        }


class ProgressReporter(Protocol):
    def report(self, message: str, percentage: int | None = None) -> None: ...


class HostClient(Protocol):
    """What the host needs from the editor: the status line, a message the user reads, work-done progress."""

    def send_status(self, status: EngineStatus) -> None: ...

    def tell(self, message: str, severity: Severity = "warning") -> None: ...

    def with_progress(self, title: str) -> AbstractAsyncContextManager[ProgressReporter]: ...


class EngineHost:
    """Holds at most one engine. `generator` is None while no engine is usable (off or starting). All methods
    run on the server's event loop except `kill`, which the exit path may call from anywhere."""

    def __init__(self, client: HostClient, choice: EngineChoice | None = None) -> None:
        self._client = client
        self._choice = choice  # None: from the settings
        self._boot: asyncio.Task[None] | None = None
        self._embedded: EmbeddedEngine | None = None
        self._description = ""  # the engine as the user knows it: its URL, or "the embedded engine"
        self._retry_at = 0.0  # while down: no request before this time (time.monotonic)
        self._retry_s = FIRST_RETRY_S
        self.status = EngineStatus()
        self._told = EngineStatus()  # the last status the client was sent
        self._next_figures_at = 0.0  # no figures-only status before this time (time.monotonic)
        self._figures_later: asyncio.TimerHandle | None = None
        self.engine: Engine | None = None
        self.generator: Generator | None = None
        self._deadline_s = EngineSettings().deadline_ms / 1000

    def choice(self, settings: EngineSettings) -> EngineChoice:
        if self._choice is not None:
            return self._choice
        return EngineChoice("url", settings.url) if settings.url else EngineChoice("embedded")

    def follows_settings(self) -> bool:
        """True when the engine comes from the settings (no --engine flag): a settings change restarts it."""
        return self._choice is None

    async def start(self, settings: EngineSettings, roots: Sequence[str] = ()) -> None:
        """Start the chosen engine for a workspace of `roots` (its requests carry their routing key). Never
        raises: a bad choice leaves the engine off with one message."""
        choice = self.choice(settings)
        self.configure(settings)
        key = routing_key(current_user(), roots)
        if choice.kind == "none":
            self.off("engine disabled (--engine none): index-only features")
        elif choice.kind == "embedded":
            self._boot = asyncio.create_task(self._boot_embedded(settings))
        elif choice.kind == "scripted":
            try:
                self.attach(ScriptedEngine.from_file(Path(choice.value)), choice.value)
            except EngineError as error:
                self.off(str(error))
                self._client.tell(str(error), "error")
        else:
            try:
                engine = connect(settings, choice.value, key)
            except EngineError as error:
                self.off(str(error))
                self._client.tell(str(error), "error")
                return
            self.attach(engine, choice.value)
            await self.check_health()

    def configure(self, settings: EngineSettings) -> None:
        """Settings that apply to the engine in use without a restart: the deadline of each generation."""
        self._deadline_s = settings.deadline_ms / 1000

    async def check_health(self) -> None:
        """Ask the attached engine's /health; one that does not answer is down (told once, backed off)."""
        engine = self.engine
        if engine is not None and not await engine.health():
            self.failed(EngineError(f"engine at {self._description} unreachable: /health did not answer"))

    async def _boot_embedded(self, settings: EngineSettings) -> None:
        self._embedded = embedded = EmbeddedEngine(settings.python)
        self.starting("starting the embedded engine (cpu-tiny)")
        try:
            async with self._client.with_progress("Starting the Kimi engine") as progress:
                progress.report("cpu-tiny on the CPU: about 30 s")
                await embedded.start()
        except EmbeddedError as error:
            self.off(str(error))
            self._client.tell(str(error), "error")
            return
        self.attach(
            connect(settings, embedded.base_url, embedded=True),
            f"embedded cpu-tiny at {embedded.base_url} (ready in {embedded.waited_s:.0f} s)",
        )

    async def stop(self) -> None:
        """Stop using the engine: cancel a boot, end generations in flight; an embedded engine's processes stop
        in the background (`kill` waits for them). Returns at once."""
        if self._boot is not None:
            self._boot.cancel()
            self._boot = None
        if self.generator is not None:
            await self.generator.close()
        if self.engine is not None:
            await self.engine.close()
        self.engine, self.generator = None, None
        if self._embedded is not None:
            self._embedded.stop_soon()

    def kill(self) -> None:
        """Stop the embedded engine's processes, if any, and wait until they are gone (blocking; idempotent;
        for the exit path)."""
        embedded, self._embedded = self._embedded, None
        if embedded is not None:
            embedded.stop()

    def usable(self) -> Generator | None:
        """The generator to ask now: None while no engine is usable, or while a down engine's backoff runs."""
        if self.status.engine == "down" and time.monotonic() < self._retry_at:
            return None
        return self.generator

    def attach(self, engine: Engine, description: str) -> None:
        """Start using `engine` (already running); every generation on it has the deadline (deadline.py)."""
        engine = DeadlineEngine(engine, lambda: self._deadline_s)
        self.engine = engine
        self.generator = Generator(engine, self.record, self.failed)
        self._description = description.split(" (")[0]
        self._retry_at, self._retry_s = 0.0, FIRST_RETRY_S
        self._set(EngineStatus("ready", message=f"engine: {description}"))
        log.info("engine ready: %s", description)

    def starting(self, message: str) -> None:
        self._set(replace(self.status, engine="starting", message=message))

    def off(self, message: str) -> None:
        self.engine, self.generator = None, None
        self._set(EngineStatus("off", message=message))

    def record(self, result: Generation) -> None:
        """A generation finished: the engine is up; remember latency and cache ratio."""
        self._retry_s = FIRST_RETRY_S
        ratio = result.cached_tokens / result.prompt_tokens if result.prompt_tokens else None
        self._set(
            EngineStatus(
                "ready",
                round(result.latency_ms, 1),
                ratio,
                self.status.message if self.status.engine == "ready" else "engine is back",
                self.generator.sent if self.generator is not None else 0,
            )
        )

    def failed(self, error: EngineError) -> None:
        """A request failed: tell the user once per transition to down; no request before the backoff ends."""
        self._retry_at = time.monotonic() + self._retry_s
        self._retry_s = min(self._retry_s * 2, LAST_RETRY_S)
        was_down = self.status.engine == "down"
        sent = self.generator.sent if self.generator is not None else self.status.requests
        self._set(replace(self.status, engine="down", message=str(error), requests=sent))
        if not was_down:
            self._client.tell(
                f"{error}. Suggestions are off until it answers (retrying with backoff); index "
                "features keep working. Check that the engine runs, or set engine.url.",
                "warning",
            )

    def _set(self, status: EngineStatus) -> None:
        """Make `status` current and tell the client: at once when the state or the message changed; when only
        the figures did (every generation brings new ones), at most every STATUS_INTERVAL_S, the latest last,
        so a status line stays live without a notification on every request's path."""
        self.status = status
        if status == self._told:
            return
        figures_only = (status.engine, status.message) == (self._told.engine, self._told.message)
        wait_s = self._next_figures_at - time.monotonic()
        if figures_only and wait_s > 0:
            if self._figures_later is None:
                self._figures_later = asyncio.get_running_loop().call_later(wait_s, self._tell_status)
            return
        self._tell_status()

    def _tell_status(self) -> None:
        if self._figures_later is not None:
            self._figures_later.cancel()
            self._figures_later = None
        self._told = self.status
        self._next_figures_at = time.monotonic() + STATUS_INTERVAL_S
        self._client.send_status(self.status)
