"""The JetBrains template (editors/jetbrains/kimi-lsp) through Eclipse LSP4J 0.24, the library under
JetBrains' LSP4IJ plugin: a small Java client (lsp4j/KimiLsp4jClient.java) starts the server with the
template's initializationOptions and settings, and drives the features."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kimi_lsp.settings import Settings, camel, parse_settings

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
    assert {"installer.json", "settings.schema.json"} <= {path.name for path in TEMPLATE.iterdir()}


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


def _leaves(schema: dict[str, Any], path: str = "") -> dict[str, dict[str, Any]]:
    if schema.get("type") == "object":
        return {k: v for key, sub in schema["properties"].items() for k, v in _leaves(sub, f"{path}{key}.").items()}
    return {path.rstrip("."): schema}


def _tree(dotted: str, value: object) -> dict[str, Any]:
    head, _, rest = dotted.partition(".")
    return {head: _tree(rest, value) if rest else value}


def test_settings_schema_follows_the_server_settings() -> None:
    """settings.schema.json (LSP4IJ validates settings.json with it) names every setting the server reads, with
    its default and range: the range's ends parse, one step past them is reported invalid."""
    schema = json.loads((TEMPLATE / "settings.schema.json").read_text())["properties"]["kimi"]
    leaves = _leaves(schema)
    defaults = effective_settings(Settings())
    assert set(leaves) == set(defaults)
    for dotted, leaf in leaves.items():
        assert leaf["default"] == defaults[dotted], dotted
        if "minimum" in leaf:
            step = 1 if leaf["type"] == "integer" else 0.01
            for value in (leaf["minimum"], leaf["maximum"]):
                assert parse_settings(_tree(dotted, value)).invalid == (), (dotted, value)
            for value in (leaf["minimum"] - step, leaf["maximum"] + step):
                assert parse_settings(_tree(dotted, value)).invalid == (dotted,), (dotted, value)
        for value in leaf.get("enum", []):
            assert parse_settings(_tree(dotted, value)).invalid == ()
    settings = json.loads((TEMPLATE / "settings.json").read_text())["kimi"]
    assert set(_leaves({"type": "object", "properties": {k: _as_schema(v) for k, v in settings.items()}})) <= set(
        leaves
    )


def _as_schema(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return {"type": "object", "properties": {k: _as_schema(v) for k, v in value.items()}}
    return {}


def effective_settings(settings: object, path: str = "") -> dict[str, object]:
    """The settings tree's leaves by dotted camelCase name, tuples as lists (as JSON has them)."""
    out: dict[str, object] = {}
    for field in dataclasses.fields(settings):  # type: ignore[arg-type]
        value = getattr(settings, field.name)
        name = f"{path}{camel(field.name)}"
        if dataclasses.is_dataclass(value):
            out.update(effective_settings(value, f"{name}."))
        else:
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def test_installer_checks_then_installs_and_configures_the_command() -> None:
    installer = json.loads((TEMPLATE / "installer.json").read_text())
    assert installer["id"] == json.loads((TEMPLATE / "template.json").read_text())["id"]
    assert "kimi-lsp" in installer["check"]["exec"]["command"]["default"]
    run = installer["run"]["exec"]
    assert run["command"].startswith("pipx install ")
    configured = run["onSuccess"]["configureServer"]
    assert configured["update"] is True
    assert (
        configured["command"]["default"]
        == json.loads((TEMPLATE / "template.json").read_text())["programArgs"]["default"]
    )
