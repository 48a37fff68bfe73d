"""Shared fixtures of the real-editor tests: where editors/install.sh put each client, the server
command line with a scripted (deterministic) engine, a small workspace, and process-group cleanup.

A client that is missing FAILS the test; KIMI_LSP_ALLOW_SKIP_EDITORS=1 turns that into a skip."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kimi-lsp" / "editors"
ARTIFACTS = REPO / "artifacts" / "editors"

NODE24 = CACHE / "node-24.22.3" / "bin" / "node"
CODE_SERVER = CACHE / "code-server-4.139.1" / "node_modules" / "code-server" / "out" / "node" / "entry.js"
PLAYWRIGHT = CACHE / "playwright-core-1.65.1" / "node_modules"
VSIX = REPO / "editors" / "vscode" / "kimi-lsp.vsix"
CHROMIUM = Path("/usr/bin/chromium")
NVIM_011 = CACHE / "nvim-0.11.4" / "bin" / "nvim"
SID_ROOT = CACHE / "sid-root"
NVIM_012 = SID_ROOT / "bin" / "nvim"
HELIX = SID_ROOT / "bin" / "hx"
LSP4J = CACHE / "lsp4j-0.24.0"
NEOVIM_PLUGIN = REPO / "editors" / "neovim"

SAMPLE = """\
def add(a, b):
    return a + b


def greet(name):
    return "hello " + name


def broken(x:
    return x
"""
BROKEN_LINE = "def broken(x:"
FIXED_LINE = "def broken(x):"
FIX_HOLE = 'return "hello " + name\n\n'
REVIEW_FINDING = {
    "startLine": 2,
    "endLine": 2,
    "severity": "warning",
    "message": "add subtracts",
    "replacement": "    return a + b",
    "confidence": 0.9,
}


def require(*paths: Path) -> None:
    """Fail (or skip, when KIMI_LSP_ALLOW_SKIP_EDITORS=1) unless every client file exists."""
    missing = [str(p) for p in paths if not p.exists()]
    if not missing:
        return
    message = f"editor client not installed (run editors/install.sh): {', '.join(missing)}"
    if os.environ.get("KIMI_LSP_ALLOW_SKIP_EDITORS") == "1":
        pytest.skip(message)
    pytest.fail(message)


def server_command(engine_json: Path) -> list[str]:
    """The real server: KIMI_LSP_EDITOR_SERVER (a command line), else .venv/bin/kimi-lsp, else python -m."""
    override = os.environ.get("KIMI_LSP_EDITOR_SERVER")
    if override:
        base = shlex.split(override)
    elif (REPO / ".venv" / "bin" / "kimi-lsp").exists():
        base = [str(REPO / ".venv" / "bin" / "kimi-lsp")]
    else:
        base = [sys.executable, "-m", "kimi_lsp"]
    return [*base, "--engine", f"scripted:{engine_json}"]


def default_responses() -> list[dict[str, object]]:
    """Scripted engine answers shared by every editor test (first match wins).

    kimi-tiny prompts run left to right and end at the cursor, so `ends_with` marks "the cursor is here".
    A cursor at a line start is healed: the prompt stops before that newline and the answer starts with it."""
    return [
        # Inline completion after `café = ad` and `café = add` (non-ASCII: exercises the position encodings).
        {"ends_with": "café = add", "text": "(1, 2)"},
        {"ends_with": "café = ad", "text": "d(1, 2)"},
        # Several suggestions after `total = mul`: the greedy one, then samples (ranked: (3, 2) has two votes).
        {"ends_with": "total = mul", "text": "(2, 3)", "samples": ["(3, 2)", "(2, 3)", "(3, 2)", "(4, 5)"]},
        # Completion: the model's item next to the file's symbols.
        {"ends_with": "greeting = gr", "text": 'eet("kimi")'},
        # Quick fix: the broken lines become the hole, right after greet()'s body.
        {"ends_with": FIX_HOLE, "text": "\ndef broken(x):\n"},
        # Review of add() once its body subtracts: one finding with its fix (REVIEW_FINDING).
        {"contains": "    2 |     return a - b\n", "text": json.dumps({"findings": [REVIEW_FINDING]})},
        {"contains": "# Explanation of lines 1-2 above", "text": " Adds a and b.\n"},
        {
            "contains": "# Lines 1-2 above rewritten (name the sum)",
            "text": "def add(a, b):\n    total = a + b\n    return total\n",
        },
    ]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / ".git").mkdir()
    (root / "main.py").write_text(SAMPLE)
    return root


@pytest.fixture
def engine_json(tmp_path: Path) -> Path:
    path = tmp_path / "engine.json"
    record = tmp_path / "requests.jsonl"
    path.write_text(json.dumps({"responses": default_responses(), "default": "", "record": str(record)}))
    return path


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """Folder for screenshots and logs of one test (kept after the run; gitignored)."""
    path = ARTIFACTS / request.node.name.replace("[", "-").replace("]", "")
    path.mkdir(parents=True, exist_ok=True)
    return path


class Processes:
    """Starts processes in their own process group and stops each group at teardown."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)  # type: ignore[call-overload]
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            stop_group(proc)


def stop_group(proc: subprocess.Popen[bytes], grace_s: float = 3.0) -> None:
    """SIGTERM the process group led by proc, then SIGKILL what is left of it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; members of the group may still linger.
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break


@pytest.fixture
def processes() -> Iterator[Processes]:
    procs = Processes()
    try:
        yield procs
    finally:
        procs.stop_all()


def wait_for(
    predicate: Callable[[], object], timeout_s: float = 30.0, what: str = "condition", interval_s: float = 0.1
) -> object:
    """Poll until predicate() is truthy; fail with `what` after timeout_s (a hang guard, not a timing assert)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(interval_s)
