"""The embedded engine: a real SGLang server (the `cpu-tiny` profile) started on this machine.

Owns finding out whether it can run here, and starting and stopping its process group. The engine process is
told to die with this one (PR_SET_PDEATHSIG), so even a killed language server leaves no orphans. When and
why it runs is `EngineHost`'s business; this module knows nothing of the client.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ..dirs import cache_dir

if TYPE_CHECKING:
    from kimi_engine.launch import EngineProcess

STARTUP_TIMEOUT_S = 600
STOP_GRACE_S = 1.0  # SIGTERM, then SIGKILL after this long (SGLang needs longer to exit by itself)


class EmbeddedError(RuntimeError):
    """The embedded engine cannot run here or failed to start; the message says why in one line."""


def log_dir() -> Path:
    path = cache_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def unavailable_reason() -> str | None:
    """Why the embedded engine cannot run in this interpreter, or None when it can."""
    if importlib.util.find_spec("kimi_engine") is None:
        return "the engine package is not installed"
    if importlib.util.find_spec("sglang") is None:
        return f"SGLang is not installed in {sys.executable} (run `make engine`)"
    return None


class EmbeddedEngine:
    """One cpu-tiny SGLang process group. `start` boots it and waits for /health; `stop` is idempotent and
    safe from any thread (the exit path calls it too); `stop_soon` returns at once and stops it in a thread."""

    def __init__(self) -> None:
        self._process: EngineProcess | None = None
        self._stopping: threading.Thread | None = None
        self.waited_s = 0.0

    @property
    def base_url(self) -> str:
        return self._process.base_url if self._process is not None else ""

    async def start(self) -> None:
        """Boot the engine and wait until it answers. Raises EmbeddedError (the process stopped) on failure."""
        reason = unavailable_reason()
        if reason is not None:
            raise EmbeddedError(f"embedded engine unavailable: {reason}; set engine.url to use a remote engine")
        from kimi_engine.launch import EngineConfig, EngineError, EngineProcess, free_port

        config = EngineConfig(
            port=free_port(),
            python=sys.executable,
            log_file=str(log_dir() / "engine.log"),
            startup_timeout=STARTUP_TIMEOUT_S,
        )
        self._process = EngineProcess(config, die_with_parent=True)
        self._process.start()
        try:
            self.waited_s = await asyncio.to_thread(self._process.wait_ready)
        except EngineError as error:
            self.stop()
            raise EmbeddedError(f"embedded engine failed to start: {str(error).splitlines()[0]}") from None

    def stop(self) -> None:
        """Stop the process group and wait until it is gone (at most about 2 x STOP_GRACE_S); also waits for a
        stop begun by `stop_soon`."""
        process, self._process = self._process, None
        if process is not None:
            process.stop(grace=STOP_GRACE_S)
        if self._stopping is not None and self._stopping is not threading.current_thread():
            self._stopping.join()

    def stop_soon(self) -> None:
        """Begin stopping in a background thread and return at once (`stop` waits for it to finish)."""
        if self._process is not None and self._stopping is None:
            self._stopping = threading.Thread(target=self.stop, name="kimi-engine-stop", daemon=True)
            self._stopping.start()
