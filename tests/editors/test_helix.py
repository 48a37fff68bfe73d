"""Helix 25.01 with editors/helix/languages.toml (docs/editors.md), driven through tmux: the
diagnostic, the quick fix from the code action menu (space a), the completion menu."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import FIXED_LINE, HELIX, REPO, SID_ROOT, require, server_command, wait_for

pytestmark = pytest.mark.editors

LANGUAGES = REPO / "editors" / "helix" / "languages.toml"
CONFIG = """\
[editor]
idle-timeout = 50
[editor.inline-diagnostics]
cursor-line = "error"
other-lines = "error"
"""


def toml_string_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


def languages_toml(command: list[str]) -> str:
    """editors/helix/languages.toml with the test's server command (and Python only)."""
    text = LANGUAGES.read_text()
    text = text.replace('command = "kimi-lsp"', f"command = {json.dumps(command[0])}")
    text = text.replace('args = ["--stdio"]', f"args = {toml_string_list(command[1:])}")
    return text[: text.index('[[language]]\nname = "rust"')]


class Tmux:
    def __init__(self, socket: str) -> None:
        self.base = [shutil.which("tmux") or "tmux", "-L", socket, "-f", "/dev/null"]

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], check=True, capture_output=True, text=True, timeout=10).stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        self("send-keys", *(["-l"] if literal else []), *keys)
        time.sleep(0.2)

    def screen(self) -> str:
        return self("capture-pane", "-p")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    require(Path(shutil.which("tmux") or "tmux (apt)"))
    mux = Tmux(f"kimi-helix-{os.getpid()}-{tmp_path.name}")
    yield mux
    try:  # the pane's process group (hx and the server), then the tmux server itself
        pane_pid, server_pid = mux("display", "-p", "#{pane_pid} #{pid}").split()
        os.killpg(int(pane_pid), signal.SIGTERM)
        os.kill(int(server_pid), signal.SIGTERM)
    except (subprocess.CalledProcessError, ProcessLookupError, ValueError):
        pass


def test_helix(tmp_path: Path, workspace: Path, engine_json: Path, tmux: Tmux, artifacts: Path) -> None:
    require(HELIX)
    config = tmp_path / "config" / "helix"
    config.mkdir(parents=True)
    (config / "languages.toml").write_text(languages_toml(server_command(engine_json)))
    (config / "config.toml").write_text(CONFIG)
    env = (
        f"HOME={tmp_path} XDG_CONFIG_HOME={tmp_path / 'config'} XDG_CACHE_HOME={tmp_path / 'cache'} "
        f"HELIX_RUNTIME={SID_ROOT / 'usr/lib/hx/runtime'}"
    )
    tmux("new-session", "-d", "-x", "120", "-y", "30", "-c", str(workspace), f"env {env} {HELIX} main.py")

    # The diagnostic, shown inline under the broken line.
    wait_for(lambda: "yntax error" in tmux.screen(), 30, "the diagnostic")
    (artifacts / "1-diagnostic.txt").write_text(tmux.screen())

    # The quick fix: go to line 9, open the code action menu, apply it, save.
    tmux.keys(":9", "Enter")
    tmux.keys("Space", "a")
    wait_for(lambda: "Fix syntax error with Kimi" in tmux.screen(), 30, "the code action menu")
    (artifacts / "2-code-action.txt").write_text(tmux.screen())
    tmux.keys("Enter")
    wait_for(lambda: FIXED_LINE in tmux.screen(), 30, "the quick fix")
    tmux.keys(":w", "Enter")
    wait_for(lambda: FIXED_LINE in (workspace / "main.py").read_text(), 10, "the saved fix")

    # Completion: the menu lists the file's symbols while typing.
    tmux.keys("g", "e")
    tmux.keys("o")
    tmux.keys("greeting = gr", literal=True)

    def menu() -> str:
        screen = tmux.screen()
        return screen if "greet " in screen.split("greeting = gr", 1)[-1] else ""

    (artifacts / "3-completion.txt").write_text(str(wait_for(menu, 30, "the completion menu")))
    tmux.keys("Escape")
    tmux.keys(":q!", "Enter")


def configured_servers(home: Path, language: str) -> list[str]:
    """The language servers `hx --health <language>` lists for the configuration under `home`."""
    out = subprocess.run(
        [str(HELIX), "--health", language],
        env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    section = out.split("Configured language servers:", 1)[1].split("Configured debug adapter", 1)[0]
    return [line.split()[1].rstrip(":") for line in section.splitlines() if line.strip()]


def test_helix_sample_keeps_the_default_language_servers(tmp_path: Path) -> None:
    """Each language of editors/helix/languages.toml gets kimi-lsp after Helix's own default servers."""
    require(HELIX)
    default, ours = tmp_path / "default", tmp_path / "ours"
    (ours / ".config" / "helix").mkdir(parents=True)
    (ours / ".config" / "helix" / "languages.toml").write_text(LANGUAGES.read_text())
    languages = [line.split('"')[1] for line in LANGUAGES.read_text().splitlines() if line.startswith("name = ")]
    assert {"python", "rust", "go", "typescript"} <= set(languages)
    for language in languages:
        assert configured_servers(ours, language) == [*configured_servers(default, language), "kimi-lsp"], language
