"""Emacs 30 + eglot (built in) with editors/emacs/kimi-lsp.el (docs/editors.md), in batch mode
(emacs/kimi-eglot-test.el): diagnostics via flymake, the quick fix, completion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import FIXED_LINE, REPO, Processes, require, server_command

pytestmark = pytest.mark.editors

SCRIPT = Path(__file__).parent / "emacs" / "kimi-eglot-test.el"


def test_emacs_eglot(tmp_path: Path, workspace: Path, engine_json: Path, processes: Processes) -> None:
    emacs = shutil.which("emacs")
    require(Path(emacs or "emacs (Emacs 30, bookworm-backports emacs-nox)"))
    version = subprocess.run([emacs, "--version"], capture_output=True, text=True, timeout=30).stdout
    assert version.startswith("GNU Emacs 30."), version.splitlines()[0]
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "KIMI_TEST_SERVER": json.dumps(server_command(engine_json)),
        "KIMI_TEST_REPO": str(REPO),
    }
    proc = processes.start(
        [emacs, "--batch", "-Q", "-l", str(SCRIPT), str(workspace)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("emacs did not finish")
    text = out.decode()
    assert proc.returncode == 0, text + err.decode()[-3000:]
    steps = {
        line.split(" ", 2)[1]: json.loads(line.split(" ", 2)[2]) for line in text.splitlines() if line.startswith("OK ")
    }
    assert any("kimi-lsp" in s or "yntax" in s for s in steps["diagnostics"])
    assert FIXED_LINE in steps["codeAction"]
    assert "greet" in steps["completion"]
    assert steps["globals"] == "unchanged"  # loading the configuration left eglot's global settings alone
