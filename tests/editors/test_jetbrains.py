"""The JetBrains template (editors/jetbrains/kimi-lsp) through Eclipse LSP4J 0.24, the library under
JetBrains' LSP4IJ plugin: a small Java client (lsp4j/KimiLsp4jClient.java) starts the server with the
template's initializationOptions and settings, and drives the features."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import FIXED_LINE, LSP4J, REPO, Processes, require, server_command

pytestmark = pytest.mark.editors

TEMPLATE = REPO / "editors" / "jetbrains" / "kimi-lsp"
CLIENT = Path(__file__).parent / "lsp4j" / "KimiLsp4jClient.java"


def test_template_is_consistent() -> None:
    template = json.loads((TEMPLATE / "template.json").read_text())
    init = json.loads((TEMPLATE / "initializationOptions.json").read_text())
    settings = json.loads((TEMPLATE / "settings.json").read_text())
    assert template["programArgs"]["default"].startswith("kimi-lsp")
    assert {"python", "java", "typescript", "go", "rust"} <= {m["languageId"] for m in template["fileTypeMappings"]}
    assert settings["kimi"] == init
    assert set(init) == {"engine", "model", "debounceMs", "features", "exclude"}


def test_lsp4j_client(tmp_path: Path, workspace: Path, engine_json: Path, processes: Processes) -> None:
    javac, java = shutil.which("javac"), shutil.which("java")
    require(Path(javac or "javac (JDK 17)"), Path(java or "java"), LSP4J / ".installed")
    classpath = ":".join(str(p) for p in sorted(LSP4J.glob("*.jar")))
    classes = tmp_path / "classes"
    subprocess.run(
        [javac, "-encoding", "UTF-8", "-d", str(classes), "-cp", classpath, str(CLIENT)], check=True, timeout=120
    )
    proc = processes.start(
        [
            java,
            "-cp",
            f"{classes}:{classpath}",
            "KimiLsp4jClient",
            str(workspace),
            str(TEMPLATE),
            *server_command(engine_json),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("the LSP4J client did not finish")
    steps = dict(line.split(" ", 2)[1:] for line in out.decode().splitlines() if line.startswith("OK "))
    assert proc.returncode == 0, out.decode() + err.decode()[-3000:]
    assert FIXED_LINE in json.loads(steps["codeAction"])
    assert json.loads(steps["inlineCompletion"]) == "(1, 2)"
    assert {"add", "greet"} <= set(json.loads(steps["completion"]))
    assert "diagnostics" in steps and "status" in steps
