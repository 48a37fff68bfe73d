"""Not Linux-only by accident: with the POSIX-only signals gone and no /proc (as on Windows, or macOS for /proc),
kimi_lsp.processes imports and its helpers are no-ops, and the whole server starts and answers an LSP session."""

from __future__ import annotations

import builtins
import importlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

import kimi_lsp.processes

POSIX_ONLY_SIGNALS = ("SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM")

# Run in a fresh interpreter before anything of kimi_lsp is imported: removes what Windows lacks (the signals
# above, os.killpg, os.setsid) and makes /proc absent, then runs the server's own main().
RUNNER = """
import builtins, os, signal, sys
for name in {signals!r}:
    delattr(signal, name)
for name in ("killpg", "setsid"):
    delattr(os, name)
def hidden(path):
    return str(path) == "/proc" or str(path).startswith("/proc/")
real_listdir, real_isdir, real_open = os.listdir, os.path.isdir, builtins.open
def listdir(path="."):
    if hidden(path):
        raise FileNotFoundError(2, "No such file or directory", str(path))
    return real_listdir(path)
def opener(file, *args, **kwargs):
    if isinstance(file, (str, os.PathLike)) and hidden(os.fspath(file)):
        raise FileNotFoundError(2, "No such file or directory", os.fspath(file))
    return real_open(file, *args, **kwargs)
os.listdir, builtins.open = listdir, opener
os.path.isdir = lambda path: False if hidden(path) else real_isdir(path)
from kimi_lsp.__main__ import main
main(["--stdio", "--engine", "none"])
"""


@pytest.fixture
def without_linux(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """kimi_lsp.processes re-imported with the POSIX-only signals gone, on a non-Linux platform, with no /proc."""
    for name in POSIX_ONLY_SIGNALS:
        monkeypatch.delattr(signal, name)
    monkeypatch.setattr(sys, "platform", "win32")
    real_listdir, real_open, real_isdir = os.listdir, builtins.open, os.path.isdir

    def listdir(path: Any = ".") -> list[str]:
        if str(path).startswith("/proc"):
            raise FileNotFoundError(path)
        return real_listdir(path)

    def opener(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file).startswith("/proc"):
            raise FileNotFoundError(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "listdir", listdir)
    monkeypatch.setattr(builtins, "open", opener)
    monkeypatch.setattr(os.path, "isdir", lambda path: False if str(path).startswith("/proc") else real_isdir(path))
    yield importlib.reload(kimi_lsp.processes)
    monkeypatch.undo()
    importlib.reload(kimi_lsp.processes)


def test_the_process_helpers_import_and_do_nothing_without_linux(without_linux: Any) -> None:
    processes = without_linux
    assert processes.KILL == signal.SIGTERM  # what ends a process on Windows
    processes.die_with_parent()  # no prctl off Linux
    assert processes.descendants(os.getpid()) == set()
    assert processes._parents() == {}
    processes.kill_descendants()  # nothing to reap, and no error


def test_the_process_helpers_use_sigkill_on_linux() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only")
    assert kimi_lsp.processes.KILL == signal.SIGKILL


async def test_the_server_serves_without_linux_only_signals_or_proc(tmp_path: Path) -> None:
    (tmp_path / "util.py").write_text("def helper_one():\n    pass\n")
    script = RUNNER.format(signals=POSIX_ONLY_SIGNALS)
    client = LanguageClient("portability-test", "0")
    await client.start_io(sys.executable, "-c", script, cwd=str(tmp_path))
    try:
        await client.initialize_async(
            lsp.InitializeParams(
                capabilities=lsp.ClientCapabilities(),
                root_uri=tmp_path.as_uri(),
                initialization_options={"debounceMs": 0},
            )
        )
        client.initialized(lsp.InitializedParams())
        uri = (tmp_path / "main.py").as_uri()
        text = "def helper_two():\n    pass\n\nhel"
        client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text))
        )
        result = await client.text_document_completion_async(
            lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(3, 3))
        )
        items = result.items if isinstance(result, lsp.CompletionList) else (result or [])
        assert "helper_two" in {item.label for item in items}
        status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
        assert status["engine"] == "off"
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
