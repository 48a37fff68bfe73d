"""The embedded engine: a real SGLang server (the `cpu-tiny` profile) started on this machine.

Owns finding out whether it can run here, and starting and stopping its process group. SGLang and torch live in
an environment of their own (the server's stays small and free of their pins): the interpreter given, else the
first of `engine_venvs()` whose Python has SGLang - `.venv-engine` beside a source checkout (`make engine`),
then `<data dir>/engine-venv` (dirs.py; `engine/install.sh` there, for an installed wheel) - else this
interpreter if SGLang is installed beside the server. The engine process is
told to die with this one (PR_SET_PDEATHSIG), so even a killed language server leaves no orphans. When and
why it runs is `EngineHost`'s business; this module knows nothing of the client.
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ..dirs import cache_dir, data_dir

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


def venv_python(venv: Path) -> Path:
    return venv / "Scripts" / "python.exe" if sys.platform == "win32" else venv / "bin" / "python"


def engine_venvs() -> list[Path]:
    """Where the engine's environment is looked for, in order."""
    venvs = []
    spec = importlib.util.find_spec("kimi_engine")
    origin = Path(spec.origin).resolve() if spec is not None and spec.origin else None
    if origin is not None and origin.parent.name == "engine":  # a source checkout: engine/ is kimi_engine
        venvs.append(origin.parent.parent / ".venv-engine")
    venvs.append(data_dir() / "engine-venv")
    return venvs


def has_sglang(python: str) -> bool:
    """Whether `python` runs and can import SGLang (found, not imported: that takes seconds)."""
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('sglang') is None)"
    try:
        return subprocess.run([python, "-c", probe], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def engine_python(configured: str | None = None) -> str | None:
    """The interpreter that runs SGLang: `configured` if it has SGLang (no other is tried then), else the first
    engine venv with SGLang, else this interpreter if it has SGLang; None when there is none."""
    if configured:
        return configured if has_sglang(configured) else None
    for venv in engine_venvs():
        python = venv_python(venv)
        if python.exists() and has_sglang(str(python)):
            return str(python)
    return sys.executable if importlib.util.find_spec("sglang") is not None else None


def unavailable_reason(configured: str | None = None) -> str | None:
    """Why the embedded engine cannot run here, or None when it can."""
    if importlib.util.find_spec("kimi_engine") is None:
        return "the engine package is not installed"
    if engine_python(configured) is None:
        if configured:
            return f"SGLang is not installed for {configured}"
        places = ", ".join(str(venv_python(v)) for v in engine_venvs())
        return f"no Python with SGLang at {places} or {sys.executable} (run `make engine`, see docs/engine.md)"
    return None


class EmbeddedEngine:
    """One cpu-tiny SGLang process group. `start` boots it and waits for /health; `stop` is idempotent and
    safe from any thread (the exit path calls it too); `stop_soon` returns at once and stops it in a thread."""

    def __init__(self, python: str | None = None) -> None:
        self._python = python  # the interpreter with SGLang; None: engine_python() finds one
        self._process: EngineProcess | None = None
        self._stopping: threading.Thread | None = None
        self.waited_s = 0.0

    @property
    def base_url(self) -> str:
        return self._process.base_url if self._process is not None else ""

    async def start(self) -> None:
        """Boot the engine and wait until it answers. Raises EmbeddedError (the process stopped) on failure."""
        have_engine = importlib.util.find_spec("kimi_engine") is not None
        python = await asyncio.to_thread(engine_python, self._python) if have_engine else None
        if python is None:
            reason = await asyncio.to_thread(unavailable_reason, self._python)
            raise EmbeddedError(f"embedded engine unavailable: {reason}; set engine.url to use a remote engine")
        from kimi_engine.launch import EngineConfig, EngineError, EngineProcess, free_port

        config = EngineConfig(
            port=free_port(),
            python=python,
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
