"""The VS Code extension (editors/vscode, packaged as a .vsix) in VS Code itself: code-server in Debian's
chromium, driven by playwright-core (vscode/drive.cjs). Shows the status bar item, a syntax-error
squiggle, applies the quick fix, shows ghost text and accepts it with Tab, shows the completion widget, the
file's symbols (Ctrl+Shift+O) and, in workspace symbols (Ctrl+T), a file written by another program, gone
once that program deletes its folder; cycles through several suggestions (Alt+] / Alt+[); the status bar
menu turns inline suggestions off and on for the language; the API key goes to the secret storage.
Screenshots land in artifacts/editors/<test>/."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    CHROMIUM,
    CODE_SERVER,
    FIXED_LINE,
    NODE24,
    PLAYWRIGHT,
    VSIX,
    Processes,
    require,
    server_command,
    wait_for,
)

pytestmark = pytest.mark.editors

DRIVER = Path(__file__).parent / "vscode" / "drive.cjs"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def user_settings(engine_json: Path) -> dict[str, object]:
    return {
        "kimi.server.command": server_command(engine_json),
        "kimi.debounceMs": 0,
        "chat.disableAIFeatures": True,  # 1.139 ships a built-in Copilot
        "workbench.startupEditor": "none",
        "workbench.secondarySideBar.defaultVisibility": "hidden",
        "workbench.tips.enabled": False,
        "security.workspace.trust.enabled": False,
        "telemetry.telemetryLevel": "off",
        "update.mode": "none",
        "extensions.autoCheckUpdates": False,
        "extensions.autoUpdate": False,
        "extensions.ignoreRecommendations": True,
        "git.enabled": False,
        "editor.inlineSuggest.enabled": True,
        # The completion widget is opened explicitly (Ctrl+Space) so that it never hides the ghost text.
        "editor.quickSuggestions": {"other": "off", "comments": "off", "strings": "off"},
        "editor.suggestOnTriggerCharacters": False,
    }


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def run_driver(
    tmp_path: Path,
    workspace: Path,
    settings_json: dict[str, object],
    artifacts: Path,
    processes: Processes,
    scenario: str = "all",
) -> tuple[Path, str]:
    """Install the .vsix into a fresh code-server, start it on `workspace` with `settings_json` as the user's
    and the machine's settings, run drive.cjs's `scenario` in chromium; (the user data folder, its output)."""
    require(NODE24, CODE_SERVER, PLAYWRIGHT / "playwright-core", VSIX, CHROMIUM)
    home, data, extensions = tmp_path / "home", tmp_path / "data", tmp_path / "extensions"
    for folder in (home, data / "User", data / "Machine", extensions):
        folder.mkdir(parents=True)
    settings = json.dumps(settings_json, indent=2)
    # User settings, and the same in the remote machine's settings (where VS Code reads machine-scoped ones).
    (data / "User" / "settings.json").write_text(settings)
    (data / "Machine" / "settings.json").write_text(settings)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
    }
    base = [str(NODE24), str(CODE_SERVER), "--user-data-dir", str(data), "--extensions-dir", str(extensions)]
    subprocess.run(
        [*base, "--install-extension", str(VSIX)],
        env=env,
        check=True,
        timeout=120,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (artifacts / "code-server.log").open("wb")
    processes.start(
        [
            *base,
            "--auth",
            "none",
            "--bind-addr",
            f"127.0.0.1:{port}",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            "--disable-getting-started-override",
            "--ignore-last-opened",
            str(workspace),
        ],
        env=env,
        cwd=workspace,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    wait_for(lambda: healthy(url), 60, "code-server to listen")

    driver = processes.start(
        [str(NODE24), str(DRIVER), url, str(workspace), str(artifacts), scenario],
        env={**env, "NODE_PATH": str(PLAYWRIGHT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = driver.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        pytest.fail("the VS Code driver did not finish")
    text = out.decode()
    (artifacts / "driver.log").write_text(text + err.decode())
    assert driver.returncode == 0, text + err.decode()[-4000:]
    return data, text


def steps_of(text: str) -> dict[str, object]:
    return {
        line.split(" ", 2)[1]: json.loads(line.split(" ", 2)[2]) for line in text.splitlines() if line.startswith("OK ")
    }


def test_vscode_extension(
    tmp_path: Path, workspace: Path, engine_json: Path, artifacts: Path, processes: Processes
) -> None:
    data, text = run_driver(tmp_path, workspace, user_settings(engine_json), artifacts, processes)
    steps: dict[str, Any] = steps_of(text)
    assert "kimi-lsp" in steps["diagnostic"]
    assert FIXED_LINE in steps["quickfix"]
    assert steps["inline"]["ghost"] == "(1, 2)"
    assert "café = add(1, 2)" in steps["inline"]["lines"]
    assert any(label.startswith("greet") for label in steps["completion"])
    assert {"add", "greet", "broken"} <= {label.split()[0] for label in steps["document-symbols"] if label}
    assert any("generated_endpoint" in label and "api.py" in label for label in steps["workspace-symbols"])
    assert steps["deleted-folder"] == []
    assert "Kimi" in steps["statusbar"]
    assert "Kimi: ready" in steps["statusbar-final"]  # fed by kimi/status
    assert "inline off" in steps["toggle-off"] and "inline off" not in steps["toggle-on"]
    assert "reindex" in steps and "starting" in steps["log"]
    assert "Kimi: ready" in steps["restart"]
    assert steps["notifications"] == []
    assert steps["cycle"] == ["(2, 3)", "(3, 2)"]  # Alt+] showed the server's second suggestion
    assert [entry.split(" ", 1)[0] for entry in steps["menu"][:3]] == ["Disable"] * 3
    assert {"Show log", "Restart server", "Set engine API key", "Open settings"} <= set(steps["menu"])
    assert "inline off" in steps["menu-language-off"] and "inline off" not in steps["menu-language-on"]
    user = json.loads((data / "User" / "settings.json").read_text())
    assert user["[python]"] == {"kimi.enable": True}  # the language's own value, set and reset by the menu
    saved = "".join(path.read_text(errors="replace") for path in (data / "User").glob("*.json"))
    assert "api-key" in steps and "sk-kimi-test-secret" not in saved  # in the secret storage, not the settings


def test_vscode_first_run_without_a_server(
    tmp_path: Path, workspace: Path, engine_json: Path, artifacts: Path, processes: Processes
) -> None:
    """A server command that does not exist: one message saying so, with the install command."""
    settings = {**user_settings(engine_json), "kimi.server.command": [str(tmp_path / "no-such-kimi-lsp")]}
    _, text = run_driver(tmp_path, workspace, settings, artifacts, processes, "missing-server")
    messages: list[str] = steps_of(text)["missing-server"]  # type: ignore[assignment]
    (message,) = [message for message in messages if "was not found" in message]
    assert str(tmp_path / "no-such-kimi-lsp") in message
    assert "pipx install git+https://github.com/kimi-lsp/kimi-lsp" in message
