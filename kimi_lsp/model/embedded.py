"""The embedded engine: a real SGLang server on this machine, started and stopped with the language server.

Owns booting the `cpu-tiny` engine profile in the background (index-only features keep working meanwhile),
telling the client when it is ready (work-done progress and `kimi/status`), and stopping its whole process
group when the server exits. The engine process is told to die with this one (PR_SET_PDEATHSIG), so even a
killed language server leaves no orphans.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from .engine_client import SGLangEngine
from .progress import ServerProgress

if TYPE_CHECKING:
    from engine.launch import EngineProcess

    from .server import KimiLanguageServer

log = logging.getLogger(__name__)


def log_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "kimi-lsp" / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def unavailable_reason() -> str | None:
    """Why the embedded engine cannot run in this interpreter, or None when it can."""
    if importlib.util.find_spec("engine") is None:
        return "the engine package is not installed"
    if importlib.util.find_spec("sglang") is None:
        return f"SGLang is not installed in {sys.executable} (run `make engine`)"
    return None


async def boot(ls: KimiLanguageServer) -> None:
    """Start the cpu-tiny engine and attach it when /health answers. Never raises (except cancellation)."""
    reason = unavailable_reason()
    if reason is not None:
        ls.engines.off(f"embedded engine unavailable: {reason}; set engine.url to use a remote engine")
        ls.tell(ls.engines.status.message)
        return
    from engine.launch import EngineConfig, EngineError, EngineProcess, free_port

    config = EngineConfig(port=free_port(), python=sys.executable, log_file=str(log_dir() / "engine.log"),
                          startup_timeout=600)
    process = EngineProcess(config, die_with_parent=True)
    ls.engines.starting("starting the embedded engine (cpu-tiny)")
    async with ServerProgress(ls, "Starting the Kimi engine") as progress:
        progress.report("cpu-tiny on the CPU: about 30 s")
        process.start()
        ls.embedded_process = process
        try:
            waited = await asyncio.to_thread(process.wait_ready)
        except EngineError as error:
            stop(ls)
            ls.engines.off(f"embedded engine failed to start: {str(error).splitlines()[0]}")
            ls.tell(ls.engines.status.message, lsp.MessageType.Error)
            return
    ls.engines.attach(SGLangEngine(process.base_url, None, ls.settings.engine.timeout_ms / 1000),
                      f"embedded cpu-tiny at {process.base_url} (ready in {waited:.0f} s)")


def stop(ls: KimiLanguageServer) -> None:
    """Stop the embedded engine's process group, if one runs. Safe to call more than once."""
    process: EngineProcess | None = ls.embedded_process
    ls.embedded_process = None
    if process is not None:
        process.stop()
