"""Where the embedded engine's interpreter comes from (kimi_lsp/model/embedded.py): the engine.python setting,
else the engine's own environments, else the server's interpreter; one that lacks SGLang is named."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kimi_lsp.model import embedded


def _fake_python(path: Path, has_sglang: bool) -> str:
    """A stand-in interpreter: it answers the SGLang probe (exit 0: found) and nothing else."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\nexit {0 if has_sglang else 1}\n")
    path.chmod(0o755)
    return str(path)


pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="shell-script stand-ins")


def test_a_configured_interpreter_is_used_when_it_has_sglang(tmp_path: Path) -> None:
    python = _fake_python(tmp_path / "bin" / "python", has_sglang=True)
    assert embedded.engine_python(python) == python
    assert embedded.unavailable_reason(python) is None


def test_a_configured_interpreter_without_sglang_is_named_and_nothing_else_is_tried(tmp_path: Path) -> None:
    python = _fake_python(tmp_path / "bin" / "python", has_sglang=False)
    assert embedded.engine_python(python) is None
    assert python in str(embedded.unavailable_reason(python))
    missing = str(tmp_path / "nowhere" / "python")
    assert embedded.engine_python(missing) is None


def test_the_engine_venvs_come_first_then_this_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "checkout" / ".venv-engine", tmp_path / "data" / "engine-venv"
    monkeypatch.setattr(embedded, "engine_venvs", lambda: [first, second])
    _fake_python(embedded.venv_python(second), has_sglang=True)
    assert embedded.engine_python() == str(embedded.venv_python(second))
    _fake_python(embedded.venv_python(first), has_sglang=True)
    assert embedded.engine_python() == str(embedded.venv_python(first))
    _fake_python(embedded.venv_python(first), has_sglang=False)
    _fake_python(embedded.venv_python(second), has_sglang=False)
    expected = sys.executable if embedded.importlib.util.find_spec("sglang") else None
    assert embedded.engine_python() == expected


def test_a_source_checkout_looks_beside_it_and_everyone_in_the_data_folder() -> None:
    venvs = embedded.engine_venvs()
    assert venvs[-1] == embedded.data_dir() / "engine-venv"
    root = Path(__file__).resolve().parents[2]
    assert venvs[0] == root / ".venv-engine"  # the editable install maps kimi_engine onto engine/
