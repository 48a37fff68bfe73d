"""A wheel that works: `pip install` of the built wheel (not the editable install) gives `kimi-lsp`, with the tiny
model as package data, and its embedded engine starts and serves an LSP session.

The wheel is built from a copy of the sources with this environment's setuptools (`--no-build-isolation`), and
installed with `--no-deps` into a fresh venv whose only other path is this environment's site-packages (one
line in a .pth file): the dependencies are the same pinned versions `make venv` / `make engine` installed, so
the test runs offline and in seconds. A plain path line in a .pth runs none of that folder's own .pth files, so the
editable install's finder stays off and `kimi_lsp` and `kimi_engine` come from the wheel alone, which the test
checks. The engine's environment (.venv-engine) is found where an installed server looks for it, the user data
folder's engine-venv (`$XDG_DATA_HOME/kimi-lsp/engine-venv`, here a link to it).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import psutil
import pytest
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["kimi_lsp", "engine", "pyproject.toml", "setup.py", "README.md", "LICENSE"]


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the built wheel installed; returns its bin/ folder."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info", "build")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    wheels = base / "dist"
    pip = [sys.executable, "-m", "pip"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(src)], cwd=base)
    (wheel,) = wheels.glob("kimi_lsp-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=base).strip())
    (site / "zz-kimi-lsp-test-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)], cwd=base)
    return venv / "bin"


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def test_the_installed_wheel_has_the_server_the_model_and_a_license(wheel_venv: Path, tmp_path: Path) -> None:
    version = _run([str(wheel_venv / "kimi-lsp"), "--version"], cwd=tmp_path, env=_clean_env())
    assert version.strip() == "kimi-lsp 0.1.0"
    probe = (
        "import json, importlib.metadata as md, kimi_lsp, kimi_engine.launch as launch; print(json.dumps({"
        "'server': kimi_lsp.__file__, 'engine': launch.__file__, 'model': str(launch.TINY_MODEL_DIR),"
        "'files': sorted(p.name for p in launch.TINY_MODEL_DIR.iterdir()),"
        "'license': md.metadata('kimi-lsp')['License-Expression'],"
        "'license_file': any(str(f).endswith('LICENSE') for f in md.files('kimi-lsp'))}))"
    )
    found = json.loads(_run([str(wheel_venv / "python"), "-c", probe], cwd=tmp_path, env=_clean_env()))
    venv = wheel_venv.parent
    for key in ("server", "engine", "model"):
        assert Path(found[key]).is_relative_to(venv), f"{key} comes from {found[key]}, not the wheel's venv"
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= set(found["files"])
    assert found["license"] == "MIT" and found["license_file"]


class Client(LanguageClient):
    def __init__(self) -> None:
        super().__init__("wheel-test", "0")


async def test_the_installed_wheel_serves_with_its_embedded_engine(
    wheel_venv: Path, tmp_path: Path, engine_python: str
) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("XDG_DATA_HOME names the data folder on Linux")
    data = tmp_path / "data" / "kimi-lsp"
    data.mkdir(parents=True)
    (data / "engine-venv").symlink_to(Path(engine_python).parent.parent, target_is_directory=True)
    client = Client()
    env = {**_clean_env(), "XDG_DATA_HOME": str(tmp_path / "data")}
    await client.start_io(str(wheel_venv / "kimi-lsp"), "--engine", "embedded", cwd=str(tmp_path), env=env)
    server = psutil.Process(client._server.pid)  # type: ignore[union-attr]
    try:
        await client.initialize_async(
            lsp.InitializeParams(
                capabilities=lsp.ClientCapabilities(),
                # a first request on a busy machine can outlast the default deadline; this is not its test
                initialization_options={"debounceMs": 0, "engine": {"deadlineMs": 300_000}},
            )
        )
        client.initialized(lsp.InitializedParams())
        status: dict[str, Any] = {}
        for _ in range(1200):
            status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
            assert status["engine"] in ("starting", "ready"), status
            if status["engine"] == "ready":
                break
            await asyncio.sleep(0.5)
        assert status["engine"] == "ready", status
        assert "embedded cpu-tiny" in status["message"]
        # the engine runs in the data folder's engine-venv, on the wheel's copy of the model
        model = str(wheel_venv.parent / "lib")
        engine = [" ".join(p.cmdline()) for p in server.children(recursive=True)]
        assert any(f"{data / 'engine-venv'}/" in line and "sglang" in line for line in engine), engine
        assert any(f"--model-path {model}" in line and "kimi-tiny" in line for line in engine), engine
        uri = (tmp_path / "a.py").as_uri()
        text = "def add(a, b):\n    "
        client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text))
        )
        await client.text_document_inline_completion_async(
            lsp.InlineCompletionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                position=lsp.Position(line=1, character=4),
                context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
            )
        )
        served = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
        assert served["engine"] == "ready" and served["latencyMs"] is not None, served
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
